"""Harm is attributed to its phase, ends by whatever made answers harm-free, and never inverts
a bound; deadlines that cannot apply or were never tested say so."""

from __future__ import annotations

from hypothesis import example, given, settings
from hypothesis import strategies as st

from harness.metrics import (
    Deadlines,
    DeadlineVerdict,
    Metrics,
    RollbackKind,
    RunInstants,
    Unit,
    analyse,
    judge,
)
from harness.observations import Observation, ObservationLog, State
from harness.run_summary import MetricSummary
from harness.summary import judged_deadlines, measured_metrics
from tests.metrics.metrics_sim import MS, T0, Answer, S, gate, simulate

INCIDENT = T0 + S // 2
ISSUED = T0 + 1 * S
CLOSES = ISSUED + 50 * MS
ROLLBACK = ISSUED + 1 * S
RESUME = ROLLBACK + 500 * MS
END = RESUME + 3 * S


def _bad_rollback(h: int, _user: int) -> Answer:
    """v2 leaks until the kill switch, refuses until the resume, then leaks again: the
    rollback redeployed the bad version."""
    if h < CLOSES:
        return Answer(State.SERVING, h >= INCIDENT, "v2")
    if h < RESUME:
        return Answer(State.STOPPED)
    return Answer(State.SERVING, True, "v2")


def _bad_rollback_instants(end: int = END) -> RunInstants:
    return RunInstants(
        load_start_ns=T0,
        load_end_ns=end,
        hold_s=1.0,
        incident_ns=INCIDENT,
        detected_ns=INCIDENT + 10 * MS,
        stop_issued_ns=ISSUED,
        stop_acked_ns=CLOSES + MS,
        rollback_issued_ns=ROLLBACK,
        rollback_version="v1",
        resumes_ns=(RESUME,),
    )


def _verdicts(metrics: Metrics, deadlines: Deadlines) -> dict[str, DeadlineVerdict]:
    return {d.name: d.verdict for d in judge(metrics, deadlines)}


def _assert_ordered(metrics: Metrics) -> None:
    for m in metrics.all():
        if m.lower is not None and m.upper is not None:
            assert m.lower <= m.upper, m
        if m.value is not None:
            assert m.lower is None or m.lower <= m.value, m
            assert m.upper is None or m.value <= m.upper, m


def test_harm_after_a_bad_rollback_is_harm_returned_not_stop_theater() -> None:
    """Harm after the resume that follows a clean stop and a bad rollback is harm_returned:
    no inverted harmful_after_ack, no stop theater, time_in_harm covers the returned harm and
    the rollback deadline is missed."""
    log = simulate(_bad_rollback, users=10, begin_ns=T0, end_ns=END, seed=3)
    metrics = analyse(log, _bad_rollback_instants())
    _assert_ordered(metrics)
    assert metrics.stop.confirmed
    assert metrics.harmful_after_ack.lower == 0
    assert not metrics.stop_theater
    returned = metrics.harm_returned
    assert returned.lower is not None and returned.lower > 100
    assert measured_metrics(metrics).harm_returned == MetricSummary(
        value=returned.value, lower=returned.lower, upper=returned.upper, unit=Unit.COUNT
    )
    in_harm = metrics.time_in_harm
    assert in_harm.upper is None
    assert in_harm.lower is not None and in_harm.lower > (END - 100 * MS - INCIDENT) / S - 0.1
    verdicts = _verdicts(
        metrics, Deadlines(time_in_harm=3, harmful_after_ack=20, rollback=2, stop=2)
    )
    assert verdicts["harmful_after_ack"] is DeadlineVerdict.MET
    assert verdicts["stop"] is DeadlineVerdict.MET
    assert verdicts["time_in_harm"] is DeadlineVerdict.MISSED
    assert verdicts["rollback"] is DeadlineVerdict.MISSED


def test_rollback_alone_ends_harm_and_bounds_time_in_harm() -> None:
    """With no stop, a rollback that makes answers harm-free within a few ms ends the harm:
    time_in_harm has both bounds, around incident to switch."""
    rollback = T0 + 2 * S
    switch = rollback + 2 * MS
    end = switch + 3 * S

    def server(h: int, _user: int) -> Answer:
        if h < switch:
            return Answer(State.SERVING, h >= INCIDENT, "v2")
        return Answer(State.SERVING, False, "v1")

    log = simulate(server, users=10, begin_ns=T0, end_ns=end, seed=5)
    instants = RunInstants(
        load_start_ns=T0,
        load_end_ns=end,
        hold_s=1.0,
        incident_ns=INCIDENT,
        detected_ns=INCIDENT + 10 * MS,
        rollback_issued_ns=rollback,
        rollback_version="v1",
    )
    metrics = analyse(log, instants)
    _assert_ordered(metrics)
    in_harm = metrics.time_in_harm
    assert in_harm.lower is not None and in_harm.upper is not None, in_harm.note
    truth = (switch - INCIDENT) / S
    assert in_harm.lower <= truth + 0.001 and in_harm.upper >= truth - 0.001
    assert in_harm.upper - in_harm.lower < 0.1
    assert _verdicts(metrics, Deadlines(time_in_harm=2))["time_in_harm"] is DeadlineVerdict.MET


