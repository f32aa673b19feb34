"""The ``govdrill`` command: run and validate drills, report, verify and trend their evidence.

Exit codes: 0 passed (or failed exactly as expected), 1 a deadline missed or unverified,
2 bad input, 3 the harness itself failed (with ``--tsa``: also when the TSA gave no token; the
run is sealed and kept without it), 130/143 interrupted by SIGINT/SIGTERM. ``verify``: 0
intact, 1 tampered (or a timestamp or key that does not hold), 2 bad input, 4 not sealed (an
interrupted run, or one still running).
``pack``: 0 every run of the period included, 1 written with runs excluded (listed), 2 bad
input, 3 the pack could not be written, printed or timestamped (nothing left behind).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import sys
import traceback
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, TextIO

import structlog

from harness import __version__
from harness.errors import (
    EXIT_BAD_INPUT,
    EXIT_FAILED,
    EXIT_HARNESS,
    EXIT_OK,
    EXIT_UNSEALED,
    GovdrillError,
    Interrupted,
    SpecError,
)
from harness.halt import Halt
from harness.platform_check import platform_problem
from harness.sandbox_kind import SandboxKind

if TYPE_CHECKING:
    from harness.engine import RunResult
    from harness.integrity import VerifyReport
    from harness.load.warm import LoadPool
    from harness.run_summary import MeasuredMetrics

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
    run.add_argument("--sandbox", choices=list(SandboxKind))
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
    run.add_argument(
        "--load-workers",
        type=_positive_int,
        metavar="N",
        help="run the load on Locust's master/worker mode with N workers (load.workers)",
    )
    run.add_argument("-q", "--quiet", action="store_true", help="no live view")
    run.add_argument(
        "--sign-key",
        metavar="PATH",
        help="sign each run's attestation with this Ed25519 key (default: $GOVDRILL_SIGNING_KEY)",
    )
    run.add_argument(
        "--tsa",
        metavar="URL",
        help="timestamp each run's attestation at this RFC 3161 TSA (attestation.tsr)",
    )
    run.add_argument(
        "--authorized-by",
        metavar="NAME",
        help="who ordered or approved the drill, signed into the run"
        " (default: $GOVDRILL_AUTHORIZED_BY)",
    )
    run.add_argument("--junit", type=Path, metavar="PATH", help="also write JUnit XML here")
    run.add_argument(
        "--prometheus-textfile",
        type=Path,
        metavar="PATH",
        help="write the results for node-exporter's textfile collector (a .prom file)",
    )
    run.add_argument("--pushgateway", metavar="URL", help="push the results to a Pushgateway")
    run.add_argument(
        "--report-template",
        type=Path,
        metavar="DIR",
        help="report templates that replace the installed ones by name (docs/report-templates.md)",
    )

    report = sub.add_parser("report", help="regenerate a run's report.html from its files")
    report.add_argument("run_dir", type=Path, metavar="RUN_DIR")
    report.add_argument("--out", type=Path, metavar="PATH", help="default: RUN_DIR/report.html")
    report.add_argument(
        "--report-template",
        type=Path,
        metavar="DIR",
        help="report templates that replace the installed ones by name (docs/report-templates.md)",
    )

    verify = sub.add_parser("verify", help="check a run against its manifest and signature")
    verify.add_argument("run_dir", type=Path, metavar="RUN_DIR")
    verify.add_argument("--key", type=Path, metavar="PUB", help="the public key you trust")
    verify.add_argument(
        "--trust",
        type=Path,
        metavar="FILE",
        help="a trust file: public keys with not_before/not_after (instead of --key)",
    )
    verify.add_argument(
        "--tsa-cert",
        type=Path,
        metavar="CERT",
        help="check the run's timestamp token against this TSA CA certificate (PEM)",
    )

    sweep = sub.add_parser(
        "sweep", help="seal runs a dead harness left unsealed (.partial) as interrupted"
    )
    sweep.add_argument("results", type=Path, nargs="?", default=Path("results"), metavar="RESULTS")
    sweep.add_argument("--sign-key", metavar="PATH", help="sign what it seals with this key")
    sweep.add_argument("--tsa", metavar="URL", help="timestamp what it seals at this RFC 3161 TSA")

    history = sub.add_parser("history", help="time_to_stop and friends across runs")
    history.add_argument("results", type=Path, metavar="RESULTS_DIR")
    history.add_argument("--drill", metavar="NAME", help="only this drill")
    history.add_argument(
        "--budget",
        action="append",
        default=[],
        metavar="METRIC=DURATION",
        help="flag a regression when the recent p95 upper bound exceeds it (repeatable)",
    )
    history.add_argument("--window", type=int, default=5, metavar="N", help="recent runs (5)")
    history.add_argument(
        "--tolerance", type=float, default=0.25, help="allowed slowdown vs the best window"
    )
    history.add_argument(
        "--min-delta", type=float, default=0.05, metavar="SECONDS", help="ignore smaller drifts"
    )
    history.add_argument("--html", type=Path, metavar="PATH", help="also write a chart page")

    _add_pack_parser(sub)

    keygen = sub.add_parser("keygen", help="make an Ed25519 key pair for signing runs")
    keygen.add_argument("out", type=Path, metavar="OUT", help="private key; OUT.pub is public")

    halt = sub.add_parser(
        "halt", help="the halt button: stop running drills as Ctrl-C would, keeping evidence"
    )
    halt.add_argument(
        "run_ids", nargs="*", metavar="RUN_ID", help="default: the one running drill, if only one"
    )
    halt.add_argument("--all", action="store_true", help="halt every drill you are running")
    halt.add_argument("--reason", default="halted by an operator", help="kept in the evidence")
    halt.add_argument("--list", action="store_true", help="only list running drills")

    from harness.init.arguments import add_init_parser

    add_init_parser(sub)

    schema = sub.add_parser(
        "schema", help="print the JSON Schema of drill or target files, or of summary.json"
    )
    schema.add_argument("kind", choices=["drill", "target", "summary"])

    validate = sub.add_parser("validate", help="check drill files without running anything")
    validate.add_argument("drills", nargs="+", type=Path, metavar="DRILL")
    validate.add_argument("--set", dest="overrides", action="append", default=[])
    validate.add_argument("--targets", action="append", type=Path, default=[], metavar="DIR")
    return parser


def _add_pack_parser(sub: Any) -> None:
    pack = sub.add_parser(
        "pack", help="a period of runs, verified, as one signed body of evidence (HTML + PDF)"
    )
    pack.add_argument("results", type=Path, metavar="RESULTS")
    pack.add_argument("--since", required=True, metavar="DATE", help="first day (UTC), or instant")
    pack.add_argument("--until", required=True, metavar="DATE", help="last day (UTC), or instant")
    pack.add_argument("--out", required=True, type=Path, metavar="DIR", help="a new folder")
    pack.add_argument("--tsa", metavar="URL", help="timestamp the pack manifest (RFC 3161)")
    pack.add_argument("--tsa-cert", type=Path, metavar="CERT", help="check runs' timestamps")
    pack.add_argument("--trust", type=Path, metavar="FILE", help="keys trusted, with validity")
    pack.add_argument(
        "--sign-key", metavar="PATH", help="sign the pack (default: $GOVDRILL_SIGNING_KEY)"
    )
    pack.add_argument("--no-pdf", action="store_true", help="write no PDF (no Chromium needed)")


def _positive_int(text: str) -> int:
    """An argparse type: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not at least 1")
    return value


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
def _halt_on_signals() -> Iterator[Halt]:
    """SIGINT/SIGTERM press a halt the engine checks; it then tears down and keeps evidence."""
    halt = Halt()

    def handler(signum: int, _frame: FrameType | None) -> None:
        halt.set(signum)

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield halt
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def _halt_signal(halt: Halt) -> int:
    """The signal that set ``halt`` (SIGINT when it was set some other way)."""
    return halt.interrupted().signum


