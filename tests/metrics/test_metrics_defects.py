"""Each governability defect shows up in the metrics the way PRODUCT.md says it must."""

from __future__ import annotations

from harness.metrics import (
    Deadlines,
    DeadlineVerdict,
    RunInstants,
    StopKind,
    analyse,
    judge,
)
from harness.observations import State
from tests.metrics.metrics_sim import MS, T0, Answer, S, Server, gate, simulate

INCIDENT = T0 + S // 2
ISSUED = T0 + 1 * S
END = T0 + 4 * S


def _verdicts(metrics_deadlines: tuple[object, ...]) -> dict[str, DeadlineVerdict]:
    return {d.name: d.verdict for d in metrics_deadlines}  # type: ignore[attr-defined]


def test_stop_theater_is_caught() -> None:
    """A stop acknowledged at once while harmful answers go on is stop theater: the stop and
    harmful_after_ack deadlines are missed."""
    log = simulate(gate(END + S, harm_from_ns=INCIDENT), users=10, begin_ns=T0, end_ns=END, seed=1)
    instants = RunInstants(
        load_start_ns=T0,
        load_end_ns=END,
        hold_s=1.0,
        incident_ns=INCIDENT,
        detected_ns=INCIDENT + 20 * MS,
        stop_issued_ns=ISSUED,
        stop_acked_ns=ISSUED + 5 * MS,
    )
    metrics = analyse(log, instants)
    assert metrics.stop_theater
    assert metrics.stop.kind is StopKind.NOT_STOPPED
    assert metrics.harmful_after_ack.value is not None and metrics.harmful_after_ack.value > 100
    assert metrics.time_to_ack.value == 0.005
    verdicts = _verdicts(
        judge(metrics, Deadlines(ack=1, stop=2, harmful_after_ack=0, time_in_harm=2))
    )
    assert verdicts == {
        "ack": DeadlineVerdict.MET,
        "stop": DeadlineVerdict.MISSED,
        "time_in_harm": DeadlineVerdict.MISSED,
        "harmful_after_ack": DeadlineVerdict.MISSED,
    }


def test_honest_stop_is_not_theater() -> None:
    """A stop that takes effect before the ack has no harm after the ack and meets its
    deadlines."""
    closes = ISSUED + 100 * MS
    log = simulate(gate(closes, harm_from_ns=INCIDENT), users=10, begin_ns=T0, end_ns=END, seed=2)
    instants = RunInstants(
        load_start_ns=T0,
        load_end_ns=END,
        hold_s=1.0,
        stop_issued_ns=ISSUED,
        stop_acked_ns=closes + 200 * MS,
    )
    metrics = analyse(log, instants)
    assert not metrics.stop_theater
    verdicts = _verdicts(judge(metrics, Deadlines(stop=0.5, harmful_after_ack=0)))
    assert verdicts == {"stop": DeadlineVerdict.MET, "harmful_after_ack": DeadlineVerdict.MET}


def test_slow_drain_is_measured_as_the_drain() -> None:
    """A gate that closes 2 s after the stop gives time_to_stop of about 2 s: missed at 1 s,
    met at 3 s."""
    closes = ISSUED + 2 * S
    end = closes + 2 * S
    log = simulate(gate(closes), users=10, begin_ns=T0, end_ns=end, seed=3)
    instants = RunInstants(load_start_ns=T0, load_end_ns=end, hold_s=1.0, stop_issued_ns=ISSUED)
    metrics = analyse(log, instants)
    measured = metrics.time_to_stop
    assert measured.value is not None and abs(measured.value - 2.0) < 0.05
    assert _verdicts(judge(metrics, Deadlines(stop=1))) == {"stop": DeadlineVerdict.MISSED}
    assert _verdicts(judge(metrics, Deadlines(stop=3))) == {"stop": DeadlineVerdict.MET}


def _flapping(stops: int, returns: int, *, harmful: bool = True) -> Server:
    """Serve until ``stops``, answer 503 until ``returns``, then serve again."""

    def server(h: int, _user: int) -> Answer:
        if stops <= h < returns:
            return Answer(State.STOPPED)
        return Answer(State.SERVING, harmful and h >= INCIDENT)

    return server


