"""The drill's steps as a state machine, driven by tick(now) on a hand-moved clock with fake
control paths: no thread, no socket, no sleep, so every instant is exact."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from harness.control import CallOutcome
from harness.control_fake import Answer, FakeBackend, ManualClock
from harness.observations import Observation, ObservationLog, State
from harness.spec import load_drill
from harness.spec.models import Action, Drill
from harness.steps import StepPhase, Steps
from harness.timeline import Timeline
from harness.watch import HarmDetector
from tests.helpers import ROOT

MS = 1_000_000
S = 1_000_000_000
T0 = 1_000 * S
TICK = 5 * MS

DRILL = """\
drill: unit-steps
target: model-service
load: {users: 1, request: {method: POST, path: /v1/generate, json: {prompt: hi}}}
harm:
  - json_path: $.output
    regex: "CANARY-[0-9a-f]{8}"
steps:
  - at: 1s
    inject: bad_deploy
  - when: harm_detected
    stop: [admin_api, sigterm, sigkill]
    grace: 500ms
  - after: stopped
    rollback: {via: admin_api, to: v1}
  - after: rollback
    resume: admin_api
hold: 1s
"""


@dataclass
class Rig:
    """Steps wired to fakes, with the clock, log, detector and timeline events they use."""

    clock: ManualClock
    drill: Drill
    line: Timeline
    log: ObservationLog
    detector: HarmDetector
    paths: dict[str, FakeBackend]
    hooks: dict[str, FakeBackend]
    events: list[dict[str, Any]]
    steps: Steps | None = None

    def start(self) -> Steps:
        """The steps over the fakes as they are now, their clock started at T0."""
        self.steps = Steps(
            self.drill,
            backends=self.paths,
            hooks=self.hooks,
            detector=self.detector,
            log=self.log,
            timeline=self.line,
        )
        self.steps.start(T0)
        return self.steps

    def names(self) -> list[str]:
        """The timeline's event names, in order."""
        return [str(e["event"]) for e in self.events]

    def run(self, answer: Callable[[int], Observation], until: int) -> None:
        """Every tick: one answer per millisecond since the last tick (each judged by the
        detector), then ``steps.tick(now)``; until the instant, or every step settled."""
        steps = self.steps if self.steps is not None else self.start()
        last = self.clock()
        while self.clock() < until:
            now = self.clock.advance(TICK)
            for start in range(last, now, MS):
                obs = answer(start)
                self.log.append(obs)
                self.detector(obs)
            last = now
            steps.tick(now)
            if steps.settled():
                return


def _drill(tmp_path: Path, text: str = DRILL) -> Drill:
    path = tmp_path / "drill.yaml"
    path.write_text(text)
    return load_drill(path, targets_dirs=[ROOT / "targets"])


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    """The drill above on fakes: the admin API refuses its stop, then acknowledges."""
    clock = ManualClock(T0)
    refused = Answer(CallOutcome.FAILED, "HTTP 503 busy", after_ns=10 * MS)
    paths = {
        "admin_api": FakeBackend("admin_api", clock, [refused, Answer(after_ns=3 * MS)]),
        "sigterm": FakeBackend("sigterm", clock, acknowledges=False),
        "sigkill": FakeBackend("sigkill", clock, acknowledges=False),
    }
    hooks = {"bad_deploy": FakeBackend("bad_deploy", clock, [Answer(after_ns=2 * MS)])}
    events: list[dict[str, Any]] = []
    line = Timeline(tmp_path / "timeline.jsonl", zero_ns=T0, clock=clock)
    line.listen(events.append)
    drill = _drill(tmp_path)
    yield Rig(clock, drill, line, ObservationLog(), HarmDetector(clock), paths, hooks, events)
    line.close()


def _service(rig: Rig) -> Callable[[int], Observation]:
    """The target: harmful v2 once the incident was acknowledged, refusing from 20 ms after
    SIGTERM was sent, good v1 again once resumed."""

    def answer(start: int) -> Observation:
        end = start + MS
        sigterm = rig.paths["sigterm"].calls
        resumed = [c for c in rig.paths["admin_api"].calls if c.action is Action.RESUME]
        if resumed and start >= resumed[0].issued_ns:
            return Observation(start, end, 200, State.SERVING, False, "v1")
        if sigterm and start >= sigterm[0].issued_ns + 20 * MS:
            return Observation(start, end, 503, State.STOPPED, False, "")
        injected = rig.hooks["bad_deploy"].calls
        harmful = bool(injected) and start >= injected[0].issued_ns + 2 * MS
        return Observation(start, end, 200, State.SERVING, harmful, "v2" if harmful else "v1")

    return answer


