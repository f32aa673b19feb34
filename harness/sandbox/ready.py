"""Waiting for a started target to answer its readiness check, whatever sandbox runs it.

The check is ``GET path`` answering 200, or a command exiting 0 (``wait_ready`` picks the one
the target declares). A readiness command's attempts are each bounded by what is left of the
deadline and killed with their process group; its failure names the last exit code and the
end of its output, bounded and redacted.

Every wait here is bounded twice: each probe by its own deadline for the whole response (a
target that trickles one header byte at a time cannot stretch it, since no single socket read
is what is timed), and the whole wait by the readiness deadline. Between socket reads the wait
looks at the halt event, so Ctrl-C, SIGTERM and ``govdrill halt`` end it within one slice.
"""

from __future__ import annotations

import contextlib
import os
import socket
import ssl
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from harness.bounded_command import KEEP_BYTES, run_bounded
from harness.errors import SandboxError
from harness.halt import Halt
from harness.redact import NO_SECRETS, Redactor
from harness.sandbox.base import Endpoint
from harness.spec.durations import to_ns
from harness.spec.models import ReadySpec

__all__ = [
    "ProbeAnswer",
    "pause_interruptibly",
    "probe_http",
    "raise_if_halted",
    "wait_command_ready",
    "wait_http_ready",
    "wait_ready",
]

PROBE_S = 1.0
"""The most one readiness probe may take, connect to end of headers."""
SLICE_S = 0.05
"""How long one socket read may block before the halt event is looked at again."""
NO_ANSWER = "no answer yet"
"""What the readiness error names when no probe got as far as an answer."""
MAX_HEAD_BYTES = 16 * 1024
"""A status line and headers longer than this are not an answer but a flood."""
OUTPUT_TAIL_CHARS = 500
"""The most of a readiness command's output a readiness error quotes."""


def raise_if_halted(halt: Halt | None) -> None:
    """Raise Interrupted when a signal (or ``govdrill halt``) has set ``halt``."""
    if halt is not None:
        halt.raise_if_set()


@dataclass(frozen=True, slots=True)
class ProbeAnswer:
    """One readiness probe: the status the target answered, or why there was none."""

    status: int | None
    detail: str


def probe_http(
    host: str,
    port: int,
    path: str,
    *,
    until_ns: int,
    clock: Callable[[], int],
    halt: Halt | None = None,
    tls: ssl.SSLContext | None = None,
) -> ProbeAnswer:
    """``GET path`` once (over ``tls`` when given); the status line and headers must all
    arrive before ``until_ns``."""

    def left_s() -> float:
        return (until_ns - clock()) / 1e9

    if left_s() <= 0:
        return ProbeAnswer(None, "no time left to probe")
    request = f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n"
    head = b""
    try:
        with contextlib.ExitStack() as stack:
            sock = stack.enter_context(
                socket.create_connection((host, port), timeout=min(left_s(), PROBE_S))
            )
            if tls is not None:  # the handshake is bounded by the connect timeout above
                sock = stack.enter_context(tls.wrap_socket(sock, server_hostname=host))
            sock.settimeout(max(left_s(), 0.001))
            sock.sendall(request.encode("ascii"))
            while b"\r\n\r\n" not in head:
                raise_if_halted(halt)
                remaining = left_s()
                if remaining <= 0:
                    return ProbeAnswer(None, "answer not complete within its probe deadline")
                if len(head) > MAX_HEAD_BYTES:
                    return ProbeAnswer(None, f"headers longer than {MAX_HEAD_BYTES} bytes")
                sock.settimeout(min(remaining, SLICE_S))
                try:
                    chunk = sock.recv(4096)
                except TimeoutError:
                    continue
                if not chunk:
                    return ProbeAnswer(None, "connection closed before the headers ended")
                head += chunk
    except OSError as exc:
        return ProbeAnswer(None, str(exc) or type(exc).__name__)
    status_line = head.split(b"\r\n", 1)[0].decode("latin-1")
    parts = status_line.split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        return ProbeAnswer(None, f"not an HTTP answer: {status_line[:80]!r}")
    return ProbeAnswer(int(parts[1]), f"HTTP {parts[1]}")


def wait_http_ready(
    host: str,
    port: int,
    path: str,
    *,
    deadline_ns: int,
    interval_s: float,
    timeout_s: float,
    clock: Callable[[], int],
    exited: Callable[[], str | None],
    stderr_tail: Callable[[], str] = lambda: "",
    halt: Halt | None = None,
    tls: ssl.SSLContext | None = None,
) -> None:
    """Poll ``GET path`` (over ``tls`` when given) until it answers 200.

    Raises Interrupted as soon as ``halt`` is set; SandboxError when ``exited()`` says how the
    target ended (with the tail of its stderr, when there is one), or at the deadline with the
    last answer seen.
    """
    last = NO_ANSWER
    while clock() < deadline_ns:
        raise_if_halted(halt)
        _raise_if_exited(exited, stderr_tail)
        until = min(deadline_ns, clock() + to_ns(PROBE_S))
        answer = probe_http(host, port, path, until_ns=until, clock=clock, halt=halt, tls=tls)
        if answer.status == 200:
            return
        if not _cut_by_deadline(answer, clock() >= deadline_ns) or last == NO_ANSWER:
            last = answer.detail
        pause_interruptibly(interval_s, halt)
    raise_if_halted(halt)
    scheme = "http" if tls is None else "https"
    raise SandboxError(
        f"target not ready at {scheme}://{host}:{port}{path} within {timeout_s:g}s (last: {last})"
    )


