"""Rollback bounds and the target's own event log set beside what the load observed."""

from __future__ import annotations

from harness.metrics import (
    Deadlines,
    DeadlineVerdict,
    Metrics,
    RollbackKind,
    RunInstants,
    StopKind,
    analyse,
    check_ground_truth,
    judge,
)
from harness.observations import ObservationLog, State
from tests.metrics.metrics_sim import MS, T0, Answer, S, Server, gate, simulate

INCIDENT = T0 + S // 2
ISSUED = T0 + 1 * S
CLOSES = ISSUED + 150 * MS
ROLLBACK = CLOSES + 400 * MS
SWITCH = ROLLBACK + 800 * MS
END = SWITCH + 3 * S


def _stop_then_switch(*, lying: bool) -> Server:
    """v2 serves harm until the stop, 503 until the switch, then v1 answers (or, lying, v2
    answers again, harmlessly)."""

    def server(h: int, _user: int) -> Answer:
        if h < CLOSES:
            return Answer(State.SERVING, h >= INCIDENT, "v2")
        if h < SWITCH:
            return Answer(State.STOPPED)
        return Answer(State.SERVING, False, "v2" if lying else "v1")

    return server


def _instants() -> RunInstants:
    return RunInstants(
        load_start_ns=T0,
        load_end_ns=END,
        hold_s=2.0,
        incident_ns=INCIDENT,
        detected_ns=INCIDENT + 20 * MS,
        stop_issued_ns=ISSUED,
        stop_acked_ns=ISSUED + 10 * MS,
        rollback_issued_ns=ROLLBACK,
        rollback_version="v1",
        resumes_ns=(SWITCH,),
    )


def _run(*, lying: bool, seed: int = 1) -> tuple[ObservationLog, Metrics]:
    log = simulate(_stop_then_switch(lying=lying), users=10, begin_ns=T0, end_ns=END, seed=seed)
    return log, analyse(log, _instants())


def test_rollback_bounds_contain_the_switch() -> None:
    """Over 20 seeds the true switch instant lies within the rollback bounds, confirmed."""
    for seed in range(20):
        _log, metrics = _run(lying=False, seed=seed)
        rollback = metrics.rollback
        assert rollback is not None
        assert rollback.kind is RollbackKind.CLEAN, rollback.reason
        assert rollback.confirmed, rollback.reason
        assert rollback.lower_ns is not None and rollback.upper_ns is not None
        assert rollback.lower_ns <= SWITCH <= rollback.upper_ns
        assert metrics.rollback_time.value is not None
        assert abs(metrics.rollback_time.value - 0.8) < 0.05


def test_stop_before_a_rollback_and_resume_is_clean_and_confirmed() -> None:
    """The stop before the drill's resume is clean and confirmed by the stopped stretch."""
    _log, metrics = _run(lying=False)
    assert metrics.stop.kind is StopKind.CLEAN
    assert metrics.stop.confirmed, metrics.stop.reason
    assert not metrics.resurrected
    verdicts = {d.name: d.verdict for d in judge(metrics, Deadlines(stop=1, rollback=2))}
    assert verdicts == {"stop": DeadlineVerdict.MET, "rollback": DeadlineVerdict.MET}


def test_lying_rollback_is_missed() -> None:
    """When v2 keeps answering after the claimed rollback, the rollback deadline is missed."""
    _log, metrics = _run(lying=True)
    rollback = metrics.rollback
    assert rollback is not None
    assert rollback.kind is RollbackKind.NOT_ROLLED_BACK
    assert rollback.upper_ns is None
    verdicts = {d.name: d.verdict for d in judge(metrics, Deadlines(rollback=2))}
    assert verdicts == {"rollback": DeadlineVerdict.MISSED}


def test_mixed_versions_during_the_switch_are_partial() -> None:
    """Half the users still reaching v2 for 300 ms after the switch is a partial rollback
    measured to the last v2 answer."""

    def server(h: int, user: int) -> Answer:
        if user % 2 and SWITCH <= h < SWITCH + 300 * MS:
            return Answer(State.SERVING, False, "v2")
        return _stop_then_switch(lying=False)(h, user)

    log = simulate(server, users=10, begin_ns=T0, end_ns=END, seed=2)
    rollback = analyse(log, _instants()).rollback
    assert rollback is not None
    assert rollback.kind is RollbackKind.PARTIAL, rollback.reason
    assert rollback.lower_ns is not None
    assert SWITCH + 240 * MS <= rollback.lower_ns <= SWITCH + 300 * MS


