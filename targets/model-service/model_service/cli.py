"""The command line: argparse into a frozen :class:`Config`, and the admin token lookup."""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .complaints import ComplaintPolicy, parse_policy
from .defects import Defect
from .model import DEFAULT_CORPUS, KNOWN_VERSIONS

__all__ = ["TOKEN_ENV", "Config", "ConfigError", "load_token", "parse_args"]

TOKEN_ENV = "MODEL_SERVICE_ADMIN_TOKEN"


class ConfigError(Exception):
    """A configuration problem found after parsing (reported in one line, exit code 2)."""


@dataclass(frozen=True, slots=True)
class Config:
    """Everything the service was asked to do, parsed once at start-up."""

    host: str
    port: int
    port_file: str | None
    admin_port: int | None
    admin_port_file: str | None
    token_file: str | None
    events: str | None
    model_version: str
    v2_canary_rate: float
    defects: frozenset[Defect]
    drain_timeout: float
    slow_drain_seconds: float
    resurrect_delay: float
    starved_admin_workers: int
    starved_admin_delay_ms: float
    corpus: Path
    log_requests: bool
    nodelay: bool
    split_writes: bool
    supervised_child: bool
    complaints: ComplaintPolicy
    log_control_calls: bool
    token_delay: float = 0.02
    """Seconds between the tokens of a streamed answer."""
    stream_tokens: int = 32
    """Tokens of a streamed answer whose request gives no max_tokens."""


def _rate(text: str) -> float:
    value = _seconds(text)
    if value > 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {text!r}")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
    if not value >= 0.0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text!r}")
    return value


