"""The stop ladder, driven by tick(now) on a fake clock: it names a rung only when the stop
held, and a stop that never holds exhausts it instead of waiting for ever."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from harness.control import CallOutcome, ControlBackend
from harness.observations import Observation, ObservationLog, State
from harness.spec.models import Action
from harness.steps import Ladder
from harness.timeline import Timeline

MS = 1_000_000
S = 1_000_000_000
T0 = 1_000 * S
GRACE = 500 * MS
HOLD = 1 * S


class _Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> int:
        return self.now


class _Answers(ControlBackend):
    """A control path that answers at once (a test double for an admin API or a signal)."""

    def __init__(self, name: str, clock: _Clock, *, acknowledges: bool = True) -> None:
        super().__init__(name, clock)
        self.acknowledges = acknowledges

    @property
    def timeout_s(self) -> float:
        """Generous: the call returns at once anyway."""
        return 5.0

    def _perform(self, action: Action, params: Mapping[str, Any]) -> tuple[CallOutcome, str]:
        return CallOutcome.ACKED, "ok"


@pytest.fixture
def clock() -> _Clock:
    """The hand-moved clock."""
    return _Clock()


@pytest.fixture
def timeline(tmp_path: Path, clock: _Clock) -> Iterator[tuple[Timeline, list[dict[str, Any]]]]:
    """A real timeline and the events it emitted."""
    events: list[dict[str, Any]] = []
    line = Timeline(tmp_path / "timeline.jsonl", zero_ns=T0, clock=clock)
    line.listen(events.append)
    yield line, events
    line.close()


def _baseline(log: ObservationLog) -> None:
    """A second of serving before the stop, one answer every 2 ms."""
    for t in range(T0 - S, T0, 2 * MS):
        log.append(Observation(t, t + MS, 200, State.SERVING, True, "v2"))


def _drive(ladder: Ladder, log: ObservationLog, clock: _Clock, answer: Any, until: int) -> None:
    """Every 5 ms: one answer per 1 ms handled as ``answer(t)`` says, then a tick."""
    t = clock.now
    while clock.now < until and not ladder.tick(clock.now):
        for start in range(t, clock.now, MS):
            state = answer(start)
            status = 200 if state is State.SERVING else 503
            log.append(Observation(start, start + MS, status, state, state is State.SERVING, ""))
        t = clock.now
        for rung in ladder.climbed:  # the double answers at once; let the call settle
            rung.call.result()
        clock.now += 5 * MS


def _ladder(
    names: list[str], clock: _Clock, log: ObservationLog, line: Timeline, *, acknowledges: bool
) -> Ladder:
    rungs: list[tuple[str, ControlBackend]] = [
        (name, _Answers(name, clock, acknowledges=acknowledges)) for name in names
    ]
    ladder = Ladder(rungs, GRACE, log, line, hold_ns=HOLD)
    ladder.issue_next()
    return ladder


def test_a_stop_that_never_holds_exhausts_the_ladder_and_names_no_rung(
    clock: _Clock, timeline: tuple[Timeline, list[dict[str, Any]]]
) -> None:
    """Every other answer refused, the rest served: each rung is given up on after its
    grace, the ladder is exhausted within two graces, and no rung is ever named."""
    line, events = timeline
    log = ObservationLog()
    _baseline(log)
    ladder = _ladder(["admin_api", "sigterm"], clock, log, line, acknowledges=True)

    def flapping(t: int) -> State:
        return State.STOPPED if (t // MS) % 2 else State.SERVING

    _drive(ladder, log, clock, flapping, T0 + 10 * S)
    assert ladder.exhausted_ns is not None and ladder.held_ns is None
    assert ladder.exhausted_ns - T0 <= 2 * GRACE + 20 * MS
    assert ladder.rung_in_force() is None
    names = [e["event"] for e in events]
    assert "stop_confirmed" not in names
    assert names.count("stop_rung_issued") == 2


def test_a_stop_that_holds_names_the_rung_in_force(
    clock: _Clock, timeline: tuple[Timeline, list[dict[str, Any]]]
) -> None:
    """Refused from 20 ms after the issue: the ladder settles once the stop held for the
    hold, and names the one rung issued, like the analysis would."""
    line, events = timeline
    log = ObservationLog()
    _baseline(log)
    ladder = _ladder(["sigterm"], clock, log, line, acknowledges=False)
    gate = T0 + 20 * MS
    _drive(ladder, log, clock, lambda t: State.STOPPED if t >= gate else State.SERVING, T0 + 5 * S)
    assert ladder.held_ns is not None and ladder.exhausted_ns is None
    assert gate + HOLD <= ladder.held_ns <= gate + HOLD + 20 * MS
    assert ladder.rung_in_force() == "sigterm"
    assert not ladder.can_acknowledge
    (confirmed,) = [e for e in events if e["event"] == "stop_confirmed"]
    assert confirmed["rung"] == "sigterm"


def test_a_stop_in_effect_late_in_its_grace_is_given_the_hold(
    clock: _Clock, timeline: tuple[Timeline, list[dict[str, Any]]]
) -> None:
    """The last rung takes effect just before its grace ends: the ladder waits for the hold
    instead of calling it exhausted."""
    line, _events = timeline
    log = ObservationLog()
    _baseline(log)
    ladder = _ladder(["admin_api"], clock, log, line, acknowledges=True)
    gate = T0 + GRACE - 30 * MS
    _drive(ladder, log, clock, lambda t: State.STOPPED if t >= gate else State.SERVING, T0 + 5 * S)
    assert ladder.held_ns is not None and ladder.exhausted_ns is None
