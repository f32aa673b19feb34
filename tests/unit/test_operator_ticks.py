"""Waits on a person, driven by tick(now) on a hand-moved clock with fake control paths and a
fake notifier: an operator stop that a person performs, one the fallback ladder performs
when the deadline passes, a complaint that is reversed, and a ten-minute wait that costs a
few thousand ticks instead of a hundred thousand."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from harness.control_fake import Answer, FakeBackend, ManualClock
from harness.observations import Observation, ObservationLog, State
from harness.operator import Alert, NotifyOutcome, NotifyResult, PromptAnswer
from harness.spec.models import Action, Drill
from harness.steps import IDLE_TICK_NS, StepPhase, Steps
from harness.timeline import Timeline
from harness.watch import HarmDetector
from tests.operator.drills import CONTEST, OPERATOR, load

MS = 1_000_000
S = 1_000_000_000
T0 = 1_000 * S
TICK = 5 * MS


@dataclass
class FakeNotifier:
    """Records each alert; answers ok for every name, and can answer a prompt."""

    alerts: list[tuple[list[str], Alert]] = field(default_factory=list)

    def notify(self, names: Sequence[str], alert: Alert) -> list[NotifyResult]:
        """Record; every notifier answered ok at once."""
        self.alerts.append((list(names), alert))
        t = alert.notified_ns
        return [NotifyResult(n, NotifyOutcome.OK, "sent", t, t) for n in names]


@dataclass
class Rig:
    """Steps over fakes, a clock, a log and the timeline's events."""

    clock: ManualClock
    drill: Drill
    line: Timeline
    log: ObservationLog
    detector: HarmDetector
    paths: dict[str, FakeBackend]
    hooks: dict[str, FakeBackend]
    events: list[dict[str, Any]]
    notifier: FakeNotifier
    steps: Steps | None = None
    ticks: int = 0

    def start(self) -> Steps:
        """The steps, their clock started at T0."""
        self.steps = Steps(
            self.drill,
            backends=self.paths,
            hooks=self.hooks,
            detector=self.detector,
            log=self.log,
            timeline=self.line,
            notifier=self.notifier,
            run_id="r1",
            base_url="http://127.0.0.1:1",
        )
        self.steps.start(T0)
        return self.steps

    def names(self) -> list[str]:
        """Event names in order."""
        return [str(e["event"]) for e in self.events]

    def run(
        self,
        answer: Callable[[int], Observation],
        until: int,
        *,
        paced: bool = False,
        act: Callable[[int], None] | None = None,
    ) -> None:
        """Tick until ``until`` (or every step settled); one answer per ``gap`` in between;
        ``paced`` sleeps the steps' own pause instead of the fast tick, as the engine does."""
        steps = self.steps if self.steps is not None else self.start()
        last = self.clock()
        gap = 10 * MS
        while self.clock() < until:
            pause = steps.pause_ns(self.clock(), TICK) if paced else TICK
            now = self.clock.advance(pause)
            for start in range(last - last % gap + gap, now + 1, gap):
                obs = answer(start)
                self.log.append(obs)
                self.detector(obs)
            last = now
            if act is not None:
                act(now)
            steps.tick(now)
            self.ticks += 1
            if steps.settled() and steps.end_ns(self.drill.hold_ns, now) is not None:
                end = steps.end_ns(self.drill.hold_ns, now)
                assert end is not None
                if now >= end:
                    return


def _rig(tmp_path: Path, text: str) -> Rig:
    clock = ManualClock(T0)
    paths = {
        "admin_api": FakeBackend("admin_api", clock, [Answer(after_ns=3 * MS)]),
        "feedback": FakeBackend("feedback", clock, [Answer(after_ns=4 * MS)]),
        "sigterm": FakeBackend("sigterm", clock, acknowledges=False),
        "sigkill": FakeBackend("sigkill", clock, acknowledges=False),
    }
    hooks = {"harmful_output": FakeBackend("harmful_output", clock, [Answer(after_ns=2 * MS)])}
    events: list[dict[str, Any]] = []
    line = Timeline(tmp_path / "timeline.jsonl", zero_ns=T0, clock=clock)
    line.listen(events.append)
    drill = load(tmp_path, text)
    return Rig(
        clock, drill, line, ObservationLog(), HarmDetector(clock), paths, hooks, events,
        FakeNotifier(),
    )  # fmt: skip


@pytest.fixture
def operator_rig(tmp_path: Path) -> Iterator[Rig]:
    """The operator-stop drill on fakes."""
    rig = _rig(tmp_path, OPERATOR)
    yield rig
    rig.line.close()


