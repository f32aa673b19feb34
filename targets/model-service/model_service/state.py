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
            self._snapshot = replace(self._snapshot, **changes)
            return time.monotonic_ns()

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