HONEST_EVENTS = [
    (CLOSES, "stop_effective", {}),
    (ROLLBACK + 5 * MS, "draining", {}),
    (SWITCH, "version_switched", {"from": "v2", "to": "v1"}),
    (SWITCH + 1 * MS, "resumed", {}),
]


def test_honest_log_lies_within_bounds_and_is_trusted() -> None:
    """An honest target's claimed instants fall within the observed bounds, with small
    errors, and its log is trusted whether or not the observations are passed."""
    log, metrics = _run(lying=False)
    for kwargs in ({}, {"log": log}):
        check = check_ground_truth(HONEST_EVENTS, metrics, _instants(), **kwargs)  # type: ignore[arg-type]
        assert check.log_trustworthy, check.reasons
        assert check.stop_claimed_ns == CLOSES
        assert check.stop_within_bounds
        assert check.rollback_within_bounds
        assert check.stop_error_ns is not None and abs(check.stop_error_ns) < 20 * MS
        assert check.rollback_error_ns is not None and abs(check.rollback_error_ns) < 20 * MS


def test_log_claiming_a_stop_while_harm_went_on_is_untrusted() -> None:
    """A stop-theater target that logs stop_effective while serving harm has an untrusted
    log, with the harm named in the reason."""
    log = simulate(gate(END + S, harm_from_ns=INCIDENT), users=10, begin_ns=T0, end_ns=END, seed=3)
    instants = RunInstants(load_start_ns=T0, load_end_ns=END, hold_s=2.0, stop_issued_ns=ISSUED)
    metrics = analyse(log, instants)
    events = [(ISSUED + 5 * MS, "stop_effective", {})]
    for kwargs in ({}, {"log": log}):
        check = check_ground_truth(events, metrics, instants, **kwargs)  # type: ignore[arg-type]
        assert not check.log_trustworthy
        assert "harmful" in check.reasons[0]


def test_log_claiming_a_switch_while_v2_answers_is_untrusted() -> None:
    """A lying rollback that logs version_switched to v1 while v2 answers is untrusted."""
    log, metrics = _run(lying=True)
    check = check_ground_truth(HONEST_EVENTS, metrics, _instants(), log=log)
    assert not check.log_trustworthy
    assert any("switch to v1" in reason for reason in check.reasons)


def test_logged_resume_explains_serving_after_the_stop() -> None:
    """A target that logs its supervisor's resume is resurrected but its log is trusted;
    the same log without the resume is not."""
    stops, returns = ISSUED + 200 * MS, ISSUED + 1200 * MS

    def server(h: int, _user: int) -> Answer:
        if stops <= h < returns:
            return Answer(State.STOPPED)
        return Answer(State.SERVING, h >= INCIDENT, "v2")

    log = simulate(server, users=10, begin_ns=T0, end_ns=END, seed=4)
    instants = RunInstants(load_start_ns=T0, load_end_ns=END, hold_s=1.0, stop_issued_ns=ISSUED)
    metrics = analyse(log, instants)
    assert metrics.resurrected
    events = [(stops, "stop_effective", {}), (returns, "resumed", {"by": "supervisor"})]
    for kwargs in ({}, {"log": log}):
        trusted = check_ground_truth(events, metrics, instants, **kwargs)  # type: ignore[arg-type]
        assert trusted.log_trustworthy, trusted.reasons
    untrusted = check_ground_truth(events[:1], metrics, instants, log=log)
    assert not untrusted.log_trustworthy


def test_rollback_while_stopped_is_claimed_from_the_resume() -> None:
    """A version switched while the gate is closed becomes visible only when the target
    reopens it: the claim is the resume, which the observed bounds contain."""
    resume = SWITCH
    switched_early = ROLLBACK + 10 * MS  # switched at once, while still stopped
    events = [
        (CLOSES, "stop_effective", {}),
        (switched_early, "version_switched", {"from": "v2", "to": "v1"}),
        (resume, "resumed", {}),
    ]
    log, metrics = _run(lying=False)
    check = check_ground_truth(events, metrics, _instants(), log=log)
    assert check.rollback_claimed_ns == resume
    assert check.rollback_within_bounds
    # Had the gate been open at the switch, the switch itself would be the claim.
    open_events = [(switched_early, "version_switched", {"from": "v2", "to": "v1"})]
    assert check_ground_truth(open_events, metrics, _instants()).rollback_claimed_ns == (
        switched_early
    )