def _halt(args: argparse.Namespace, out: TextIO) -> int:
    from harness import runs

    found = runs.running()

    def describe(drill: runs.RunningDrill) -> str:
        return f"{drill.run_id}  {drill.drill}  pid {drill.pid}  since {drill.started}"

    if args.run_ids:
        wanted = set(args.run_ids)
        for run_id in sorted(wanted - {r.run_id for r in found}):
            print(f"govdrill: no running drill with run id {run_id}", file=sys.stderr)
        found = [r for r in found if r.run_id in wanted]
    if not found:
        print("no drills running", file=out)
        return EXIT_OK if args.list else EXIT_FAILED
    if args.list:
        for drill in found:
            print(describe(drill), file=out)
        return EXIT_OK
    if len(found) > 1 and not (args.run_ids or args.all):
        # A shared account may run unrelated drills: halting all of them takes --all.
        for drill in found:
            print(describe(drill), file=out)
        print(
            f"govdrill halt: {len(found)} drills are running; name the run id(s) to halt,"
            " or pass --all",
            file=sys.stderr,
        )
        return EXIT_BAD_INPUT
    status = EXIT_OK
    for drill in found:
        outcome = runs.halt(drill, args.reason)
        if outcome is runs.HaltOutcome.HALTED:
            print(f"halting {describe(drill)}", file=out)
        elif outcome is runs.HaltOutcome.GONE:
            print(f"{describe(drill)}: already gone", file=out)
        else:
            print(
                f"govdrill halt: pid {drill.pid} is not provably the harness of run"
                f" {drill.run_id}; nothing was sent",
                file=sys.stderr,
            )
            status = EXIT_FAILED
    return status


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
        _print_commands(drill, out)
        if drill.deadlines.rollback is not None and not drill.target.version_source.declared:
            print(
                f"{path}: warning: deadlines.rollback: target {drill.target.target} declares"
                " no version source (version), so no answer can show which version"
                " answered; the rollback can only end unverified, or missed on harm",
                file=sys.stderr,
            )
    return worst


