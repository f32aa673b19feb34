"""Live judgements the drill makes while the load runs: harm seen, stop taken effect.

These drive the steps (``when: harm_detected``, ``after: stopped``, the next rung of a
ladder). "Taken effect" and "held" are decided by the same code the final analysis uses
(``harness.metrics._confirm``), fed incrementally; the figures in the evidence come from
the full analysis after the run, never from these.
"""

from __future__ import annotations

import threading
from array import array
from collections.abc import Callable

from harness.metrics import AnalysisParams, ChangeTracker
from harness.observations import Observation, ObservationLog, State
from harness.spec.durations import to_ns

__all__ = ["HarmDetector", "TransitionWatcher"]

_SERVING = int(State.SERVING)
_STOPPED = int(State.STOPPED)
_STOP_KIND = {_SERVING: 1, _STOPPED: 2}


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
    """Decides, from new observations, when a change (a stop, a rollback) has taken effect
    and when it has held, by the one definition in ``harness.metrics`` (:class:`ChangeTracker`).

    For a stop, serving answers are old and stopped ones new; for a rollback, good answers
    (serving, harm-free, from ``version``) are new and every other answer is old; for a
    reversal (``harm_free``: a complaint answered), harmful answers are old and harm-free
    ones (stopped, or served without harm) new, as the analysis bounds the end of harm.
    """

    BASELINE_ROWS = 65_536
    """Rows this far back from the issue are read (the presence limit is learned from the
    5 s before it)."""

    def __init__(
        self,
        log: ObservationLog,
        issued_ns: int,
        *,
        hold_ns: int,
        version: str | None = None,
        harm_free: bool = False,
        confirm: int = 3,
        params: AnalysisParams | None = None,
    ) -> None:
        params = params if params is not None else AnalysisParams()
        self._log = log
        self._version = version
        self._harm_free = harm_free
        n = len(log)
        self.tracker = ChangeTracker(
            issued_ns,
            hold_ns=hold_ns,
            gap_ns=to_ns(params.presence_gap_s),
            factor=params.presence_gap_factor,
            effective_count=confirm,
        )
        # Rows before the issue that ended after it still count; rows are roughly in end
        # order, so start a little before the current length.
        self._next = max(0, n - self.BASELINE_ROWS)
        self.effective_ns: int | None = None
        """When the watcher first saw the change take effect (withdrawn if undone)."""

    def _kinds(self, since: int) -> tuple[list[int], array[int], array[int]]:
        """For each new row: 1 old kind, 2 new kind, 0 neither; plus starts and ends."""
        start, end, _status, state, harmful = self._log.columns(since)
        if self._harm_free:  # a reversal: harmful is old, harm-free answers are new
            kinds = [
                1 if h else (2 if s in _STOP_KIND else 0)
                for s, h in zip(state, harmful, strict=False)
            ]
        elif self._version is None:  # a stop: serving is old, stopped is new
            kinds = [_STOP_KIND.get(s, 0) for s in state]
        else:  # a rollback: good answers are new, every other answer is old
            table, index = self._log.versions(since)
            wanted = table.index(self._version) if self._version in table else -1
            kinds = [
                2 if s == _SERVING and not h and v == wanted else 1
                for s, h, v in zip(state, harmful, index, strict=False)
            ]
        return kinds, start, end

    def update(self, now_ns: int) -> bool:
        """Scan what arrived since the last call; True while the change is in effect."""
        if len(self._log) > self._next:
            kinds, start, end = self._kinds(self._next)
            n = min(len(kinds), len(start), len(end))
            self.tracker.add(start[:n], end[:n], kinds[:n])
            self._next += n
        if self.tracker.effective():
            if self.effective_ns is None:
                self.effective_ns = now_ns
        else:
            self.effective_ns = None
        return self.effective_ns is not None

    def held(self, now_ns: int) -> bool:
        """Whether the change has held for the hold (sticky), on what arrived by now."""
        self.update(now_ns)
        return self.tracker.held(now_ns)

    @property
    def held_ns(self) -> int | None:
        """The instant the hold completed, once it has."""
        return self.tracker.held_ns
