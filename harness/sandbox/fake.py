"""A sandbox that runs nothing: start, signals and teardown follow a script (a test double).

It sits beside :class:`harness.sandbox.base.Sandbox` as httpx keeps ``MockTransport`` beside
``BaseTransport``: code that takes a sandbox (a signal control path, the engine's teardown
bookkeeping) can be exercised in milliseconds, with no process, container or thread.
"""

from __future__ import annotations

import signal
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from harness.errors import SandboxError
from harness.halt import Halt
from harness.sandbox.base import Endpoint, Sandbox, TeardownReport, TeardownWay
from harness.sandbox_kind import SandboxKind

__all__ = ["FakeSandbox", "SentSignal"]

_ENDING = frozenset({signal.SIGTERM, signal.SIGKILL, signal.SIGINT, signal.SIGQUIT})


@dataclass(frozen=True, slots=True)
class SentSignal:
    """One signal the fake target was sent."""

    signum: int
    to_group: bool


class FakeSandbox(Sandbox):
    """A target that exists only as state: ``start`` answers ``endpoint`` (or raises
    ``start_error``), an ending signal stops it unless listed in ``ignores``, and teardown
    says which path ended it, as a real sandbox's evidence would."""

    name = SandboxKind.PROCESS
    """The kind it stands in for: the evidence of a fake run reads like a process run's."""

    def __init__(
        self,
        *,
        endpoint: Endpoint | None = None,
        start_error: str | None = None,
        ignores: Iterable[int] = (),
        events_path: Path | None = None,
        logs: dict[str, str] | None = None,
    ) -> None:
        self.endpoint = endpoint or Endpoint("http://127.0.0.1:9", "127.0.0.1", 9, pid=None)
        self._start_error = start_error
        self._ignores = frozenset(ignores)
        self._events_path = events_path
        self._logs = dict(logs or {})
        self.started = False
        self.running = False
        self.signals: list[SentSignal] = []
        """Every signal delivered, in order."""
        self.ended_by: int | None = None
        """The signal that ended the target, when one did."""
        self.teardowns = 0
        self._report: TeardownReport | None = None

    def start(self, halt: Halt | None = None) -> Endpoint:
        """Start at once, or fail as scripted; a halt already set interrupts the start."""
        if halt is not None and halt.is_set():
            raise halt.interrupted()
        self.started = True
        if self._start_error is not None:
            raise SandboxError(self._start_error)
        self.running = True
        return self.endpoint

    def send_signal(self, signum: int, *, to_group: bool) -> None:
        """Record the signal; an ending one the target does not ignore stops it."""
        if not self.running:
            raise ProcessLookupError("the fake target is not running")
        self.signals.append(SentSignal(signum, to_group))
        if signum in _ENDING and (signum == signal.SIGKILL or signum not in self._ignores):
            self.running = False
            self.ended_by = signum

    def alive(self) -> bool:
        """Whether the fake target still runs."""
        return self.running

    def teardown(self) -> TeardownReport:
        """End the target if it still runs; idempotent, like every sandbox's teardown."""
        self.teardowns += 1
        if self._report is not None:
            return self._report
        if not self.started or not self.running:
            code = None if self.ended_by is None else -self.ended_by
            self._report = TeardownReport(TeardownWay.ALREADY_GONE, code, "not running")
        elif signal.SIGTERM in self._ignores:
            self.running = False
            self._report = TeardownReport(TeardownWay.KILLED, -signal.SIGKILL, "ignored SIGTERM")
        else:
            self.running = False
            self._report = TeardownReport(TeardownWay.TERMINATED, -signal.SIGTERM, "")
        return self._report

    def collect(self, into: Path) -> list[Path]:
        """Write the scripted logs into ``into``; return what was written."""
        into.mkdir(parents=True, exist_ok=True)
        written = []
        for name, text in self._logs.items():
            path = into / name
            path.write_text(text)
            written.append(path)
        return written

    @property
    def events_path(self) -> Path | None:
        """The scripted event log, if any."""
        return self._events_path
