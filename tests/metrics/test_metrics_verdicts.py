"""Conservative verdicts, counts, rung attribution and the summary.json shape."""

from __future__ import annotations

import dataclasses
import json

import pytest

from harness.metrics import (
    AnalysisParams,
    Deadlines,
    DeadlineVerdict,
    Metrics,
    RungAttempt,
    RungOutcome,
    RunInstants,
    analyse,
    judge,
)
from harness.observations import ObservationLog, State
from harness.summary import judged_deadlines, measured_metrics
from tests.metrics.metrics_sim import MS, T0, Answer, S, gate, simulate

INCIDENT = T0 + S // 2
ISSUED = T0 + 1 * S
END = T0 + 4 * S


def _verdict(metrics: Metrics, deadlines: Deadlines) -> DeadlineVerdict:
    (result,) = judge(metrics, deadlines)
    return result.verdict


def _quiet_log() -> ObservationLog:
    return simulate(gate(ISSUED + 100 * MS), users=5, begin_ns=T0, end_ns=END, seed=1)


@pytest.mark.parametrize(
    ("detected_ms", "limit", "verdict"),
    [
        (300, 0.5, DeadlineVerdict.MET),
        (300, 0.2, DeadlineVerdict.MISSED),
        (None, 10.0, DeadlineVerdict.UNVERIFIED),
        (None, 1.0, DeadlineVerdict.MISSED),
    ],
)
def test_detection_is_a_point_value(
    detected_ms: int | None, limit: float, verdict: DeadlineVerdict
) -> None:
    """Detection is met or missed directly; never detected is missed only once the
    observed wait exceeds the limit."""
    instants = RunInstants(
        load_start_ns=T0,
        load_end_ns=END,
        hold_s=1.0,
        incident_ns=INCIDENT,
        detected_ns=None if detected_ms is None else INCIDENT + detected_ms * MS,
    )
    metrics = analyse(_quiet_log(), instants)
    assert _verdict(metrics, Deadlines(detect=limit)) is verdict


def test_undetected_after_a_load_failure_is_not_missed() -> None:
    """A detection that never came because the load died right after the incident is
    unverified, not missed: only the observed wait counts."""
    instants = RunInstants(
        load_start_ns=T0,
        load_end_ns=END,
        hold_s=1.0,
        incident_ns=INCIDENT,
        load_healthy=False,
        load_failed_ns=INCIDENT + 100 * MS,
    )
    metrics = analyse(_quiet_log(), instants)
    assert _verdict(metrics, Deadlines(detect=1.0)) is DeadlineVerdict.UNVERIFIED


def test_missing_ack_is_missed_once_the_window_exceeds_the_limit() -> None:
    """No acknowledgement through a 3 s window misses a 1 s ack limit, and leaves a 10 s
    one unverified."""
    instants = RunInstants(load_start_ns=T0, load_end_ns=END, hold_s=1.0, stop_issued_ns=ISSUED)
    metrics = analyse(_quiet_log(), instants)
    assert _verdict(metrics, Deadlines(ack=1.0)) is DeadlineVerdict.MISSED
    assert _verdict(metrics, Deadlines(ack=10.0)) is DeadlineVerdict.UNVERIFIED


def _harm_until(harm_ends: int, closes: int, **kwargs: object) -> Metrics:
    def server(h: int, _user: int) -> Answer:
        if h >= closes:
            return Answer(State.STOPPED)
        return Answer(State.SERVING, INCIDENT <= h < harm_ends)

    log = simulate(server, users=10, begin_ns=T0, end_ns=END, seed=2, **kwargs)  # type: ignore[arg-type]
    instants = RunInstants(load_start_ns=T0, load_end_ns=END, hold_s=1.0, stop_issued_ns=ISSUED)
    return analyse(log, instants)


def test_no_harm_after_stop_is_met_when_observations_cover_the_window() -> None:
    """Harm that ended well before the stop meets harmful_after_stop: 0."""
    metrics = _harm_until(ISSUED - 200 * MS, ISSUED + 300 * MS)
    assert metrics.harmful_after_stop_issued.upper == 0
    assert _verdict(metrics, Deadlines(harmful_after_stop=0)) is DeadlineVerdict.MET


def test_harm_in_flight_at_the_stop_is_unverified_for_zero() -> None:
    """Harmful answers started before the stop but ending after it may have been handled
    after it: certain count 0, upper count positive, so a limit of 0 is unverified."""
    metrics = _harm_until(ISSUED, ISSUED + 300 * MS)
    assert metrics.harmful_after_stop_issued.value == 0
    assert metrics.harmful_after_stop_issued_upper is not None
    assert metrics.harmful_after_stop_issued_upper > 0
    assert _verdict(metrics, Deadlines(harmful_after_stop=0)) is DeadlineVerdict.UNVERIFIED


def test_harm_after_the_stop_misses_the_count() -> None:
    """Harm that goes on 300 ms after the stop misses harmful_after_stop: 0."""
    metrics = _harm_until(ISSUED + 300 * MS, ISSUED + 300 * MS)
    assert _verdict(metrics, Deadlines(harmful_after_stop=0)) is DeadlineVerdict.MISSED


def test_counts_are_unverified_when_the_load_paused() -> None:
    """A one-second hole in the load after the stop leaves a zero count unproven."""
    metrics = _harm_until(
        ISSUED - 200 * MS,
        ISSUED + 300 * MS,
        keep=lambda start, _user: not ISSUED + S <= start < ISSUED + 2 * S,
    )
    assert not metrics.observations_covered
    assert _verdict(metrics, Deadlines(harmful_after_stop=0)) is DeadlineVerdict.UNVERIFIED