def test_steps_fire_in_order_at_exact_instants(rig: Rig) -> None:
    """Inject at 1 s, stop on harm (the refused admin stop escalates to SIGTERM at once),
    rollback once the stop held, resume at the first tick after the rollback returned;
    SIGKILL never sent."""
    steps = rig.start()
    rig.run(_service(rig), T0 + 10 * S)
    inject, stop, rollback, resume = steps.states
    assert inject.fired_ns == T0 + 1 * S
    assert inject.settled_ns == T0 + 1 * S + 2 * MS
    assert rig.detector.detected_ns is not None
    assert stop.fired_ns == rig.detector.detected_ns
    ladder = stop.ladder
    assert ladder is not None
    assert [r.name for r in ladder.climbed] == ["admin_api", "sigterm"]
    assert ladder.climbed[1].issued_ns == ladder.climbed[0].issued_ns + 10 * MS
    assert ladder.rung_in_force() == "sigterm"
    assert rig.paths["sigkill"].calls == []
    assert ladder.held_ns is not None and steps.stopped_ns is not None
    assert rollback.fired_ns == steps.stopped_ns
    assert rollback.fired_ns is not None and rollback.settled_ns == rollback.fired_ns + 3 * MS
    assert resume.fired_ns is not None  # at the first tick after the rollback returned
    assert 0 <= resume.fired_ns - rollback.settled_ns < TICK
    assert [s.phase for s in steps.states] == [StepPhase.DONE] * 4
    names = rig.names()
    assert names.index("stop_escalated") < names.index("stop_confirmed")
    assert names.index("stop_confirmed") < names.index("rollback_issued")
    assert [e["step"] for e in rig.events if e["event"] == "step_fired"] == [
        s.id for s in steps.states
    ]
    assert steps.settled()


def test_a_hung_inject_fails_at_its_timeout_and_nothing_else_fires(rig: Rig) -> None:
    """The incident hook never answers: the inject step fails exactly at the hook's timeout,
    the drill records the incident as not injected, and with no harm the stop never fires
    (the steps wait only on harm, and are marked not fired when the drill ends)."""
    rig.hooks["bad_deploy"] = FakeBackend(
        "bad_deploy", rig.clock, [Answer(after_ns=None)], timeout_s=1.0
    )
    steps = rig.start()
    rig.run(lambda t: Observation(t, t + MS, 200, State.SERVING, False, "v1"), T0 + 3 * S)
    inject = steps.states[0]
    assert inject.phase is StepPhase.FAILED
    assert inject.settled_ns == T0 + 1 * S + 1 * S
    assert inject.result is not None and inject.result.outcome is CallOutcome.TIMED_OUT
    assert steps.failed_injects == [inject]
    assert "incident_not_injected" in rig.names()
    assert steps.waiting_only_on_harm()
    steps.abandon(rig.clock())
    assert [s.phase for s in steps.states[1:]] == [StepPhase.NOT_FIRED] * 3


LATE_STOP = """\
drill: unit-late-stop
target: model-service
load: {users: 1, request: {method: POST, path: /v1/generate, json: {prompt: hi}}}
harm:
  - json_path: $.output
    regex: "CANARY-[0-9a-f]{8}"
steps:
  - at: 1s
    inject: bad_deploy
  - when: harm_detected
    stop: [admin_api]
    grace: 500ms
hold: 1s
"""


def test_a_stop_effective_after_its_ladder_gave_up_keeps_the_drill_open_until_it_held(
    rig: Rig, tmp_path: Path
) -> None:
    """Every user is busy (a stream admitted before the stop drains for 800 ms): no answer
    arrives for 800 ms after the stop, so the ladder gives up at its 500 ms grace. The gate
    was shut at once, and the first refusals arrive at +800 ms; the drill must stay open a
    hold after them, or the analysis cannot confirm the stop (it used to end a hold after
    the ladder gave up, 200 ms short: the stop came out unverified)."""
    rig.drill = _drill(tmp_path, LATE_STOP)
    rig.hooks["bad_deploy"] = FakeBackend("bad_deploy", rig.clock, [Answer(after_ns=2 * MS)])
    rig.paths["admin_api"] = FakeBackend("admin_api", rig.clock, [Answer(after_ns=1 * MS)])
    steps = rig.start()
    stop_state = steps.states[1]

    def answer(start: int) -> Observation | None:
        stops = rig.paths["admin_api"].calls
        if stops:
            issued = stops[0].issued_ns
            if start < issued + 800 * MS:
                return None  # every user still reads its stream
            return Observation(start, start + MS, 503, State.STOPPED, False, "")
        harmful = bool(rig.hooks["bad_deploy"].calls)
        return Observation(start, start + MS, 200, State.SERVING, harmful, "v2")

    last = ended = rig.clock()
    while rig.clock() < T0 + 10 * S:
        now = rig.clock.advance(TICK)
        for start in range(last, now, MS):
            obs = answer(start)
            if obs is not None:
                rig.log.append(obs)
                rig.detector(obs)
        last = now
        steps.tick(now)
        end = steps.end_ns(rig.drill.hold_ns, now)
        if steps.settled() and end is not None and now >= end:
            ended = now
            break
    ladder = stop_state.ladder
    assert ladder is not None and ladder.exhausted_ns is not None
    issued = ladder.climbed[0].issued_ns
    assert ladder.exhausted_ns - issued == pytest.approx(500 * MS, abs=TICK)
    upper = ladder.watcher.tracker.upper_ns
    assert upper is not None and upper - issued == pytest.approx(801 * MS, abs=2 * MS)
    assert ended >= upper + rig.drill.hold_ns
    assert ladder.watcher.tracker.held_ns is not None
