"""What teardown puts back in a service the harness does not own, decided from the steps as
they ended, on a hand-moved clock with fake control paths (no thread, socket or sleep)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from harness.control import CallOutcome
from harness.control_fake import Answer, FakeBackend, ManualClock
from harness.observations import Observation, ObservationLog, State
from harness.restore import RestoreKind, RestorePlan
from harness.spec import load_drill
from harness.spec.models import Action
from harness.steps import Steps
from harness.timeline import Timeline
from harness.watch import HarmDetector
from tests.helpers import ROOT

MS = 1_000_000
S = 1_000_000_000
T0 = 1_000 * S

HEAD = """\
drill: unit-restore
target: model-service
load: {users: 1, request: {method: POST, path: /v1/generate, json: {prompt: hi}}}
harm:
  - json_path: $.output
    regex: "CANARY-[0-9a-f]{8}"
hold: 200ms
steps:
  - at: 100ms
    inject: harmful_output
  - when: harm_detected
    stop: [admin_api, sigterm]
    grace: 100ms
"""


Built = tuple[Steps, dict[str, FakeBackend]]
Build = Callable[..., Built]


@pytest.fixture
def make(tmp_path: Path) -> Iterator[Build]:
    """Build steps from HEAD plus ``more`` over fake paths that acknowledge everything (the
    admin API answers ``admin`` in turn), and run them for two seconds of a fake clock."""
    lines: list[Timeline] = []

    def build(more: str = "", admin: tuple[Answer, ...] = (Answer(after_ns=MS),)) -> Built:
        path = tmp_path / "drill.yaml"
        path.write_text(HEAD + more)
        drill = load_drill(path, targets_dirs=[ROOT / "targets"])
        clock = ManualClock(T0)
        fakes = {
            name: FakeBackend(name, clock, [Answer(after_ns=MS)])
            for name in ("sigterm", "harmful_output")
        }
        fakes["admin_api"] = FakeBackend("admin_api", clock, admin)
        line = Timeline(tmp_path / f"timeline{len(lines)}.jsonl", zero_ns=T0, clock=clock)
        lines.append(line)
        detector = HarmDetector(clock)
        log = ObservationLog()
        steps = Steps(
            drill,
            backends={k: v for k, v in fakes.items() if k != "harmful_output"},
            hooks={"harmful_output": fakes["harmful_output"]},
            detector=detector,
            log=log,
            timeline=line,
        )
        steps.start(T0)
        # Harmful from the inject until the stop; then refused, so the stop holds.
        while clock() < T0 + 2 * S:
            now = clock.advance(5 * MS)
            stopped = bool(fakes["admin_api"].calls)
            harmful = bool(fakes["harmful_output"].calls) and not stopped
            obs = Observation(
                now - MS, now, 503 if stopped else 200,
                State.STOPPED if stopped else State.SERVING, harmful, "v1",
            )  # fmt: skip
            log.append(obs)
            detector(obs)
            steps.tick(now)
        steps.abandon(clock())
        return steps, fakes

    yield build
    for line in lines:
        line.close()


def test_a_stop_left_standing_and_an_incident_left_on_are_both_put_back(make: Build) -> None:
    """No clear and no resume: the plan names the incident and the stop's rungs; the restore
    clears the incident first, then resumes through the one rung that can (the signal
    cannot), never through a signal."""
    steps, fakes = make()
    plan = steps.restore_plan()
    assert plan == RestorePlan(incidents_on=("harmful_output",), stopped_via=("admin_api",))
    restored = steps.restore()
    assert [(a.kind, a.name, a.outcome) for a in restored.actions] == [
        (RestoreKind.CLEAR_INCIDENT, "harmful_output", CallOutcome.ACKED),
        (RestoreKind.RESUME, "admin_api", CallOutcome.ACKED),
    ]
    assert restored.left == ()
    assert fakes["sigterm"].calls == []
    assert [c.action for c in fakes["admin_api"].calls] == [Action.STOP, Action.RESUME]


def test_a_drill_that_cleared_and_resumed_leaves_nothing_to_restore(make: Build) -> None:
    """A clear after the inject and a resume after the stop: nothing is put back."""
    steps, _fakes = make(
        "  - after: stopped\n    clear: harmful_output\n  - after: clear\n    resume: admin_api\n"
    )
    assert steps.restore_plan().empty
    assert steps.restore().actions == ()


def test_an_incident_undone_on_interrupt_is_not_cleared_twice(make: Build) -> None:
    """The interrupted path's undo (acknowledged) already cleared it: the restore only
    resumes."""
    steps, _fakes = make()
    steps.undo_incidents()
    assert steps.restore_plan().incidents_on == ()


def test_a_refused_resume_says_the_service_may_still_be_stopped(make: Build) -> None:
    """The resume is refused: the action is recorded as failed and ``left`` says so."""
    refused = Answer(CallOutcome.FAILED, "HTTP 500 broken", after_ns=MS)
    steps, _fakes = make(admin=(Answer(after_ns=MS), refused))
    restored = steps.restore()
    assert restored.actions[-1].outcome is CallOutcome.FAILED
    assert restored.left == ("the service may still be stopped (admin_api: HTTP 500 broken)",)
