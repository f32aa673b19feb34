"""The stop ladder, driven by tick(now) on a fake clock: it names a rung only when the stop
held, and a stop that never holds exhausts it instead of waiting for ever."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.control import CallOutcome, ControlBackend
from harness.control_fake import Answer, FakeBackend, ManualClock
from harness.observations import Observation, ObservationLog, State
from harness.steps import Ladder
from harness.timeline import Timeline

MS = 1_000_000
S = 1_000_000_000
T0 = 1_000 * S
GRACE = 500 * MS
HOLD = 1 * S


@pytest.fixture
def clock() -> ManualClock:
    """The hand-moved clock."""
    return ManualClock(T0)


@pytest.fixture
def timeline(tmp_path: Path, clock: ManualClock) -> Iterator[tuple[Timeline, list[dict[str, Any]]]]:
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


def _drive(
    ladder: Ladder,
    log: ObservationLog,
    clock: ManualClock,
    answer: Callable[[int], State],
    until: int,
) -> None:
    """Every 5 ms: one answer per 1 ms handled as ``answer(t)`` says, then a tick."""
    t = clock()
    while clock() < until and not ladder.tick(clock()):
        for start in range(t, clock(), MS):
            state = answer(start)
            status = 200 if state is State.SERVING else 503
            log.append(Observation(start, start + MS, status, state, state is State.SERVING, ""))
        t = clock()
        clock.advance(5 * MS)


def _ladder(
    names: list[str],
    clock: ManualClock,
    log: ObservationLog,
    line: Timeline,
    *,
    acknowledges: bool,
    answers: tuple[Answer, ...] = (Answer(),),
) -> Ladder:
    rungs: list[tuple[str, ControlBackend]] = [
        (name, FakeBackend(name, clock, answers, acknowledges=acknowledges)) for name in names
    ]
    ladder = Ladder(rungs, GRACE, log, line, hold_ns=HOLD)
    ladder.issue_next()
    return ladder


def test_a_stop_that_never_holds_exhausts_the_ladder_and_names_no_rung(
    clock: ManualClock, timeline: tuple[Timeline, list[dict[str, Any]]]
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
    clock: ManualClock, timeline: tuple[Timeline, list[dict[str, Any]]]
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
    clock: ManualClock, timeline: tuple[Timeline, list[dict[str, Any]]]
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


def _serving(_t: int) -> State:
    return State.SERVING


@pytest.mark.parametrize(
    ("answer", "escalates_after", "why"),
    [
        (Answer(CallOutcome.FAILED, "HTTP 500", after_ns=40 * MS), 40 * MS, "rung failed"),
        (Answer(after_ns=None), 200 * MS, "rung failed"),
        (Answer(after_ns=1 * MS), GRACE, "not effective within grace"),
    ],
    ids=["refused", "hung-past-its-timeout", "acknowledged-but-no-effect"],
)
def test_a_rung_is_given_up_on_at_the_exact_instant(
    clock: ManualClock,
    timeline: tuple[Timeline, list[dict[str, Any]]],
    answer: Answer,
    escalates_after: int,
    why: str,
) -> None:
    """A refused rung escalates when its answer comes, a hung one at its timeout (200 ms,
    before the grace), one acknowledged without effect at its grace; ticks land on every
    millisecond so the instant is exact."""
    line, events = timeline
    log = ObservationLog()
    _baseline(log)
    first = FakeBackend("admin_api", clock, [answer], timeout_s=0.2)
    second = FakeBackend("sigterm", clock, acknowledges=False)
    ladder = Ladder([("admin_api", first), ("sigterm", second)], GRACE, log, line, hold_ns=HOLD)
    ladder.issue_next()
    while len(ladder.climbed) < 2 and clock() < T0 + 2 * GRACE:
        now = clock.advance(MS)
        log.append(Observation(now - MS, now, 200, State.SERVING, True, ""))
        ladder.tick(now)
    assert [r.name for r in ladder.climbed] == ["admin_api", "sigterm"]
    assert second.calls[0].issued_ns == T0 + escalates_after
    (escalated,) = [e for e in events if e["event"] == "stop_escalated"]
    assert escalated["why"] == why


def test_the_last_rung_failing_at_once_still_gets_its_grace(
    clock: ManualClock, timeline: tuple[Timeline, list[dict[str, Any]]]
) -> None:
    """The only rung is refused at once: the ladder is exhausted a grace after the issue, not
    at the refusal, so a stop that is merely slow to show is still seen."""
    line, events = timeline
    log = ObservationLog()
    _baseline(log)
    refused = (Answer(CallOutcome.FAILED, "HTTP 403", after_ns=0),)
    ladder = _ladder(["admin_api"], clock, log, line, acknowledges=True, answers=refused)
    _drive(ladder, log, clock, _serving, T0 + 5 * S)
    assert ladder.exhausted_ns == T0 + GRACE
    assert ladder.first_ack_ns is None
    assert [e["event"] for e in events].count("stop_ladder_exhausted") == 1