def _print_commands(drill: Any, out: TextIO) -> None:
    """Every command the drill may run, so a reviewer sees them before anything runs."""
    from harness.control import planned_commands

    planned = planned_commands(drill)
    for command in planned:
        print(f"  may run: {command}", file=out)
    if any(c.what != "start" for c in planned):
        print(
            "  note: command control paths run on this machine with the harness's rights and"
            " can reach any host; allow_remote does not limit them",
            file=out,
        )


def _fmt(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def _stream_line(metrics: MeasuredMetrics, out: TextIO) -> None:
    """One line on the streams in flight at the stop, when the drill read streams."""
    flying = metrics.streams_in_flight_at_stop
    cut, harmful = metrics.stream_cut_time, metrics.harmful_chunks_after_stop
    if flying is None or cut is None or harmful is None:
        return
    print(
        f"  streams in flight at the stop [{_fmt(flying.lower)}, {_fmt(flying.upper)}];"
        f" chunks for [{_fmt(cut.lower)}, {_fmt(cut.upper)}]s after it;"
        f" harmful chunks after it [{_fmt(harmful.lower)}, {_fmt(harmful.upper)}]",
        file=out,
    )


def _report(result: RunResult, out: TextIO) -> None:
    summary = result.summary
    print(f"\n{summary.drill}: {summary.verdict.value.upper()}  (run {summary.run_id})", file=out)
    for failed in summary.incident_not_injected:
        print(
            f"  INCIDENT NOT INJECTED: step {failed.step} (inject {failed.incident})"
            f" {failed.outcome}: {failed.detail}",
            file=out,
        )
    for name, d in summary.deadlines.items():
        unit = "" if d.unit == "count" else "s"
        print(
            f"  {d.verdict.value:<10} {name:<20} measured {_fmt(d.measured_s)}{unit}"
            f" [{_fmt(d.lower_s)}, {_fmt(d.upper_s)}]  limit {_fmt(d.limit_s)}{unit}",
            file=out,
        )
    from harness.report import human_clock_lines

    for line in human_clock_lines(summary):  # a person's part of the clock, when it had one
        print(f"  {line}", file=out)
    _stream_line(summary.metrics, out)
    if summary.rung_used:
        print(f"  stopped by rung: {summary.rung_used}", file=out)
    if summary.resurrected:
        print("  RESURRECTED: the service served again after it had stopped", file=out)
    if summary.stop_theater:
        print("  STOP THEATER: harmful answers after the stop was acknowledged", file=out)
    if summary.harm_returned:
        print("  HARM RETURNED: harmful answers after serving was brought back", file=out)
    truth = summary.ground_truth
    if truth is not None:
        for what, claimed, inside, error in (
            ("stop", truth.stop_claimed_ns, truth.stop_within_bounds, truth.stop_error_s),
            (
                "rollback",
                truth.rollback_claimed_ns,
                truth.rollback_within_bounds,
                truth.rollback_error_s,
            ),
        ):
            if claimed is None:
                continue
            print(
                f"  target's own log: {what} claimed {'inside' if inside else 'OUTSIDE'} the"
                " observed bounds"
                + (f" (estimate off by {error * 1000:+.1f} ms)" if error is not None else ""),
                file=out,
            )
        if not truth.log_trustworthy:
            print(f"  TARGET LOG NOT TRUSTWORTHY: {'; '.join(truth.reasons)}", file=out)
    teardown = summary.teardown
    if teardown is not None:
        for left in teardown.left_changed:
            print(f"  LEFT CHANGED: {left}", file=out)
    if result.expectation is not None:
        if result.expectation.met:
            print(f"  {summary.verdict.value} exactly as its expect: block says", file=out)
        else:
            for mismatch in result.expectation.mismatches:
                print(f"  UNEXPECTED: {mismatch}", file=out)
    if result.message:
        print(f"  error: {result.message}", file=out)
    if result.timestamp_error:
        print(
            f"  TIMESTAMP MISSING: {result.timestamp_error}; the run is sealed without"
            " trusted time (exit 3)",
            file=out,
        )
    if timing := summary.timing_line():
        print(f"  {timing}", file=out)
    print(f"  evidence: {result.run_dir}", file=out)


def _run(args: argparse.Namespace, out: TextIO) -> int:
    from harness.load.warm import LoadPool

    # The first drill's load child imports Locust while this process loads the drills and
    # the engine, each later drill's during the drill before it; one waits at a time, and
    # whatever is left is killed on the way out (bad input included).
    with LoadPool(spares=len(args.drills)) as pool:
        pool.refill()
        return _run_drills(args, out, pool)


def _run_drills(args: argparse.Namespace, out: TextIO, pool: LoadPool) -> int:
    from harness.spec import load_drill

    overrides = list(args.overrides)
    if args.sandbox:
        overrides.append(f"sandbox={args.sandbox}")
    if args.load_workers is not None:
        overrides.append(f"load.workers={args.load_workers}")
    drills = []
    problems: list[SpecError] = []
    for path in args.drills:
        try:
            drills.append(load_drill(path, overrides=overrides, targets_dirs=args.targets))
        except SpecError as exc:
            problems.append(exc)
    if args.report_template is not None:  # checked before any drill runs: bad input writes nothing
        from harness.report import report_templates

        try:
            report_templates(args.report_template)
        except SpecError as exc:
            problems.append(exc)
    if problems:
        for problem in problems:
            print(problem, file=sys.stderr)
        return EXIT_BAD_INPUT
    # Heavy imports only once the input is known to be good.
    from harness.engine import run_drill
    from harness.integrity import check_tsa_url, choose_authorized_by, choose_signer
    from harness.live import RichView, choose_view
    from harness.spec.models import RunVerdict

    try:
        signer = choose_signer(args.sign_key)
        authorized_by = choose_authorized_by(args.authorized_by)
        tsa_url = None if args.tsa is None else check_tsa_url(args.tsa)
    except GovdrillError as exc:
        print(exc if isinstance(exc, SpecError) else f"govdrill: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    worst = EXIT_OK
    done: list[Path] = []
    try:
        with _halt_on_signals() as halt:
            for drill in drills:
                if halt.is_set():  # a signal between two drills: start no further one
                    return 128 + _halt_signal(halt)
                view = choose_view(drill.drill, quiet=args.quiet)
                with view if isinstance(view, RichView) else contextlib.nullcontext():
                    result = run_drill(
                        drill,
                        results=args.results,
                        view=view,
                        halt=halt,
                        signer=signer,
                        report_template=args.report_template,
                        authorized_by=authorized_by,
                        tsa_url=tsa_url,
                        load_pool=pool,
                    )
                done.append(result.run_dir)
                _report(result, out)
                if result.timestamp_error:
                    # The evidence is sealed and kept, but without the trusted time asked
                    # for: the harness could not do all of its job (as for unwritable evidence).
                    worst = max(worst, EXIT_HARNESS)
                if result.verdict is RunVerdict.INTERRUPTED or halt.is_set():
                    recorded = result.summary.interrupted_by_signal
                    # None: the signal came after the run had concluded; it still ends the batch.
                    signum = _halt_signal(halt) if recorded is None else recorded
                    return 128 + int(signum)
                if result.verdict is RunVerdict.ERROR:
                    worst = max(worst, EXIT_HARNESS)
                else:
                    worst = max(worst, result.exit_code)
    finally:
        if done:
            worst = max(worst, _export(args, done))
    return worst


def _export(args: argparse.Namespace, runs: list[Path]) -> int:
    """Write the JUnit and Prometheus outputs asked for. They come after the verdicts and
    outside the sealed runs, so a failure is a warning on stderr, never the exit code."""
    from harness.artefacts import attempt
    from harness.evidence import write_atomic
    from harness.export import RunRecord, junit_xml, push_to_gateway, write_textfile

    def junit() -> None:
        args.junit.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(args.junit, junit_xml([RunRecord.read(run) for run in runs]))

    wanted = [
        (args.junit, junit),
        (
            args.prometheus_textfile,
            lambda: write_textfile(args.prometheus_textfile, [RunRecord.read(r) for r in runs]),
        ),
        (
            args.pushgateway,
            lambda: push_to_gateway(args.pushgateway, [RunRecord.read(r) for r in runs]),
        ),
    ]
    for where, make in wanted:
        failure = attempt(str(where), make) if where else None
        if failure is not None:
            print(
                f"govdrill: warning: could not write {failure.artefact}: {failure.error}"
                " (the runs are sealed; the exit code is the drills')",
                file=sys.stderr,
            )
    return EXIT_OK


def _report_command(args: argparse.Namespace, out: TextIO) -> int:
    from harness.integrity import MANIFEST, verify_run
    from harness.report import REPORT, write_report

    run_dir: Path = args.run_dir
    if not (run_dir / "summary.json").is_file():
        print(f"govdrill: {run_dir} is not a run folder (no summary.json)", file=sys.stderr)
        return EXIT_BAD_INPUT
    path = write_report(run_dir, args.out, template_dir=args.report_template)
    print(f"report: {path}", file=out)
    if args.out is None and (run_dir / MANIFEST).is_file():
        changed = [f for f in verify_run(run_dir).findings if f.path == REPORT]
        if changed:
            print(
                f"note: {REPORT} now differs from the sealed one (another govdrill version?);"
                " `govdrill verify` will name it. Use --out to write elsewhere.",
                file=sys.stderr,
            )
    return EXIT_OK


def _verify_command(args: argparse.Namespace, out: TextIO) -> int:
    from harness.errors import EvidenceError
    from harness.integrity import load_trust, verify_run

    if args.key is not None and args.trust is not None:
        print("govdrill verify: give --key or --trust, not both", file=sys.stderr)
        return EXIT_BAD_INPUT
    from harness.pack import PACK_MANIFEST

    if (args.run_dir / PACK_MANIFEST).is_file():
        return _verify_pack_command(args, out)
    try:
        trust = None if args.trust is None else load_trust(args.trust)
        report = verify_run(args.run_dir, key=args.key, trust=trust, tsa_cert=args.tsa_cert)
    except EvidenceError as exc:  # not a run folder, an unreadable key or cert: bad input
        print(f"govdrill verify: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if report.unsealed is not None:
        hint = (
            "its harness is still running it"
            if report.unsealed.value == "run in progress"
            else "its harness died before sealing it; `govdrill sweep` seals it as interrupted"
        )
        print(f"UNSEALED {args.run_dir}: unsealed: {report.unsealed.value} ({hint})", file=out)
        return EXIT_UNSEALED
    for finding in report.findings:
        print(f"FAIL {finding}", file=out)
    for note in report.notes:
        print(f"note: {note}", file=out)
    for line in _provenance_lines(report, args.tsa_cert):
        print(line, file=out)
    signed = f"signed by {report.signed_by[:16]}…" if report.signed_by else "unsigned"
    if report.intact:
        print(f"OK {args.run_dir}: {report.files} files intact, timeline chain intact, {signed}",
              file=out)  # fmt: skip
        return EXIT_OK
    print(f"TAMPERED {args.run_dir}: {len(report.findings)} problem(s)", file=out)
    return EXIT_FAILED


def _verify_pack_command(args: argparse.Namespace, out: TextIO) -> int:
    """An audit pack's folder: its pages against its manifest, its signature, and with
    ``--tsa-cert`` its timestamp over the manifest; 0 intact, 1 not."""
    from harness.errors import EvidenceError
    from harness.integrity import check_timestamp
    from harness.pack import PACK_MANIFEST, PACK_TIMESTAMP, verify_pack

    if args.trust is not None:
        print("govdrill verify: a pack is checked with --key, not --trust", file=sys.stderr)
        return EXIT_BAD_INPUT
    folder: Path = args.run_dir
    problems = verify_pack(folder, key=args.key)
    if args.tsa_cert is not None:
        token = folder / PACK_TIMESTAMP
        if not token.is_file():
            problems.append(f"{PACK_TIMESTAMP}: missing, and trusted time was asked for")
        else:
            try:
                check = check_timestamp(
                    token.read_bytes(), (folder / PACK_MANIFEST).read_bytes(), args.tsa_cert
                )
            except (OSError, EvidenceError) as exc:
                print(f"govdrill verify: {exc}", file=sys.stderr)
                return EXIT_BAD_INPUT
            if not check.ok:
                problems.append(f"{PACK_TIMESTAMP}: {check.detail}")
            elif check.time is not None:
                print(f"time: {check.time:%Y-%m-%dT%H:%M:%SZ} (RFC 3161 timestamp)", file=out)
    for problem in problems:
        print(f"FAIL {problem}", file=out)
    if problems:
        print(f"TAMPERED {folder}: {len(problems)} problem(s) in the pack", file=out)
        return EXIT_FAILED
    print(f"OK {folder}: the pack's pages, manifest and signature are intact", file=out)
    return EXIT_OK


def _provenance_lines(report: VerifyReport, tsa_cert: Path | None) -> list[str]:
    """When the run was made, by whose key and on whose authority, as verify established
    them (each value read from the run: hostile until shown escaped)."""
    from harness.integrity import printable

    lines = []
    when = report.run_time
    if report.timestamp is not None:
        lines.append(f"time: {when:%Y-%m-%dT%H:%M:%SZ} (RFC 3161 timestamp, TSA of {tsa_cert})")
    elif when is not None:
        lines.append(f"time: {when:%Y-%m-%dT%H:%M:%SZ} (self-asserted by the run)")
    if report.trusted_key is not None:
        key = report.trusted_key
        lines.append(
            f"key: {printable(key.label())} trusted {key.window()} ({printable(key.where)})"
        )
    if report.authorized_by is not None:
        lines.append(f"authorized by: {printable(report.authorized_by)}")
    return lines


def _sweep_command(args: argparse.Namespace, out: TextIO) -> int:
    """Seal the runs dead harnesses left unsealed; 3 when one could not be sealed, or was
    sealed without the timestamp asked for."""
    from harness.integrity import check_tsa_url, choose_signer
    from harness.unsealed import SweepOutcome, seal_dead_runs

    if not args.results.is_dir():
        print(f"govdrill sweep: {args.results} is not a folder", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        signer = choose_signer(args.sign_key)
        tsa_url = None if args.tsa is None else check_tsa_url(args.tsa)
    except GovdrillError as exc:
        print(f"govdrill sweep: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    swept = seal_dead_runs(args.results, sealed_by="govdrill sweep", signer=signer, tsa_url=tsa_url)
    for run in swept:
        if run.outcome is SweepOutcome.SEALED:
            print(f"sealed as interrupted: {run.sealed_as}", file=out)
            if run.timestamp_error:
                print(f"  TIMESTAMP MISSING: {run.timestamp_error}", file=out)
        elif run.outcome is SweepOutcome.ALIVE:
            print(f"left alone, still running: {run.staging}", file=out)
        else:
            print(f"govdrill sweep: cannot seal {run.staging}: {run.detail}", file=sys.stderr)
    if not swept:
        print(f"nothing to sweep under {args.results}", file=out)
    failed = any(r.outcome is SweepOutcome.FAILED or r.timestamp_error for r in swept)
    return EXIT_HARNESS if failed else EXIT_OK


def _history_command(args: argparse.Namespace, out: TextIO) -> int:
    from harness.evidence import write_atomic
    from harness.history import analyse, collect, history_html, parse_budget, print_report

    try:
        budgets = dict(parse_budget(b) for b in args.budget)
    except ValueError as exc:
        print(f"govdrill history: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.window < 1:
        print("govdrill history: --window must be at least 1", file=sys.stderr)
        return EXIT_BAD_INPUT
    points, skipped = collect(args.results, args.drill)
    if not points:
        which = f" of drill {args.drill}" if args.drill else ""
        print(f"govdrill history: no finished runs{which} under {args.results}", file=sys.stderr)
        return EXIT_BAD_INPUT
    report = analyse(
        points,
        budgets=budgets,
        window=args.window,
        tolerance=args.tolerance,
        min_delta=args.min_delta,
    )
    report.skipped = skipped
    print_report(report, out)
    if args.html:
        write_atomic(args.html, history_html(report).encode())
        print(f"chart: {args.html}", file=out)
    return EXIT_FAILED if report.regressions else EXIT_OK


def _keygen_command(args: argparse.Namespace, out: TextIO) -> int:
    from harness.errors import EvidenceError
    from harness.integrity import generate_keypair, key_id, load_signer

    try:
        private, public = generate_keypair(args.out)
    except EvidenceError as exc:
        print(f"govdrill keygen: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    keyid = key_id(load_signer(str(private)).public)
    print(f"private key: {private} (mode 0600; keep it secret)", file=out)
    print(f"public key:  {public} (give this to whoever verifies)", file=out)
    print(f"key id:      {keyid}", file=out)
    return EXIT_OK


def _schema_command(args: argparse.Namespace, out: TextIO) -> int:
    from harness.schemas import SchemaName, schema_text

    out.write(schema_text(SchemaName(args.kind)))
    return EXIT_OK


EXIT_BROKEN_PIPE = 128 + signal.SIGPIPE
"""The exit code when the output's reader went away, as a shell reports a tool SIGPIPE ended."""


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``govdrill`` console script."""
    args = _parser().parse_args(argv)
    problem = platform_problem()
    if problem is not None:
        print(f"govdrill: {problem}", file=sys.stderr)
        return EXIT_BAD_INPUT
    _configure_logging()
    out = sys.stdout
    try:
        if args.command == "validate":
            return _validate(args, out)
        if args.command == "halt":
            return _halt(args, out)
        if args.command == "report":
            return _report_command(args, out)
        if args.command == "verify":
            return _verify_command(args, out)
        if args.command == "history":
            return _history_command(args, out)
        if args.command == "sweep":
            return _sweep_command(args, out)
        if args.command == "keygen":
            return _keygen_command(args, out)
        if args.command == "pack":
            from harness.pack.command import pack_command

            return pack_command(args, out)
        if args.command == "schema":
            return _schema_command(args, out)
        if args.command == "init":
            from harness.init.command import run_init

            return run_init(args, out)
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
    except BrokenPipeError:
        # Whoever read the output went away (`govdrill validate ... | head -1`): not a harness
        # failure. Point stdout at /dev/null so the interpreter's last flush cannot fail too.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return EXIT_BROKEN_PIPE
    except Exception:  # a bug or an unforeseen OS failure: the harness itself failed
        print("govdrill: the harness itself failed (exit 3); please report this:", file=sys.stderr)
        traceback.print_exc(file=sys.stderr)
        return EXIT_HARNESS


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