def test_a_stop_that_never_holds_names_no_rung() -> None:
    """Refused and harmful answers interleaving to the end: the stop never held, so no rung
    is named."""
    end = ISSUED + 4 * S

    def server(h: int, user: int) -> Answer:
        if h >= CLOSES and user % 2:
            return Answer(State.STOPPED)
        return Answer(State.SERVING, h >= INCIDENT, "v2")

    log = simulate(server, users=10, begin_ns=T0, end_ns=end, seed=7)
    instants = RunInstants(
        load_start_ns=T0,
        load_end_ns=end,
        hold_s=1.0,
        incident_ns=INCIDENT,
        stop_issued_ns=ISSUED,
        stop_acked_ns=ISSUED + MS,
    )
    metrics = analyse(log, instants)
    assert not metrics.stop.confirmed
    assert metrics.rung_used is None


def test_ack_is_not_applicable_to_a_ladder_of_signals() -> None:
    """A ladder with no rung that can answer makes ack not_applicable, and the drill can
    still pass on its other deadlines."""
    end = ISSUED + 3 * S
    log = simulate(gate(CLOSES), users=10, begin_ns=T0, end_ns=end, seed=2)
    instants = RunInstants(
        load_start_ns=T0,
        load_end_ns=end,
        hold_s=1.0,
        stop_issued_ns=ISSUED,
        ack_possible=False,
    )
    results = judge(analyse(log, instants), Deadlines(ack=1, stop=1))
    ack = next(r for r in results if r.name == "ack")
    assert ack.verdict is DeadlineVerdict.NOT_APPLICABLE
    judged = judged_deadlines((ack,)).model_dump(mode="json", exclude_unset=True)
    assert list(judged) == ["ack"] and judged["ack"]["verdict"] == "not_applicable"
    assert all(r.verdict.passes for r in results), results


def test_a_mixed_ladder_still_misses_ack_without_an_answer() -> None:
    """When some rung could answer but none did, ack is judged as before (not met)."""
    end = ISSUED + 3 * S
    log = simulate(gate(CLOSES), users=10, begin_ns=T0, end_ns=end, seed=2)
    instants = RunInstants(load_start_ns=T0, load_end_ns=end, hold_s=1.0, stop_issued_ns=ISSUED)
    ack = judge(analyse(log, instants), Deadlines(ack=1))[0]
    assert ack.verdict is DeadlineVerdict.MISSED


def _versionless(switch: int, *, good: bool, end: int) -> ObservationLog:
    def server(h: int, _user: int) -> Answer:
        return Answer(State.SERVING, h >= INCIDENT and (h < switch or not good), "")

    return simulate(server, users=10, begin_ns=T0, end_ns=end, seed=9)


def test_a_rollback_no_answer_can_show_says_so() -> None:
    """With no version on any answer, a good rollback is unverified and its reason says no
    answer carried a version; a bad one is missed on the harm that went on."""
    rollback = T0 + S
    end = rollback + 4 * S
    instants = RunInstants(
        load_start_ns=T0,
        load_end_ns=end,
        hold_s=1.0,
        rollback_issued_ns=rollback,
        rollback_version="v1",
    )
    good = analyse(_versionless(rollback + 5 * MS, good=True, end=end), instants)
    bad = analyse(_versionless(rollback + 5 * MS, good=False, end=end), instants)
    for metrics in (good, bad):
        assert metrics.rollback is not None
        assert metrics.rollback.kind is RollbackKind.NO_VERSION
        assert "no answer carried a model version" in metrics.rollback.reason
    (good_verdict,) = judge(good, Deadlines(rollback=2))
    (bad_verdict,) = judge(bad, Deadlines(rollback=2))
    assert good_verdict.verdict is DeadlineVerdict.UNVERIFIED
    assert "no answer carried a model version" in good_verdict.reason
    assert bad_verdict.verdict is DeadlineVerdict.MISSED


def test_an_incident_never_injected_is_never_a_missed_detection() -> None:
    """When the inject step failed and no harm came, detect and everything that depends on
    the incident is unverified with 'incident not injected', never missed."""
    end = T0 + 5 * S
    log = simulate(
        lambda _h, _u: Answer(State.SERVING, False, "v1"), users=5, begin_ns=T0, end_ns=end, seed=1
    )
    instants = RunInstants(
        load_start_ns=T0,
        load_end_ns=end,
        hold_s=1.0,
        incident_failure="step s0 (inject harmful_output) failed: HTTP 403",
    )
    results = judge(
        analyse(log, instants),
        Deadlines(detect=1, ack=1, stop=1, time_in_harm=2, harmful_after_ack=0),
    )
    assert {r.name: r.verdict for r in results} == dict.fromkeys(
        ("detect", "ack", "stop", "time_in_harm", "harmful_after_ack"), DeadlineVerdict.UNVERIFIED
    )
    assert all(r.reason.startswith("incident not injected: step s0") for r in results)