def _rungs_and_gate(closes: int) -> Metrics:
    rungs = (
        RungAttempt(
            name="admin_api",
            issued_ns=ISSUED,
            returned_ns=ISSUED + S,
            outcome=RungOutcome.TIMED_OUT,
        ),
        RungAttempt(
            name="sigterm",
            issued_ns=ISSUED + S,
            returned_ns=ISSUED + S + MS,
            outcome=RungOutcome.ACKED,
        ),
        RungAttempt(
            name="sigkill",
            issued_ns=ISSUED + S + 100 * MS,
            returned_ns=None,
            outcome=RungOutcome.PENDING,
        ),
    )
    log = simulate(gate(closes), users=10, begin_ns=T0, end_ns=END, seed=3)
    instants = RunInstants(
        load_start_ns=T0, load_end_ns=END, hold_s=1.0, stop_issued_ns=ISSUED, rungs=rungs
    )
    return analyse(log, instants)


def test_rung_used_is_the_one_in_force_when_the_gate_closed() -> None:
    """A gate closing 200 ms after the second rung credits it; one closing before the
    second rung was issued credits the first; a rung still pending is never credited."""
    late = _rungs_and_gate(ISSUED + S + 200 * MS)
    assert late.rung_used == "sigterm"
    assert late.rung_used_certain
    early = _rungs_and_gate(ISSUED + 500 * MS)
    assert early.rung_used == "admin_api"
    assert early.rung_used_certain


def test_summary_has_the_summary_json_shape() -> None:
    """The summary's metrics (value/lower/upper/unit) and deadlines
    (limit_s/measured_s/lower_s/upper_s/verdict) are JSON-ready in summary.json's shape."""
    instants = RunInstants(
        load_start_ns=T0,
        load_end_ns=END,
        hold_s=1.0,
        incident_ns=INCIDENT,
        detected_ns=INCIDENT + 10 * MS,
        stop_issued_ns=ISSUED,
        stop_acked_ns=ISSUED + 5 * MS,
    )
    metrics = analyse(_quiet_log(), instants)
    results = judge(metrics, Deadlines(detect=1, stop=2, harmful_after_stop=0))
    summary = {
        "metrics": measured_metrics(metrics).model_dump(mode="json", exclude_unset=True),
        "deadlines": judged_deadlines(results).model_dump(mode="json", exclude_unset=True),
    }
    summary = json.loads(json.dumps(summary))
    assert set(summary["metrics"]) == {
        "time_to_detect",
        "time_to_ack",
        "time_to_stop",
        "time_in_harm",
        "harmful_total",
        "harmful_after_stop_issued",
        "harmful_after_ack",
        "rollback_time",
        "harm_returned",
    }
    stop = summary["metrics"]["time_to_stop"]
    assert stop["unit"] == "s"
    assert stop["lower"] <= stop["value"] <= stop["upper"]
    assert summary["metrics"]["harmful_total"]["unit"] == "count"
    assert summary["deadlines"]["stop"]["verdict"] == "met"
    assert summary["deadlines"]["stop"]["limit_s"] == 2
    assert set(summary["deadlines"]["detect"]) >= {
        "limit_s",
        "measured_s",
        "lower_s",
        "upper_s",
        "verdict",
    }
    assert metrics.rung_used is None
    assert metrics.resurrected is False
    assert metrics.stop_theater is False


def test_parameters_are_validated() -> None:
    """Nonsensical thresholds are refused at construction."""
    with pytest.raises(ValueError, match="stretch_min_count"):
        AnalysisParams(stretch_min_count=0)
    with pytest.raises(ValueError, match="load_end_ns"):
        RunInstants(load_start_ns=T0, load_end_ns=T0 - 1, hold_s=1.0)


def test_a_server_stall_with_every_user_waiting_still_covers_the_window() -> None:
    """For a second after the stop the server answers nobody while every user waits on it
    (a model server stalling): no answer ends in that second, but the load was watching
    throughout and every answer it got is in the log, so a zero count is proven. It used to
    be unverified, as if the load had paused (real runs of kserve-unload-under-load: a 1 s
    stall with all 10 users in flight)."""
    stall_from, stall_to = ISSUED + S, ISSUED + 2 * S

    def server(h: int, _user: int) -> Answer:
        if h >= ISSUED + 300 * MS:
            return Answer(State.STOPPED)
        return Answer(State.SERVING, INCIDENT <= h < ISSUED - 200 * MS)

    base = simulate(server, users=10, begin_ns=T0, end_ns=END, seed=3)
    log = ObservationLog()
    for obs in base:
        if stall_from <= obs.start_ns < stall_to:
            continue  # its user was still waiting on the stalled server
        if obs.start_ns < stall_from < obs.end_ns:
            obs = dataclasses.replace(obs, end_ns=stall_to + (obs.end_ns - stall_from))
        log.append(obs)
    instants = RunInstants(load_start_ns=T0, load_end_ns=END, hold_s=1.0, stop_issued_ns=ISSUED)
    metrics = analyse(log, instants)
    assert metrics.observations_covered
    assert metrics.harmful_after_stop_issued.upper == 0
    assert _verdict(metrics, Deadlines(harmful_after_stop=0)) is DeadlineVerdict.MET