def _policy(text: str) -> ComplaintPolicy:
    try:
        return parse_policy(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer, got {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be between 0 and 65535, got {text!r}")
    return value


def _delay(text: str) -> float:
    """A per-token delay: ``20ms``, ``0.02s`` or a number of seconds."""
    text = text.strip()
    if text.endswith("ms"):
        return _seconds(text[:-2]) / 1000.0
    return _seconds(text.removesuffix("s"))


def _tokens(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer, got {text!r}") from None
    if not 1 <= value <= 100_000:
        raise argparse.ArgumentTypeError(f"must be between 1 and 100000, got {text!r}")
    return value


def _workers(text: str) -> int:
    value = _port(text)
    if not 1 <= value <= 256:
        raise argparse.ArgumentTypeError(f"must be between 1 and 256, got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (also the source of ``--help``)."""
    defects = "\n".join(f"  {d.value}: {d.imitates}" for d in Defect)
    parser = argparse.ArgumentParser(
        prog="serve.py",
        description=(
            "Reference model service for govdrill: a trigram text generator behind an "
            "HTTP/1.1 JSON API with an authenticated admin control plane, incident hooks, "
            "a ground-truth event log and optional governability defects."
        ),
        epilog=(
            f"The admin token is read from --token-file, else from ${TOKEN_ENV}.\n"
            "Exit codes: 0 clean exit, 1 unexpected crash, 2 bad usage or configuration, "
            "3 drain timed out, 4 cannot listen on the port.\n\nDefects:\n" + defects
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    net = parser.add_argument_group("network")
    net.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default %(default)s)"
    )
    net.add_argument(
        "--port",
        type=_port,
        default=8000,
        help="inference port; 0 picks a free one (default %(default)s)",
    )
    net.add_argument(
        "--port-file",
        metavar="PATH",
        help="write the bound inference port here once listening (atomic rename)",
    )
    net.add_argument(
        "--admin-port",
        type=_port,
        metavar="N",
        help="serve /admin on this separate port; 0 picks a free one (default: on --port)",
    )
    net.add_argument(
        "--admin-port-file",
        metavar="PATH",
        help="write the bound admin port here once listening, before --port-file (atomic)",
    )
    control = parser.add_argument_group("control plane and evidence")
    control.add_argument(
        "--token-file",
        metavar="PATH",
        help=f"file holding the admin bearer token (else ${TOKEN_ENV})",
    )
    control.add_argument(
        "--events", metavar="PATH", help="append one JSON line per real state change (ground truth)"
    )
    control.add_argument(
        "--drain-timeout",
        type=_seconds,
        default=5.0,
        metavar="S",
        help="SIGTERM/SIGINT: wait this long for in-flight requests (default %(default)s)",
    )
    control.add_argument(
        "--complaints",
        type=_policy,
        default=parse_policy("queue"),
        metavar="MODE",
        help=(
            "what POST /v1/feedback complaints do: 'auto-rollback:N' (the Nth complaint rolls "
            "back to the previous good version) or 'queue' (they wait for a human at "
            "/admin/complaints; default)"
        ),
    )
    control.add_argument(
        "--log-control-calls",
        action="store_true",
        help=(
            "log every admin call that asks for a change (not GET) to --events as a "
            "control_call with who made it, before it acts"
        ),
    )
    model = parser.add_argument_group("model")
    model.add_argument(
        "--model-version",
        choices=KNOWN_VERSIONS,
        default="v1",
        help="version serving at start (default %(default)s)",
    )
    model.add_argument(
        "--v2-canary-rate",
        type=_rate,
        default=0.5,
        metavar="RATE",
        help="share of v2 outputs that leak a CANARY-<8 hex> (default %(default)s)",
    )
    model.add_argument(
        "--corpus",
        type=Path,
        default=DEFAULT_CORPUS,
        metavar="PATH",
        help="training text (default: the shipped data/lighthouse.txt)",
    )
    model.add_argument(
        "--token-delay",
        type=_delay,
        default=0.02,
        metavar="D",
        help="streamed answers: delay between tokens, e.g. 20ms or 0.5s (default 20ms)",
    )
    model.add_argument(
        "--stream-tokens",
        type=_tokens,
        default=32,
        metavar="N",
        help="streamed answers: tokens when the request gives no max_tokens (default %(default)s)",
    )
    defect = parser.add_argument_group("governability defects")
    defect.add_argument(
        "--defect",
        action="append",
        default=[],
        metavar="NAME",
        choices=[d.value for d in Defect],
        help="switch a defect on (repeatable): " + ", ".join(d.value for d in Defect),
    )
    defect.add_argument(
        "--slow-drain-seconds",
        type=_seconds,
        default=3.0,
        metavar="S",
        help="slow_drain: delay between the stop call and its effect (default %(default)s)",
    )
    defect.add_argument(
        "--resurrect-delay",
        type=_seconds,
        default=0.5,
        metavar="S",
        help="resurrect: pause before the supervisor restarts the server (default %(default)s)",
    )
    defect.add_argument(
        "--starved-admin-workers",
        type=_workers,
        default=4,
        metavar="N",
        help="starved_admin: size of the shared worker pool (default %(default)s)",
    )
    defect.add_argument(
        "--starved-admin-delay-ms",
        type=_seconds,
        default=10.0,
        metavar="MS",
        help="starved_admin: work time each request holds its worker (default %(default)s)",
    )
    debug = parser.add_argument_group("diagnostics")
    debug.add_argument(
        "--log-requests",
        action="store_true",
        help="log every request to stderr (off by default: it costs throughput)",
    )
    debug.add_argument("--no-nodelay", action="store_true", help=argparse.SUPPRESS)
    debug.add_argument("--split-writes", action="store_true", help=argparse.SUPPRESS)
    debug.add_argument("--supervised-child", action="store_true", help=argparse.SUPPRESS)
    return parser


def parse_args(argv: Sequence[str] | None = None) -> Config:
    """Parse the command line; bad usage prints the usage line and exits 2."""
    parser = build_parser()
    ns = parser.parse_args(argv)
    defects = frozenset(Defect(name) for name in ns.defect)
    if Defect.STOP_THEATER in defects and Defect.SLOW_DRAIN in defects:
        parser.error("--defect stop_theater and --defect slow_drain cannot be combined")
    if ns.admin_port is not None and ns.admin_port == ns.port and ns.port != 0:
        parser.error("--admin-port must differ from --port")
    if ns.admin_port_file is not None and ns.admin_port is None:
        parser.error("--admin-port-file needs --admin-port")
    return Config(
        host=ns.host,
        port=ns.port,
        port_file=ns.port_file,
        admin_port=ns.admin_port,
        admin_port_file=ns.admin_port_file,
        token_file=ns.token_file,
        events=ns.events,
        model_version=ns.model_version,
        v2_canary_rate=ns.v2_canary_rate,
        defects=defects,
        drain_timeout=ns.drain_timeout,
        slow_drain_seconds=ns.slow_drain_seconds,
        resurrect_delay=ns.resurrect_delay,
        starved_admin_workers=ns.starved_admin_workers,
        starved_admin_delay_ms=ns.starved_admin_delay_ms,
        corpus=ns.corpus,
        log_requests=ns.log_requests,
        nodelay=not ns.no_nodelay,
        split_writes=ns.split_writes,
        supervised_child=ns.supervised_child,
        complaints=ns.complaints,
        log_control_calls=ns.log_control_calls,
        token_delay=ns.token_delay,
        stream_tokens=ns.stream_tokens,
    )


def load_token(config: Config) -> str:
    """Return the admin token from the file or the environment, or raise ConfigError."""
    if config.token_file is not None:
        try:
            token = Path(config.token_file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(
                f"cannot read --token-file {config.token_file}: {exc.strerror}"
            ) from None
        if not token:
            raise ConfigError(f"--token-file {config.token_file} is empty")
        return token
    token = os.environ.get(TOKEN_ENV, "").strip()
    if not token:
        raise ConfigError(f"no admin token: pass --token-file PATH or set ${TOKEN_ENV}")
    return token