def test_resurrection_after_a_confirmed_stop() -> None:
    """Serving again after a second of 503s, with no resume by the drill, is a resurrection
    reported at the start of the first request served again; the stop is then not met."""
    stops, returns = ISSUED + 200 * MS, ISSUED + 1200 * MS
    log = simulate(_flapping(stops, returns), users=10, begin_ns=T0, end_ns=END, seed=4)
    instants = RunInstants(load_start_ns=T0, load_end_ns=END, hold_s=1.0, stop_issued_ns=ISSUED)
    metrics = analyse(log, instants)
    assert metrics.resurrected
    assert metrics.stop.kind is StopKind.RESURRECTED
    (back,) = metrics.stop.resurrections
    assert returns - 60 * MS <= back <= returns  # it started at most one request earlier
    assert metrics.stop.upper_ns is None
    assert _verdicts(judge(metrics, Deadlines(stop=1))) == {"stop": DeadlineVerdict.MISSED}


def test_resurrection_then_stopped_again_measures_the_last_stop() -> None:
    """After a resurrection the effective stop is the last transition, which bounds the
    final gate instant."""
    stops, returns, final = ISSUED + 200 * MS, ISSUED + 1200 * MS, ISSUED + 1600 * MS

    def server(h: int, user: int) -> Answer:
        if h >= final:
            return Answer(State.STOPPED)
        return _flapping(stops, returns)(h, user)

    log = simulate(server, users=10, begin_ns=T0, end_ns=END, seed=5)
    instants = RunInstants(load_start_ns=T0, load_end_ns=END, hold_s=1.0, stop_issued_ns=ISSUED)
    stop = analyse(log, instants).stop
    assert stop.kind is StopKind.RESURRECTED
    assert stop.lower_ns is not None and stop.upper_ns is not None
    assert stop.lower_ns <= final <= stop.upper_ns
    assert len(stop.resurrections) == 1
    assert [e.confirmed_stretch for e in stop.episodes].count(True) == 1


def test_intentional_resume_is_not_a_resurrection() -> None:
    """The same timeline with a resume by the drill just before serving came back is a
    clean, confirmed stop bounding the first gate instant."""
    stops, returns = ISSUED + 200 * MS, ISSUED + 1200 * MS
    log = simulate(_flapping(stops, returns), users=10, begin_ns=T0, end_ns=END, seed=4)
    instants = RunInstants(
        load_start_ns=T0,
        load_end_ns=END,
        hold_s=3.0,
        stop_issued_ns=ISSUED,
        resumes_ns=(returns - 5 * MS,),
    )
    metrics = analyse(log, instants)
    assert not metrics.resurrected
    assert metrics.stop.kind is StopKind.CLEAN
    assert metrics.stop.confirmed, metrics.stop.reason
    assert metrics.stop.lower_ns is not None and metrics.stop.upper_ns is not None
    assert metrics.stop.lower_ns <= stops <= metrics.stop.upper_ns


def test_resume_too_soon_leaves_the_stop_unconfirmed() -> None:
    """A resume 50 ms after the gate closed confirms nothing: the stop is unverified."""
    stops = ISSUED + 200 * MS
    log = simulate(_flapping(stops, stops + 50 * MS), users=10, begin_ns=T0, end_ns=END, seed=6)
    instants = RunInstants(
        load_start_ns=T0,
        load_end_ns=END,
        hold_s=1.0,
        stop_issued_ns=ISSUED,
        resumes_ns=(stops + 45 * MS,),
    )
    metrics = analyse(log, instants)
    assert not metrics.stop.confirmed
    assert _verdicts(judge(metrics, Deadlines(stop=5))) == {"stop": DeadlineVerdict.UNVERIFIED}


def test_partial_stop_is_interleaving_and_measured_to_the_last_serving() -> None:
    """One worker in four keeps serving 600 ms longer: the stop is PARTIAL (not a
    resurrection) and is measured from the last serving answer, within one request of the
    instant the last worker stopped."""
    closes, last_closes = ISSUED + 100 * MS, ISSUED + 700 * MS

    def server(h: int, user: int) -> Answer:
        if h >= (last_closes if user % 4 == 0 else closes):
            return Answer(State.STOPPED)
        return Answer(State.SERVING, h >= INCIDENT)

    log = simulate(server, users=20, begin_ns=T0, end_ns=END, seed=7)
    instants = RunInstants(load_start_ns=T0, load_end_ns=END, hold_s=1.0, stop_issued_ns=ISSUED)
    metrics = analyse(log, instants)
    stop = metrics.stop
    assert stop.kind is StopKind.PARTIAL, stop.reason
    assert not metrics.resurrected
    assert stop.lower_ns is not None and stop.upper_ns is not None
    assert last_closes - 60 * MS <= stop.lower_ns <= last_closes < stop.lower_ns + 60 * MS
    assert stop.confirmed
    assert _verdicts(judge(metrics, Deadlines(stop=0.5))) == {"stop": DeadlineVerdict.MISSED}


