"""Live judgements the drill makes while the load runs: harm seen, stop taken effect.

These drive the steps (``when: harm_detected``, ``after: stopped``, the next rung of a
ladder). They are deliberately simple and fast; the figures in the evidence come from the
full analysis in ``harness.metrics`` after the run, never from these.
"""

from __future__ import annotations

import threading
from array import array
from collections.abc import Callable

from harness.observations import Observation, ObservationLog, State

__all__ = ["HarmDetector", "TransitionWatcher"]

_SERVING = int(State.SERVING)
_STOPPED = int(State.STOPPED)


class HarmDetector:
    """Notes the instant the harness first saw a harmful answer (called per observation)."""

    def __init__(self, clock: Callable[[], int]) -> None:
        self._clock = clock
        self.detected_ns: int | None = None
        self.first: Observation | None = None
        self.event = threading.Event()
        self.harmful = 0

    def __call__(self, obs: Observation) -> None:
        if obs.harmful:
            self.harmful += 1
            if self.detected_ns is None:
                self.detected_ns = self._clock()
                self.first = obs
                self.event.set()


class TransitionWatcher:
    """Decides, from new observations, when a change (a stop, a rollback) has taken effect.

    Effective (live) once ``confirm`` answers of the new kind have ended after the start of
    the last answer of the old kind that could have been handled after the change was
    issued. A later old-kind answer withdraws the decision until new evidence arrives.
    """

    def __init__(
        self,
        log: ObservationLog,
        issued_ns: int,
        *,
        version: str | None = None,
        confirm: int = 3,
    ) -> None:
        self._log = log
        self._issued = issued_ns
        self._version = version
        self._confirm = confirm
        self._next = 0
        self._last_old_start = issued_ns
        self._new_ends: list[int] = []
        self.effective_ns: int | None = None

    def _kinds(self, since: int) -> tuple[list[bool], list[bool], array[int], array[int]]:
        """For each new row: (is old kind, is new kind), plus starts and ends."""
        start, end, _status, state, harmful = self._log.columns(since)
        if self._version is None:  # a stop: serving is old, stopped is new
            old = [s == _SERVING for s in state]
            new = [s == _STOPPED for s in state]
        else:  # a rollback: good answers are new, every other answer is old
            table, index = self._log.versions(since)
            wanted = table.index(self._version) if self._version in table else -1
            new = [
                s == _SERVING and not h and v == wanted
                for s, h, v in zip(state, harmful, index, strict=False)
            ]
            old = [not g for g in new]
        return old, new, start, end

    def update(self, now_ns: int) -> bool:
        """Scan what arrived since the last call; True once the change has taken effect."""
        if len(self._log) > self._next:
            old, new, start, end = self._kinds(self._next)
            for i in range(min(len(old), len(start))):
                if end[i] <= self._issued:
                    continue
                if old[i]:
                    if start[i] > self._last_old_start:
                        self._last_old_start = start[i]
                        self._new_ends = [e for e in self._new_ends if e > start[i]]
                        self.effective_ns = None
                elif new[i] and end[i] > self._last_old_start:
                    self._new_ends.append(end[i])
            self._next += min(len(old), len(start))
        if self.effective_ns is None and len(self._new_ends) >= self._confirm:
            self.effective_ns = now_ns
        return self.effective_ns is not None
