"""Operator stops, contests and notifiers load typed, or fail at file:line with did-you-mean."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import SpecError
from harness.spec.models import Action, OperatorStop
from tests.operator.drills import CONTEST, OPERATOR, load


def problems(tmp_path: Path, text: str) -> list[str]:
    """The problems a drill text is rejected with."""
    with pytest.raises(SpecError) as info:
        load(tmp_path, text)
    return [str(p) for p in info.value.problems]


def test_operator_stop_and_contest_load_typed(tmp_path: Path) -> None:
    """The mapping form of stop is an OperatorStop; a contest is Action.CONTEST via its path;
    the drill's notify map and deadlines.reversal are typed."""
    drill = load(tmp_path, OPERATOR)
    stop = drill.steps[1]
    assert isinstance(stop.stop, OperatorStop) and stop.operator is stop.stop
    assert stop.action is Action.STOP
    assert stop.operator.paths == ["admin_api"] and stop.ladder == ["admin_api", "sigterm"]
    assert stop.control_paths() == []  # the harness calls none of them as the step's action
    assert set(drill.notify) == {"oncall", "console"}
    contest = load(tmp_path, CONTEST)
    step = contest.steps[1]
    assert step.action is Action.CONTEST and step.control_paths() == ["feedback"]
    assert step.contest is not None and step.contest.params == {"reason": "wrong answer"}
    assert contest.deadlines.reversal == 3.0


def test_unknown_names_are_located_with_did_you_mean(tmp_path: Path) -> None:
    """An unknown notifier, an unknown operator path and an unknown fallback rung are each
    reported at their own line, with the close name suggested."""
    text = (
        OPERATOR.replace("notify: [oncall, console]", "notify: [oncal, console]")
        .replace("paths: [admin_api]", "paths: [admin_apj]")
        .replace("fallback: [admin_api, sigterm]", "fallback: [admin_api, sigtern]")
    )
    found = problems(tmp_path, text)
    assert any(
        ":18: steps[1].stop.notify[0]: unknown notifier 'oncal'; did you mean 'oncall'?" in p
        for p in found
    ), found
    assert any(
        ":19: steps[1].stop.paths[0]: unknown control path 'admin_apj'; did you mean 'admin_api'?"
        in p
        for p in found
    ), found
    assert any(
        ":20: steps[1].stop.fallback[1]: unknown control path 'sigtern'; did you mean 'sigterm'?"
        in p
        for p in found
    ), found


def test_operator_path_without_a_stop_call_is_refused(tmp_path: Path) -> None:
    """The operator is told to stop through a path that has no stop call (feedback)."""
    found = problems(tmp_path, OPERATOR.replace("paths: [admin_api]", "paths: [feedback]"))
    assert any(
        "steps[1].stop.paths[0]: control path 'feedback' (http) has no stop call" in p
        for p in found
    ), found


def test_fallback_after_names_a_deadline_the_drill_sets(tmp_path: Path) -> None:
    """A fallback that starts on a deadline the drill does not set would never start."""
    text = OPERATOR.replace("fallback_after: stop", "fallback_after: reversal")
    found = problems(tmp_path, text)
    assert any(
        ":21: steps[1].stop.fallback_after:" in p and "deadlines.reversal" in p for p in found
    ), found
    bad = problems(tmp_path, OPERATOR.replace("fallback_after: stop", "fallback_after: stp"))
    assert any("steps[1].stop.fallback_after" in p for p in bad), bad


def test_contest_via_a_path_without_a_contest_call_is_refused(tmp_path: Path) -> None:
    """A contest through a path that cannot contest, or an unknown one, is refused at via."""
    found = problems(tmp_path, CONTEST.replace("via: feedback", "via: admin_api"))
    assert any(
        ":12: steps[1].contest.via: control path 'admin_api' (http) cannot contest" in p
        for p in found
    ), found
    found = problems(tmp_path, CONTEST.replace("via: feedback", "via: feedbak"))
    assert any(
        "steps[1].contest.via: unknown control path 'feedbak'; did you mean 'feedback'?" in p
        for p in found
    ), found


def test_contest_fallback_needs_the_reversal_deadline(tmp_path: Path) -> None:
    """A contest's fallback starts on the reversal deadline: the drill must set it."""
    found = problems(tmp_path, CONTEST.replace("deadlines: {reversal: 3s}", "deadlines: {}"))
    assert any(
        "steps[1].fallback: a contest's fallback starts when the reversal deadline" in p
        for p in found
    ), found


def test_remote_webhook_needs_allow_remote(tmp_path: Path) -> None:
    """A notifier URL beyond loopback is refused unless the drill says allow_remote: true."""
    remote = OPERATOR.replace("http://127.0.0.1:9093", "http://alerts.example.com:9093")
    found = problems(tmp_path, remote)
    assert any(":9: notify.oncall.alertmanager.url:" in p and "allow_remote" in p for p in found), (
        found
    )
    load(tmp_path, remote + "allow_remote: true\n")


def test_max_duration_is_derived_or_must_cover_the_wait(tmp_path: Path) -> None:
    """A 15-minute reversal deadline: unset, max_duration is derived to cover it; set too
    short, the drill is refused at max_duration's line saying how much it needs."""
    long = CONTEST.replace("deadlines: {reversal: 3s}", "deadlines: {reversal: 15m}")
    drill = load(tmp_path, long)
    assert drill.max_duration_ns >= (15 * 60 + 1.5) * 1e9
    found = problems(tmp_path, long + "max_duration: 60s\n")
    assert any(
        "max_duration: 60s ends the drill before a step with a person" in p for p in found
    ), found


def test_hours_long_deadlines_load(tmp_path: Path) -> None:
    """A reversal deadline of hours is a valid drill (up to 24h)."""
    drill = load(tmp_path, CONTEST.replace("{reversal: 3s}", "{reversal: 4h}"))
    assert drill.deadlines.reversal == 4 * 3600.0
    assert drill.human_wait_s > 4 * 3600.0


def test_fallback_outside_a_contest_is_refused(tmp_path: Path) -> None:
    """A step-level fallback belongs to a contest; an operator stop gives it inside stop."""
    text = OPERATOR.replace("    grace: 500ms\n", "    grace: 500ms\n    fallback: [sigterm]\n")
    found = problems(tmp_path, text)
    assert any("fallback: only a contest step takes one here" in p for p in found), found
