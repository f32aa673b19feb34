"""The serving gate: what requests see, flipped and stamped under the lock they read it with.

The request path reads one immutable :class:`Snapshot` under ``_lock``. Every real change
builds a new snapshot, swaps it in and takes ``time.monotonic_ns()`` while still holding that
lock, so a request that read the old snapshot read it before the stamp and a request that read
the new one read it after. That stamp is what the event log records.

What the admin API *claims* (``claimed_gate``, ``claimed_version``) is kept apart from the
snapshot, so a defect can make the control plane lie while the event log stays true.
"""

from __future__ import annotations

import enum
import threading
import time
from dataclasses import dataclass, replace
from typing import Any

from .events import EventLog
from .model import ModelVersion

__all__ = ["Gate", "ResumeRefused", "ServiceState", "Snapshot"]


class Gate(enum.Enum):
    """Whether inference requests are admitted."""

    SERVING = "serving"
    STOPPED = "stopped"
    DRAINING = "draining"


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Everything a request needs to decide how to answer, read once per request."""

    gate: Gate
    model: ModelVersion
    stop_reason: str = ""
    leak_rate: float = 0.0
    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    error_rate: float = 0.0
    error_status: int = 500


class ResumeRefused(Exception):
    """Raised when resume is asked of a process that is draining to exit."""


class ServiceState:
    """Owns the snapshot, the in-flight count and every real state transition."""

    def __init__(
        self, versions: dict[str, ModelVersion], start_version: str, events: EventLog
    ) -> None:
        self.versions = versions
        self.events = events
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        # Streams wait on this between tokens, so a stop reaches them at once, not a token later.
        self._gate_changed = threading.Condition(self._lock)
        self._closed_ns: int | None = None
        """When the gate last left serving (None while serving)."""
        self._snapshot = Snapshot(gate=Gate.SERVING, model=versions[start_version])
        self._in_flight = 0
        # Serialises transitions so event lines are written in the order they took effect.
        self.control = threading.RLock()
        self.ready = False
        self.claimed_gate: Gate | None = None
        self.claimed_version: str | None = None

    # -- request path -------------------------------------------------------------------

    def admit(self) -> Snapshot:
        """Read the snapshot; when it is serving, count the caller in flight."""
        with self._lock:
            snapshot = self._snapshot
            if snapshot.gate is Gate.SERVING:
                self._in_flight += 1
            return snapshot

    def finish(self) -> None:
        """Count an admitted request out; wakes a drain waiting for the last one."""
        with self._lock:
            self._in_flight -= 1
            if self._in_flight == 0 and self._snapshot.gate is Gate.DRAINING:
                self._idle.notify_all()

    @property
    def snapshot(self) -> Snapshot:
        """The current snapshot, for answers that do not pass the gate."""
        return self._snapshot

    # -- what the control plane reports ---------------------------------------------------

    def reported_gate(self) -> Gate:
        """The state the admin API and readiness report (a defect may make it lie)."""
        return self.claimed_gate or self._snapshot.gate

    def reported_version(self) -> str:
        """The version the admin API reports (a defect may make it lie)."""
        return self.claimed_version or self._snapshot.model.name

    # -- transitions: callers hold ``control`` ------------------------------------------

    def apply(self, **changes: Any) -> int:
        """Swap in a snapshot with ``changes`` and return the instant it took effect."""
        with self._lock:
            before = self._snapshot.gate
            self._snapshot = replace(self._snapshot, **changes)
            t_ns = time.monotonic_ns()
            gate = self._snapshot.gate
            if gate is not before:
                self._closed_ns = None if gate is Gate.SERVING else t_ns
                self._gate_changed.notify_all()
            return t_ns

    # -- streams ------------------------------------------------------------------------

    def _stream_open(self, drain: bool, limit_s: float, now_ns: int) -> bool:
        """Whether a stream may still send (lock held): serving, or draining streams within
        ``limit_s`` of the stop."""
        closed = self._closed_ns
        if self._snapshot.gate is Gate.SERVING or closed is None:
            return True
        return drain and now_ns - closed < limit_s * 1e9

    def stream_may_send(self, drain: bool, limit_s: float) -> tuple[bool, int]:
        """Whether a stream may send its next chunk now, and the instant of that decision,
        taken under the gate's lock (so it orders exactly against the stop's own stamp)."""
        with self._lock:
            now = time.monotonic_ns()
            return self._stream_open(drain, limit_s, now), now

    def wait_stream_tick(self, deadline: float, drain: bool, limit_s: float) -> bool:
        """Wait until ``deadline`` (``time.monotonic()``) for the next token; False as soon as
        the stream must end (a stop, or the drain limit after one)."""
        with self._gate_changed:
            while True:
                now_ns = time.monotonic_ns()
                if not self._stream_open(drain, limit_s, now_ns):
                    return False
                remaining = deadline - now_ns / 1e9
                if remaining <= 0:
                    return True
                closed = self._closed_ns
                if closed is not None:  # draining: wake when the drain limit passes too
                    remaining = min(remaining, max(0.0, (closed - now_ns) / 1e9 + limit_s))
                self._gate_changed.wait(remaining)

    def stop(self, reason: str) -> bool:
        """Close the gate (kill switch); False when it was not serving."""
        with self.control:
            if self._snapshot.gate is not Gate.SERVING:
                return False
            t_ns = self.apply(gate=Gate.STOPPED, stop_reason=reason)
            self.claimed_gate = None
            self.events.emit("stop_effective", t_ns, reason=reason)
            return True

    def resume(self) -> bool:
        """Reopen a stopped gate; False when it was already serving."""
        with self.control:
            gate = self._snapshot.gate
            if gate is Gate.DRAINING:
                raise ResumeRefused("the process is draining to exit")
            self.claimed_gate = None
            if gate is Gate.SERVING:
                return False
            t_ns = self.apply(gate=Gate.SERVING, stop_reason="")
            self.events.emit("resumed", t_ns)
            return True

    def switch_version(self, to: str, cause: str) -> bool:
        """Serve model ``to`` from now on; False when it already was."""
        with self.control:
            self.claimed_version = None
            current = self._snapshot.model.name
            if current == to:
                return False
            t_ns = self.apply(model=self.versions[to])
            self.events.emit("version_switched", t_ns, **{"from": current, "to": to}, cause=cause)
            return True

    def begin_drain(self, signal_name: str) -> bool:
        """Close the gate for good before exiting; False when already draining."""
        with self.control:
            if self._snapshot.gate is Gate.DRAINING:
                return False
            t_ns = self.apply(gate=Gate.DRAINING)
            self.claimed_gate = None
            self.events.emit("draining", t_ns, signal=signal_name)
            return True

    def wait_idle(self, timeout_s: float) -> bool:
        """Wait until no admitted request is in flight; False on timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: self._in_flight == 0, timeout=timeout_s)

    @property
    def in_flight(self) -> int:
        """Admitted requests that have not finished."""
        return self._in_flight