def wait_ready(
    ready: ReadySpec,
    endpoint: Endpoint,
    *,
    deadline_ns: int,
    clock: Callable[[], int],
    exited: Callable[[], str | None],
    stderr_tail: Callable[[], str] = lambda: "",
    halt: Halt | None = None,
    places: Mapping[str, str] | None = None,
    redactor: Redactor = NO_SECRETS,
    tls: ssl.SSLContext | None = None,
) -> None:
    """Wait until the target at ``endpoint`` passes ``ready``'s check (``GET path`` answers
    200, or ``command`` exits 0), whichever it declares; the one entry point every sandbox uses.

    ``places`` are the folders a readiness command may name (``{target_dir}``, ``{workdir}``,
    ``{secrets_dir}``); ``redactor`` hides the run's secrets in the output an error quotes;
    ``tls`` makes the HTTP check speak TLS (an https target).
    Raises Interrupted as soon as ``halt`` is set, SandboxError when ``exited()`` says the
    target ended or at the deadline, naming the last answer (or exit code and output).
    """
    if ready.command is not None:
        wait_command_ready(
            ready.command,
            endpoint,
            deadline_ns=deadline_ns,
            interval_s=ready.interval,
            timeout_s=ready.timeout,
            clock=clock,
            exited=exited,
            stderr_tail=stderr_tail,
            halt=halt,
            places=places,
            redactor=redactor,
        )
        return
    assert ready.path is not None  # validated: one of path and command
    prefix = urlsplit(endpoint.base_url).path.rstrip("/")
    wait_http_ready(
        endpoint.host,
        endpoint.port,
        prefix + ready.path,
        deadline_ns=deadline_ns,
        interval_s=ready.interval,
        timeout_s=ready.timeout,
        clock=clock,
        exited=exited,
        stderr_tail=stderr_tail,
        halt=halt,
        tls=tls,
    )


def wait_command_ready(
    command: list[str],
    endpoint: Endpoint,
    *,
    deadline_ns: int,
    interval_s: float,
    timeout_s: float,
    clock: Callable[[], int],
    exited: Callable[[], str | None],
    stderr_tail: Callable[[], str] = lambda: "",
    halt: Halt | None = None,
    places: Mapping[str, str] | None = None,
    redactor: Redactor = NO_SECRETS,
) -> None:
    """Run ``command`` (its ``{name}`` placeholders filled) until it exits 0.

    Each attempt may run for what is left of the deadline, then it is killed with its process
    group. Raises as ``wait_http_ready`` does; the deadline's error names the last exit code
    and the end of the command's output.
    """
    templates = {
        **(places or {}),
        "python": sys.executable,
        "host": endpoint.host,
        "port": str(endpoint.port),
        "base_url": endpoint.base_url,
    }
    argv = [_fill(arg, templates) for arg in command]
    env = {**os.environ, "GOVDRILL_TARGET_URL": endpoint.base_url}
    last = "it never finished an attempt"
    finished = False
    while clock() < deadline_ns:
        raise_if_halted(halt)
        _raise_if_exited(exited, stderr_tail)
        left_s = (deadline_ns - clock()) / 1e9
        run = run_bounded(
            argv, shell=False, env=env, cwd=None, timeout_s=left_s, halt=halt, clock=clock
        )
        if run.returncode == 0:
            return
        output = redactor.redact(run.output, cut=len(run.output) >= KEEP_BYTES).strip()
        output = output[-OUTPUT_TAIL_CHARS:]
        if run.timed_out:
            what = "was still running at the deadline (killed with its process group)"
        elif run.returncode is None:
            what = run.error
        else:
            what = f"last exited with code {run.returncode}"
        # An attempt cut short by the deadline says nothing of the target: keep the answer
        # of an attempt that finished, when there was one.
        if not (run.timed_out and finished):
            last = what + (f"; its output ends:\n{output}" if output else "")
        finished = finished or not run.timed_out
        pause_interruptibly(interval_s, halt)
    raise_if_halted(halt)
    shown = redactor.redact(" ".join(argv))
    shown = shown if len(shown) <= 200 else shown[:200] + "…"
    raise SandboxError(
        f"target not ready within {timeout_s:g}s: readiness command `{shown}` {last}"
    )


def _fill(text: str, templates: Mapping[str, str]) -> str:
    for key, value in templates.items():
        text = text.replace("{" + key + "}", value)
    return text


def _raise_if_exited(exited: Callable[[], str | None], stderr_tail: Callable[[], str]) -> None:
    """Raise SandboxError when ``exited()`` says how the target ended."""
    gone = exited()
    if gone is not None:
        tail = stderr_tail().strip()
        raise SandboxError(
            f"target {gone} while waiting for readiness"
            + (f"; its stderr ends:\n{tail}" if tail else "")
        )


def _cut_by_deadline(answer: ProbeAnswer, past_deadline: bool) -> bool:
    """Whether a probe got no answer only because the readiness deadline ended it: that says
    nothing about the target, so an earlier answer (an HTTP 404, a refusal) is the one to name."""
    return answer.status is None and past_deadline


def pause_interruptibly(seconds: float, halt: Halt | None) -> None:
    """Sleep ``seconds`` unless ``halt`` is set first (then return at once)."""
    if halt is None:
        time.sleep(seconds)
    else:
        halt.wait(seconds)