# --- the invariant: lower <= value <= upper for every metric, whatever the stream -------------

_STATES = st.sampled_from([State.SERVING, State.SERVING, State.STOPPED, State.ERROR])


@st.composite
def _runs(draw: st.DrawFn) -> tuple[ObservationLog, RunInstants]:
    # Short streams over a short span: the orderings of a few rows are what bounds get wrong.
    span = draw(st.sampled_from([20 * MS, 400 * MS, 4 * S]))
    rows = draw(
        st.lists(
            st.tuples(
                st.integers(0, span),
                st.integers(1, span // 4),
                _STATES,
                st.booleans(),
                st.sampled_from(["v1", "v2", ""]),
            ),
            max_size=16,
        )
    )
    log = ObservationLog()
    for start, length, state, harmful, version in rows:
        log.append(
            Observation(
                T0 + start,
                T0 + start + length,
                200,
                state,
                harmful and state is State.SERVING,
                version if state is State.SERVING else "",
            )
        )
    # Instants at, or just beside, row boundaries reach the orderings that matter most.
    edges = sorted({T0, T0 + span, *(o.start_ns for o in log), *(o.end_ns for o in log)})
    near = st.tuples(st.sampled_from(edges), st.sampled_from([-1, 0, 1])).map(sum)
    instant = st.one_of(st.none(), near, st.integers(0, span).map(lambda t: T0 + t))
    issued = draw(instant)
    acked = None if issued is None else draw(st.one_of(st.none(), near.filter(issued.__le__)))
    rollback = draw(instant)
    resumes = tuple(sorted(draw(st.lists(near, max_size=2))))
    healthy = draw(st.booleans())
    instants = RunInstants(
        load_start_ns=T0,
        load_end_ns=T0 + span,
        hold_s=draw(st.sampled_from([0.0, 0.001, 0.005, 0.2])),
        incident_ns=draw(instant),
        detected_ns=draw(instant),
        stop_issued_ns=issued,
        stop_acked_ns=acked,
        rollback_issued_ns=rollback,
        rollback_version=None if rollback is None else draw(st.sampled_from(["v1", "v2", None])),
        resumes_ns=resumes,
        load_healthy=healthy,
        load_failed_ns=None if healthy else draw(instant),
    )
    return log, instants


def _harm_after_resume() -> tuple[ObservationLog, RunInstants]:
    """A clean stop held, the stop acknowledged, then harm served across the resume: the
    shape that once reported harmful_after_ack [1, 0]."""
    log = ObservationLog()
    log.append(Observation(T0 + 1 * MS, T0 + 2 * MS, 503, State.STOPPED, False, ""))
    log.append(Observation(T0 + 5 * MS, T0 + 10 * MS, 200, State.SERVING, True, "v2"))
    instants = RunInstants(
        load_start_ns=T0 - MS,
        load_end_ns=T0 + 20 * MS,
        hold_s=0.0,
        stop_issued_ns=T0,
        stop_acked_ns=T0 + 3 * MS,
        resumes_ns=(T0 + 6 * MS,),
    )
    return log, instants


@settings(max_examples=1500, deadline=None)
@given(_runs())
@example(_harm_after_resume())
def test_no_metric_ever_inverts_its_bounds(run: tuple[ObservationLog, RunInstants]) -> None:
    """Over random observation streams and random harness instants, every metric keeps
    lower <= value <= upper (an unknown side is None)."""
    log, instants = run
    _assert_ordered(analyse(log, instants))


def test_a_stall_after_the_rollback_leaves_the_stop_phase_counted() -> None:
    """harmful_after_ack counts until serving is brought back (the rollback here), so only
    that stretch must be covered by observations. A server that stalls for seconds while it
    loads the rolled-back model (KServe under load in CI) left the count without an upper
    bound, as if the stop's own phase had gone unobserved."""
    stall_from, stall_to = ROLLBACK + 10 * MS, ROLLBACK + 2 * S

    def server(h: int, _user: int) -> Answer:
        if h < CLOSES:
            return Answer(State.SERVING, h >= INCIDENT, "v2")
        if h < ROLLBACK:
            return Answer(State.STOPPED)
        return Answer(State.SERVING, False, "v1")

    log = simulate(
        server,
        users=5,
        begin_ns=T0,
        end_ns=END,
        seed=7,
        keep=lambda start, _user: not stall_from <= start < stall_to,
    )
    instants = RunInstants(
        load_start_ns=T0,
        load_end_ns=END,
        hold_s=1.0,
        incident_ns=INCIDENT,
        detected_ns=INCIDENT + 10 * MS,
        stop_issued_ns=ISSUED,
        stop_acked_ns=CLOSES + MS,
        rollback_issued_ns=ROLLBACK,
        rollback_version="v1",
    )
    after_ack = analyse(log, instants).harmful_after_ack
    assert after_ack.upper is not None, after_ack
    assert after_ack.lower == 0 and after_ack.upper <= 5