def _service(rig: Rig, stopped_at: Callable[[], int | None]) -> Callable[[int], Observation]:
    """Harmful once the incident was injected; refusing from ``stopped_at()`` on."""

    def answer(start: int) -> Observation:
        end = start + MS
        stop = stopped_at()
        if stop is not None and start >= stop:
            return Observation(start, end, 503, State.STOPPED, False, "")
        injected = rig.hooks["harmful_output"].calls
        harmful = bool(injected) and start >= injected[0].issued_ns + 2 * MS
        return Observation(start, end, 200, State.SERVING, harmful, "v2" if harmful else "v1")

    return answer


def test_operator_stop_notifies_and_never_calls_the_stop(operator_rig: Rig) -> None:
    """On harm the harness notifies (the named notifiers, the paths, the deadline) and calls
    no control path; a person's stop 2 s later holds and settles the step, with no fallback."""
    rig = operator_rig
    steps = rig.start()
    person: list[int] = []

    def act(now: int) -> None:
        wait = steps.operator
        if wait is not None and not person and now >= wait.notified_ns + 2 * S:
            person.append(now)
            wait.answered(PromptAnswer("alice", now))

    rig.run(_service(rig, lambda: person[0] if person else None), T0 + 20 * S, act=act)
    stop = steps.states[1]
    wait = stop.operator
    assert wait is not None and stop.phase is StepPhase.DONE
    assert rig.paths["admin_api"].calls == [] and rig.paths["sigterm"].calls == []
    ((names, alert),) = rig.notifier.alerts
    assert names == ["oncall", "console"] and alert.paths == ("admin_api",)
    assert alert.deadline == "stop" and alert.deadline_ns == wait.notified_ns + 5 * S
    assert alert.incident == "harmful_output"
    assert [r.notifier for r in wait.results] == ["oncall", "console"]
    assert wait.answers == [PromptAnswer("alice", person[0])]
    assert wait.fallback_started_ns is None and steps.stopped_ns is not None
    assert "fallback_started" not in rig.names()
    assert rig.names().count("operator_notified") == 2
    assert "operator_prompt_answer" in rig.names()


def test_deadline_passed_starts_the_fallback_ladder(operator_rig: Rig) -> None:
    """Nobody acts: when the stop deadline (5 s) passes, the harness records
    fallback_started and climbs its own ladder, whose first rung stops the service."""
    rig = operator_rig
    steps = rig.start()

    def stopped_at() -> int | None:
        calls = rig.paths["admin_api"].calls
        return calls[0].issued_ns + 20 * MS if calls else None

    rig.run(_service(rig, stopped_at), T0 + 30 * S)
    wait = steps.states[1].operator
    assert wait is not None
    assert wait.deadline_ns is not None and wait.fallback_started_ns is not None
    assert 0 <= wait.fallback_started_ns - wait.deadline_ns < TICK
    assert [c.action for c in rig.paths["admin_api"].calls] == [Action.STOP]
    assert rig.paths["admin_api"].calls[0].issued_ns == wait.fallback_started_ns
    started = next(e for e in rig.events if e["event"] == "fallback_started")
    assert started["deadline"] == "stop" and started["ladder"] == ["admin_api", "sigterm"]
    assert steps.states[1].phase is StepPhase.DONE and wait.held_ns is not None
    assert steps.ladder is wait.fallback


def test_halt_during_the_wait_climbs_the_fallback_at_once(operator_rig: Rig) -> None:
    """Interrupted one second into the wait: the fallback is climbed before teardown, each
    call awaited, stopping at the first acknowledged rung; recorded as an interruption."""
    rig = operator_rig
    steps = rig.start()
    rig.run(_service(rig, lambda: None), T0 + 1 * S)
    rig.run(_service(rig, lambda: None), rig.clock() + 1 * S)
    wait = steps.states[1].operator
    assert wait is not None and wait.fallback_started_ns is None
    steps.fallback_on_halt(rig.clock())
    assert [c.action for c in rig.paths["admin_api"].calls] == [Action.STOP]
    assert rig.paths["sigterm"].calls == []  # the admin stop acknowledged
    started = next(e for e in rig.events if e["event"] == "fallback_started")
    assert started["why"] == "interrupted" and started["deadline"] is None


