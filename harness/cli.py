"""The ``govdrill`` command: run and validate drills, with the exit codes of the contract.

Exit codes: 0 passed (or failed exactly as expected), 1 a deadline missed or unverified,
2 bad input, 3 the harness itself failed, 130/143 interrupted by SIGINT/SIGTERM.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import signal
import sys
import threading
import traceback
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

import structlog

from harness import __version__
from harness.errors import (
    EXIT_BAD_INPUT,
    EXIT_HARNESS,
    EXIT_OK,
    GovdrillError,
    Interrupted,
    SpecError,
)

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="govdrill",
        description="Governability drills: stop a real model service and measure how long"
        " harm went on.",
    )
    parser.add_argument("--version", action="version", version=f"govdrill {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run drills and write their evidence")
    run.add_argument("drills", nargs="+", type=Path, metavar="DRILL")
    run.add_argument("--sandbox", choices=["process", "docker", "compose", "external"])
    run.add_argument("--results", type=Path, default=Path("results"), metavar="DIR")
    run.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a drill field, e.g. --set load.users=50 (repeatable)",
    )
    run.add_argument("--targets", action="append", type=Path, default=[], metavar="DIR")
    run.add_argument("-q", "--quiet", action="store_true", help="no live view")

    validate = sub.add_parser("validate", help="check drill files without running anything")
    validate.add_argument("drills", nargs="+", type=Path, metavar="DRILL")
    validate.add_argument("--set", dest="overrides", action="append", default=[])
    validate.add_argument("--targets", action="append", type=Path, default=[], metavar="DIR")
    return parser


def _configure_logging() -> None:
    """The one place logging is configured: the harness's own diagnostics go to stderr."""
    logging.basicConfig(level=logging.WARNING, format="%(message)s", stream=sys.stderr)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.dev.ConsoleRenderer(colors=False),
        ],
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=True,
    )


@contextlib.contextmanager
def _halt_on_signals() -> Iterator[threading.Event]:
    """SIGINT/SIGTERM set an event the engine checks; it then tears down and keeps evidence."""
    halt = threading.Event()

    def handler(signum: int, _frame: FrameType | None) -> None:
        halt.signum = signum  # type: ignore[attr-defined]
        halt.set()

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield halt
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def _validate(args: argparse.Namespace, out: TextIO) -> int:
    from harness.spec import load_drill

    worst = EXIT_OK
    for path in args.drills:
        try:
            drill = load_drill(path, overrides=args.overrides, targets_dirs=args.targets)
        except SpecError as exc:
            print(exc, file=sys.stderr)
            worst = EXIT_BAD_INPUT
            continue
        print(
            f"{path}: ok ({drill.drill}: {len(drill.steps)} steps, target"
            f" {drill.target.target}, sandbox {drill.resolved_sandbox})",
            file=out,
        )
    return worst


def _fmt(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def _report(result: Any, out: TextIO) -> None:
    summary = result.summary
    print(
        f"\n{summary['drill']}: {summary['verdict'].upper()}  (run {summary['run_id']})", file=out
    )
    for name, d in summary.get("deadlines", {}).items():
        unit = "" if d.get("unit") == "count" else "s"
        print(
            f"  {d['verdict']:<10} {name:<20} measured {_fmt(d['measured_s'])}{unit}"
            f" [{_fmt(d['lower_s'])}, {_fmt(d['upper_s'])}]  limit {_fmt(d['limit_s'])}{unit}",
            file=out,
        )
    if summary.get("rung_used"):
        print(f"  stopped by rung: {summary['rung_used']}", file=out)
    if summary.get("resurrected"):
        print("  RESURRECTED: the service served again after it had stopped", file=out)
    if summary.get("stop_theater"):
        print("  STOP THEATER: harmful answers after the stop was acknowledged", file=out)
    truth = summary.get("ground_truth")
    if truth:
        print(
            f"  target's own log: stop within observed bounds: {truth.get('stop_within_bounds')},"
            f" trustworthy: {truth.get('log_trustworthy')}",
            file=out,
        )
    if result.expectation is not None:
        if result.expectation.met:
            print(f"  {summary['verdict']} exactly as its expect: block says", file=out)
        else:
            for line in result.expectation.mismatches:
                print(f"  UNEXPECTED: {line}", file=out)
    if result.message:
        print(f"  error: {result.message}", file=out)
    print(f"  evidence: {result.run_dir}", file=out)


def _run(args: argparse.Namespace, out: TextIO) -> int:
    from harness.spec import load_drill

    overrides = list(args.overrides)
    if args.sandbox:
        overrides.append(f"sandbox={args.sandbox}")
    drills = []
    problems: list[SpecError] = []
    for path in args.drills:
        try:
            drills.append(load_drill(path, overrides=overrides, targets_dirs=args.targets))
        except SpecError as exc:
            problems.append(exc)
    if problems:
        for problem in problems:
            print(problem, file=sys.stderr)
        return EXIT_BAD_INPUT
    # Heavy imports only once the input is known to be good.
    from harness.engine import run_drill
    from harness.live import RichView, choose_view

    worst = EXIT_OK
    with _halt_on_signals() as halt:
        for drill in drills:
            view = choose_view(drill.drill, quiet=args.quiet)
            with view if isinstance(view, RichView) else contextlib.nullcontext():
                result = run_drill(drill, results=args.results, view=view, halt=halt)
            _report(result, out)
            if result.summary["verdict"] == "interrupted":
                return 128 + int(result.summary.get("interrupted_by_signal", signal.SIGINT))
            if result.summary["verdict"] == "error":
                worst = max(worst, EXIT_HARNESS)
            else:
                worst = max(worst, result.exit_code)
    return worst


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``govdrill`` console script."""
    args = _parser().parse_args(argv)
    _configure_logging()
    out = sys.stdout
    try:
        if args.command == "validate":
            return _validate(args, out)
        return _run(args, out)
    except SpecError as exc:
        print(exc, file=sys.stderr)
        return EXIT_BAD_INPUT
    except Interrupted as exc:
        return exc.exit_code
    except GovdrillError as exc:
        print(f"govdrill: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except Exception:  # a bug or an unforeseen OS failure: the harness itself failed
        print("govdrill: the harness itself failed (exit 3); please report this:", file=sys.stderr)
        traceback.print_exc(file=sys.stderr)
        return EXIT_HARNESS


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
