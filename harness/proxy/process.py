"""The harness side of a fault proxy: start the child, switch its rules, read its counts.

:class:`FaultProxy` runs ``python -m harness.proxy.child`` (protocol there) in front of one
upstream, on loopback only, and talks to it over its stdin and stdout: one JSON line per
command, one per answer. Each switch returns the stamp the child itself took
(``time.monotonic_ns()``, the host clock), the one its events log holds too.

Errors (:class:`ProxyError` is a :class:`harness.errors.HarnessError`, exit 3)::

    ProxyError               the proxy could not do what was asked
    ├── ProxyStartFailed     the child did not start listening in time, or exited
    └── ProxyCommandFailed   a command was refused or not answered in time

Like the load child, it arms ``PR_SET_PDEATHSIG`` (SIGKILL), which Linux fires when the
*thread* that started it exits: start it from a thread that lives as long as the drill.
Its environment carries the reaper's labels, so a sweep after a killed harness finds it.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Self
from urllib.parse import urlsplit

from harness.child_process import spawn_harness_child
from harness.errors import HarnessError
from harness.spec.durations import NS_PER_S
from harness.spec.load import DEFAULT_MAX_BODY
from harness.spec.proxy import ProxyRule

__all__ = [
    "FaultProxy",
    "ProxyCommandFailed",
    "ProxyError",
    "ProxyEvent",
    "ProxyStartFailed",
    "RuleCount",
]

_COMMAND_TIMEOUT_S: Final = 5.0
_MAX_LINE: Final = 1 << 20


class ProxyError(HarnessError):
    """The fault proxy could not do what was asked."""


class ProxyStartFailed(ProxyError):
    """The child did not start listening in time, or exited."""


class ProxyCommandFailed(ProxyError):
    """A command was refused by the child, or not answered in time."""


@dataclass(frozen=True, slots=True)
class RuleCount:
    """How many requests a rule saw while on, touched, and could not apply to."""

    touched: int
    seen: int
    unmatched: int


@dataclass(frozen=True, slots=True)
class ProxyEvent:
    """Something the child did by itself: a rule whose ``for`` ran out."""

    event: str
    rule: str
    t_ns: int
    count: RuleCount


def _count(data: Mapping[str, Any]) -> RuleCount:
    return RuleCount(int(data["touched"]), int(data["seen"]), int(data["unmatched"]))


class FaultProxy:
    """One proxy child in front of one upstream, from spawn to reaped."""

    def __init__(
        self,
        *,
        upstream: str,
        events_path: Path,
        name: str,
        labels: Mapping[str, str],
        clock: Callable[[], int],
        max_body: int,
    ) -> None:
        url = urlsplit(upstream)
        if url.scheme != "http" or url.hostname is None:
            raise ProxyError(f"proxy {name}: upstream must be http://host:port, got {upstream!r}")
        self.upstream = upstream
        self.name = name
        self.events_path = events_path
        self.stderr_path = events_path.with_name(f"{events_path.stem}.stderr.log")
        self._labels = dict(labels)
        self._clock = clock
        self._max_body = max_body
        self._prefix = url.path.rstrip("/")
        self.base_url = ""
        """``http://127.0.0.1:<port>`` (plus the upstream's path) to use instead of upstream."""
        self.port = 0
        self.events: list[ProxyEvent] = []
        """What the child did by itself (a rule's ``for`` ran out), in order."""
        self._proc: subprocess.Popen[bytes] | None = None
        self._reader: threading.Thread | None = None
        self._lock = threading.Lock()  # one command at a time
        self._answered = threading.Condition()
        self._answers: dict[int, dict[str, Any]] = {}
        self._ready: dict[str, Any] | None = None
        self._eof = False
        self._seq = 0
        self._closed = False

    @classmethod
    def start(
        cls,
        *,
        upstream: str,
        events_path: Path,
        name: str,
        run_id: str,
        clock: Callable[[], int] = time.monotonic_ns,
        timeout_s: float = 10.0,
        max_body: int = DEFAULT_MAX_BODY,
    ) -> FaultProxy:
        """Start a proxy child in front of ``upstream`` (a base URL); return once it listens."""
        from harness.sandbox import reaper  # the sandbox package is heavy: only when used

        proxy = cls(
            upstream=upstream,
            events_path=events_path,
            name=name,
            labels=reaper.labels(run_id),
            clock=clock,
            max_body=max_body,
        )
        try:
            proxy._spawn(timeout_s)
        except BaseException:
            proxy.close()
            raise
        return proxy

    @property
    def pid(self) -> int | None:
        """The child's pid once started."""
        return self._proc.pid if self._proc is not None else None

    def _spawn(self, timeout_s: float) -> None:
        self.events_path.parent.mkdir(parents=True, exist_ok=True)
        self._proc = spawn_harness_child(
            "harness.proxy.child", labels=self._labels, stderr_path=self.stderr_path
        )
        config = {
            "upstream": self.upstream,
            "name": self.name,
            "events_path": str(self.events_path),
            "parent_pid": os.getpid(),
            "max_body": self._max_body,
        }
        self._write(config)
        self._reader = threading.Thread(
            target=self._read, name=f"proxy-reader-{self._proc.pid}", daemon=True
        )
        self._reader.start()
        deadline = self._clock() + round(timeout_s * NS_PER_S)
        with self._answered:
            while self._ready is None and not self._eof:
                left = (deadline - self._clock()) / NS_PER_S
                if left <= 0:
                    break
                self._answered.wait(left)
            ready = self._ready
        if ready is None or "ready" not in ready:
            why = ready.get("fatal") if ready else None
            raise ProxyStartFailed(
                f"proxy {self.name} did not start"
                + (f": {why}" if why else f" within {timeout_s:g}s")
                + f" (see {self.stderr_path})"
            )
        self.port = int(ready["ready"])
        self.base_url = f"http://127.0.0.1:{self.port}{self._prefix}"

    # ------------------------------------------------------------------ commands

    def enable(self, name: str, rule: ProxyRule) -> int:
        """Switch ``rule`` on as ``name``; the t_ns the proxy stamped."""
        rule_json = json.loads(rule.model_dump_json(by_alias=True, exclude_unset=True))
        return int(self._command({"op": "enable", "name": name, "rule": rule_json})["t_ns"])

    def disable(self, name: str) -> int:
        """Switch ``name`` off; the t_ns the proxy stamped."""
        return int(self._command({"op": "disable", "name": name})["t_ns"])

    def counts(self) -> dict[str, RuleCount]:
        """Every rule ever switched on, with its counts so far."""
        answer = self._command({"op": "counts"})
        return {name: _count(c) for name, c in answer["counts"].items()}

    def _command(self, command: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            if self._proc is None or self._closed:
                raise ProxyCommandFailed(f"proxy {self.name} is not running")
            self._seq += 1
            seq = self._seq
            self._write({"seq": seq, **command})
            deadline = self._clock() + round(_COMMAND_TIMEOUT_S * NS_PER_S)
            with self._answered:
                while seq not in self._answers and not self._eof:
                    left = (deadline - self._clock()) / NS_PER_S
                    if left <= 0:
                        break
                    self._answered.wait(left)
                answer = self._answers.pop(seq, None)
        if answer is None:
            raise ProxyCommandFailed(
                f"proxy {self.name} did not answer {command['op']!r} (see {self.stderr_path})"
            )
        if "error" in answer:
            raise ProxyCommandFailed(
                f"proxy {self.name} refused {command['op']!r}: {answer['error']}"
            )
        return answer

    def _write(self, message: Mapping[str, Any]) -> None:
        assert self._proc is not None and self._proc.stdin is not None
        try:
            self._proc.stdin.write(json.dumps(message).encode() + b"\n")
            self._proc.stdin.flush()
        except (BrokenPipeError, ValueError):
            pass  # the child is gone; the reader sees its end, the caller its silence

    def _read(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        stdout = self._proc.stdout
        try:
            while line := stdout.readline(_MAX_LINE):
                try:
                    message = json.loads(line)
                except ValueError:
                    continue
                if isinstance(message, dict):
                    self._dispatch(message)
        finally:
            with self._answered:
                self._eof = True
                self._answered.notify_all()

    def _dispatch(self, message: dict[str, Any]) -> None:
        with self._answered:
            if "seq" in message:
                self._answers[int(message["seq"])] = message
            elif "ready" in message or "fatal" in message:
                self._ready = message
            elif message.get("event") == "rule_off":
                self.events.append(
                    ProxyEvent(
                        "rule_off", str(message["rule"]), int(message["t_ns"]), _count(message)
                    )
                )
            self._answered.notify_all()

    # ------------------------------------------------------------------ the end

    def close(self, timeout_s: float = 5.0) -> None:
        """Stop the child (EOF, then SIGTERM, then SIGKILL, each bounded); it flushes its log."""
        if self._closed:
            return
        self._closed = True
        proc = self._proc
        if proc is None:
            return
        if proc.stdin is not None:
            with contextlib.suppress(OSError):
                proc.stdin.close()
        for stop in (None, proc.terminate, proc.kill):
            if stop is not None:
                with contextlib.suppress(OSError):
                    stop()
            try:
                proc.wait(timeout_s)
                break
            except subprocess.TimeoutExpired:
                continue
        if self._reader is not None:
            self._reader.join(timeout_s)
        if proc.stdout is not None:
            proc.stdout.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
