"""Live judgements the drill makes while the load runs: harm seen, stop taken effect.

These drive the steps (``when: harm_detected``, ``after: stopped``, the next rung of a
ladder). They are deliberately simple and fast; the figures in the evidence come from the
full analysis in ``harness.metrics`` after the run, never from these.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from harness.observations import Observation, ObservationLog, State

__all__ = ["HarmDetector", "StopWatcher"]

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


class StopWatcher:
    """Decides, from new observations, when a stop has taken effect.

    Effective (live) once ``confirm`` STOPPED answers have ended after the start of the last
    SERVING answer that could have been handled after the stop was issued, and no SERVING
    answer started after the first of them ended.
    """

    def __init__(self, log: ObservationLog, issued_ns: int, confirm: int = 3) -> None:
        self._log = log
        self._issued = issued_ns
        self._confirm = confirm
        self._next = 0
        self._last_serving_start = issued_ns
        self._stopped_ends: list[int] = []
        self.effective_ns: int | None = None

    def update(self, now_ns: int) -> bool:
        """Scan what arrived since the last call; True once the stop has taken effect."""
        if len(self._log) > self._next:
            start, end, _status, state, _harm = self._log.columns(self._next)
            for i in range(len(start)):
                if end[i] <= self._issued:
                    continue
                if state[i] == _SERVING:
                    if start[i] > self._last_serving_start:
                        self._last_serving_start = start[i]
                        # Stopped answers that ended before this serving one started no
                        # longer prove anything.
                        self._stopped_ends = [e for e in self._stopped_ends if e > start[i]]
                        self.effective_ns = None
                elif state[i] == _STOPPED and end[i] > self._last_serving_start:
                    self._stopped_ends.append(end[i])
            self._next += len(start)
        if self.effective_ns is None and len(self._stopped_ends) >= self._confirm:
            self.effective_ns = now_ns
        return self.effective_ns is not None