def test_a_ten_minute_wait_costs_little(tmp_path: Path) -> None:
    """A 10-minute stop deadline with nobody acting: paced as the engine paces it, the wait
    takes a few ticks a second (not 200), the fallback still starts within a fast tick of
    the deadline, and the whole simulated wait costs well under a second of CPU."""
    text = OPERATOR.replace("stop: 5s, time_in_harm: 8s", "stop: 10m")
    rig = _rig(tmp_path, text)
    steps = rig.start()

    def stopped_at() -> int | None:
        calls = rig.paths["admin_api"].calls
        return calls[0].issued_ns + 20 * MS if calls else None

    cpu = time.process_time()
    # One answer every 10 ms for 10 minutes is 60,000 observations: they are the cost that
    # stays; the ticks are what pacing removes.
    rig.run(_service(rig, stopped_at), T0 + 11 * 60 * S, paced=True)
    used = time.process_time() - cpu
    wait = steps.states[1].operator
    assert wait is not None and wait.fallback_started_ns is not None and wait.deadline_ns
    assert 0 <= wait.fallback_started_ns - wait.deadline_ns <= TICK
    assert rig.ticks < 10 * 60 * S // IDLE_TICK_NS + 2_000, rig.ticks
    assert used < 5.0, used
    rig.line.close()


def test_pause_is_the_fast_tick_while_anything_is_in_flight(operator_rig: Rig) -> None:
    """Before harm, or with a control call in flight, the steps ask for the fast tick."""
    rig = operator_rig
    steps = rig.start()
    assert steps.pause_ns(T0, TICK) == TICK
    rig.run(_service(rig, lambda: None), T0 + 2 * S)
    assert steps.operator is not None
    assert steps.pause_ns(rig.clock(), TICK) == IDLE_TICK_NS


@pytest.fixture
def contest_rig(tmp_path: Path) -> Iterator[Rig]:
    """The contest drill on fakes."""
    rig = _rig(tmp_path, CONTEST)
    yield rig
    rig.line.close()


def test_contest_files_a_complaint_and_watches_the_reversal(contest_rig: Rig) -> None:
    """The complaint goes through the feedback path's contest call with the step's params;
    the service rolls back 300 ms after it; the watch holds, no fallback runs."""
    rig = contest_rig
    steps = rig.start()

    def answer(start: int) -> Observation:
        filed = rig.paths["feedback"].calls
        injected = rig.hooks["harmful_output"].calls
        harmful = bool(injected) and start >= injected[0].issued_ns + 2 * MS
        if filed and start >= filed[0].issued_ns + 300 * MS:
            harmful = False
        return Observation(start, start + MS, 200, State.SERVING, harmful, "v1")

    rig.run(answer, T0 + 20 * S)
    (call,) = rig.paths["feedback"].calls
    assert call.action is Action.CONTEST and call.params == {"reason": "wrong answer"}
    (watch,) = steps.reversals
    assert watch.held_ns is not None and watch.fallback_started_ns is None
    assert "contest_filed" in rig.names() and "reversal_confirmed" in rig.names()
    assert rig.paths["admin_api"].calls == []


def test_a_black_hole_complaint_falls_back_at_the_reversal_deadline(contest_rig: Rig) -> None:
    """Complaints accepted, nothing changes: at the reversal deadline the fallback stops it."""
    rig = contest_rig
    steps = rig.start()

    def stopped_at() -> int | None:
        calls = rig.paths["admin_api"].calls
        return calls[0].issued_ns + 20 * MS if calls else None

    rig.run(_service(rig, stopped_at), T0 + 30 * S)
    (watch,) = steps.reversals
    assert watch.deadline_ns is not None and watch.fallback_started_ns is not None
    assert 0 <= watch.fallback_started_ns - watch.deadline_ns < TICK
    started = next(e for e in rig.events if e["event"] == "fallback_started")
    assert started["deadline"] == "reversal"
    assert steps.ladder is watch.fallback and watch.fallback.held_ns is not None


def test_a_later_complaint_reversed_by_the_first_ones_fallback_says_so(tmp_path: Path) -> None:
    """Two complaints into a black hole; the first one's fallback ends the harm. The second
    complaint's reversal is then the fallback's work too, and its evidence must say so."""
    second = "  - at: 2s\n    contest: {via: feedback, params: {reason: again}}\nhold: 1s"
    rig = _rig(tmp_path, CONTEST.replace("hold: 1s", second, 1))
    steps = rig.start()

    def stopped_at() -> int | None:
        calls = rig.paths["admin_api"].calls
        return calls[0].issued_ns + 20 * MS if calls else None

    rig.run(_service(rig, stopped_at), T0 + 30 * S)
    rig.line.close()
    assert len(steps.reversals) == 2 and len(rig.paths["feedback"].calls) == 2
    confirmed = [e for e in rig.events if e["event"] == "reversal_confirmed"]
    assert [e["by"] for e in confirmed] == ["fallback", "fallback"], confirmed