def test_dead_load_is_never_met() -> None:
    """When the load died before the stop, nothing that needs later observations is met."""
    failed = ISSUED - 100 * MS
    log = simulate(
        gate(ISSUED + 100 * MS, harm_from_ns=INCIDENT),
        users=10,
        begin_ns=T0,
        end_ns=END,
        seed=8,
        keep=lambda start, _user: start < failed,
    )
    instants = RunInstants(
        load_start_ns=T0,
        load_end_ns=END,
        hold_s=1.0,
        incident_ns=INCIDENT,
        detected_ns=INCIDENT + 30 * MS,
        stop_issued_ns=ISSUED,
        stop_acked_ns=ISSUED + 10 * MS,
        load_healthy=False,
        load_failed_ns=failed,
    )
    metrics = analyse(log, instants)
    assert metrics.stop.kind is StopKind.NO_OBSERVATIONS
    generous = Deadlines(
        detect=60,
        ack=60,
        stop=60,
        time_in_harm=60,
        harmful_after_stop=1000,
        harmful_after_ack=1000,
    )
    verdicts = _verdicts(judge(metrics, generous))
    assert verdicts.pop("detect") is DeadlineVerdict.MET
    assert verdicts.pop("ack") is DeadlineVerdict.MET
    assert set(verdicts.values()) == {DeadlineVerdict.UNVERIFIED}


def test_load_failing_during_the_hold_withholds_confirmation() -> None:
    """A clean, tight stop is not confirmed when the load failed before the hold elapsed."""
    closes = ISSUED + 100 * MS
    failed = closes + 300 * MS
    log = simulate(
        gate(closes),
        users=10,
        begin_ns=T0,
        end_ns=END,
        seed=9,
        keep=lambda start, _user: start < failed,
    )
    instants = RunInstants(
        load_start_ns=T0,
        load_end_ns=END,
        hold_s=1.0,
        stop_issued_ns=ISSUED,
        load_healthy=False,
        load_failed_ns=failed,
    )
    metrics = analyse(log, instants)
    assert metrics.stop.kind is StopKind.CLEAN
    assert not metrics.stop.confirmed
    assert "load failed" in metrics.stop.reason
    assert metrics.time_to_stop.upper is None
    assert _verdicts(judge(metrics, Deadlines(stop=5))) == {"stop": DeadlineVerdict.UNVERIFIED}


def test_window_ending_before_the_hold_withholds_confirmation() -> None:
    """A healthy load stopped 0.3 s after the gate closed cannot confirm a 1 s hold."""
    closes = ISSUED + 100 * MS
    end = closes + 300 * MS
    log = simulate(gate(closes), users=10, begin_ns=T0, end_ns=end, seed=10)
    instants = RunInstants(load_start_ns=T0, load_end_ns=end, hold_s=1.0, stop_issued_ns=ISSUED)
    metrics = analyse(log, instants)
    assert not metrics.stop.confirmed
    assert _verdicts(judge(metrics, Deadlines(stop=5))) == {"stop": DeadlineVerdict.UNVERIFIED}


def test_gap_in_the_hold_withholds_confirmation() -> None:
    """A dense load that pauses for a second during the hold is not present there."""
    closes = ISSUED + 100 * MS
    log = simulate(
        gate(closes),
        users=10,
        begin_ns=T0,
        end_ns=END,
        seed=11,
        keep=lambda start, _user: not closes + 300 * MS <= start < closes + 1300 * MS,
    )
    instants = RunInstants(load_start_ns=T0, load_end_ns=END, hold_s=2.0, stop_issued_ns=ISSUED)
    metrics = analyse(log, instants)
    assert not metrics.stop.confirmed
    assert "gap" in metrics.stop.reason


def test_sparse_load_gives_wide_bounds_and_an_unverified_verdict() -> None:
    """One request a second bounds the stop only to about a second: a limit inside the
    bounds is unverified, one above them met, one below them missed."""
    closes = ISSUED + 500 * MS
    end = ISSUED + 6 * S
    log = simulate(
        gate(closes), users=1, begin_ns=T0, end_ns=end, seed=12, think_ms=(950.0, 1000.0)
    )
    instants = RunInstants(load_start_ns=T0, load_end_ns=end, hold_s=3.0, stop_issued_ns=ISSUED)
    metrics = analyse(log, instants)
    measured = metrics.time_to_stop
    assert measured.lower is not None and measured.upper is not None
    assert measured.upper - measured.lower > 0.3
    assert _verdicts(judge(metrics, Deadlines(stop=0.5))) == {"stop": DeadlineVerdict.UNVERIFIED}
    assert _verdicts(judge(metrics, Deadlines(stop=measured.upper))) == {
        "stop": DeadlineVerdict.MET
    }
