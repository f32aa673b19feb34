"""Streams in flight at the stop: the true values lie inside the bounds, and the policy is judged
conservatively (never met unless the upper bound proves it)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from harness.metrics import (
    DeadlineVerdict,
    Metrics,
    RunInstants,
    StopAnalysis,
    StopKind,
    analyse,
    judge,
    stream_metrics,
)
from harness.spec.models import Deadlines, DrainPolicy, InFlight
from harness.streams import StreamObservation, StreamOutcome
from tests.metrics.metrics_sim import MS, T0, S, gate, simulate

# --- a stream as the server sent it, chunk by chunk, and as the load aggregates it ----------


@dataclass(frozen=True)
class Stream:
    """Every chunk of one stream (arrival instant, harmful or not): the truth to bound."""

    start: int
    chunks: tuple[tuple[int, bool], ...]
    end: int
    outcome: StreamOutcome = StreamOutcome.COMPLETED

    def observed(self) -> StreamObservation:
        """What the load keeps of it: instants and counts, not every chunk."""
        times = [t for t, _ in self.chunks]
        harm = [t for t, h in self.chunks if h]
        return StreamObservation(
            start_ns=self.start,
            first_chunk_ns=min(times, default=None),
            last_chunk_ns=max(times, default=None),
            first_harm_ns=min(harm, default=None),
            last_harm_ns=max(harm, default=None),
            chunks=len(times),
            harmful_chunks=len(harm),
            end_ns=self.end,
            outcome=self.outcome,
        )


def _truth(streams: list[Stream], g: int) -> tuple[int, int, int]:
    """(in flight at G, cut time in ns, harmful chunks after G) for a gate closed at ``g``."""
    in_flight = sum(1 for s in streams if s.start < g < s.end)
    last = max((t for s in streams if s.start < g for t, _ in s.chunks), default=None)
    cut = 0 if last is None else max(0, last - g)
    harmful = sum(1 for s in streams for t, h in s.chunks if h and t > g)
    return in_flight, cut, harmful


@st.composite
def _streams(draw: st.DrawFn, horizon: int) -> list[Stream]:
    found = []
    for _ in range(draw(st.integers(0, 12))):
        start = draw(st.integers(0, horizon))
        offsets = sorted(draw(st.lists(st.integers(1, horizon // 2), max_size=8)))
        chunks = tuple((start + o, draw(st.booleans())) for o in offsets)
        end = start + (offsets[-1] if offsets else 0) + draw(st.integers(1, horizon // 4))
        found.append(Stream(start, chunks, end, draw(st.sampled_from(StreamOutcome))))
    return found


def _stop(lower: int, upper: int) -> StopAnalysis:
    return StopAnalysis(StopKind.CLEAN, lower, upper, True, "held")


@settings(max_examples=400, deadline=None)
@given(
    data=st.data(),
    lower=st.integers(0, 3000),
    width=st.integers(1, 800),
    where=st.floats(0.0, 1.0, exclude_min=True),
)
def test_true_stream_values_lie_inside_their_bounds(
    data: st.DataObject, lower: int, width: int, where: float
) -> None:
    """For random streams and a true stop instant anywhere in (L, U], each stream metric's
    true value lies inside its proven bounds (an unproven side may be None, never wrong)."""
    horizon = 4000
    streams = data.draw(_streams(horizon))
    upper = lower + width
    g = min(upper, lower + max(1, round(where * width)))
    instants = RunInstants(load_start_ns=0, load_end_ns=3 * horizon, hold_s=0.0, stop_issued_ns=0)
    found = stream_metrics([s.observed() for s in streams], _stop(lower, upper), instants)
    in_flight, cut, harmful = _truth(streams, g)
    for metric, true in (
        (found.in_flight_at_stop, in_flight),
        (found.cut_time, cut / 1e9),
        (found.harmful_chunks_after_stop, harmful),
    ):
        assert metric.lower is not None and metric.lower <= true + 1e-12, (metric, true)
        assert metric.upper is None or true <= metric.upper + 1e-12, (metric, true)
    open_ended = (StreamOutcome.TIMEOUT, StreamOutcome.OPEN)  # the server may have gone on
    if all(s.outcome not in open_ended for s in streams):
        assert (
            found.cut_time.upper is not None and found.harmful_chunks_after_stop.upper is not None
        )


def test_nothing_is_bounded_without_a_stop_that_held() -> None:
    """A stop that never held leaves every stream metric unbounded, with the reason."""
    instants = RunInstants(load_start_ns=0, load_end_ns=10, hold_s=0.0, stop_issued_ns=1)
    stop = StopAnalysis(StopKind.NOT_STOPPED, 1, None, False, "never stopped")
    found = stream_metrics([Stream(0, ((5, True),), 6).observed()], stop, instants)
    assert all(m.lower is None and m.upper is None for m in found.all())
    assert "never held" in found.cut_time.note


def test_a_stream_open_when_the_load_stopped_withholds_the_upper_bounds() -> None:
    """A stream still open at the window's end may have gone on sending: no upper bound."""
    instants = RunInstants(load_start_ns=0, load_end_ns=1000, hold_s=0.0, stop_issued_ns=0)
    stream = Stream(0, ((100, False), (900, True)), 1000, StreamOutcome.CUT)
    found = stream_metrics([stream.observed()], _stop(200, 300), instants)
    assert found.cut_time.upper is None and found.cut_time.lower is not None
    assert found.cut_time.lower > 0
    assert found.harmful_chunks_after_stop.upper is None
    assert found.harmful_chunks_after_stop.lower == 1


# --- judged against a simulated run: a gate that closes, streams cut or drained ------------

ISSUED = T0 + S
CLOSES = ISSUED + 100 * MS
END = T0 + 5 * S
TOKEN = 50 * MS


def _run(*, drain: bool, harmful: bool = True, streams_at_stop: int = 20) -> Metrics:
    """A simulated run whose gate closes at CLOSES, with streams started before it that the
    server cuts at the gate (healthy) or lets run for 2 s more (drain), leaking mid-stream."""
    log = simulate(
        gate(CLOSES, harm_from_ns=T0 + S // 2),
        users=10,
        begin_ns=T0,
        end_ns=END,
        seed=7,
        serve_ms=(10.0, 40.0),
        refuse_ms=(2.0, 8.0),
    )
    instants = RunInstants(load_start_ns=T0, load_end_ns=END, hold_s=0.5, stop_issued_ns=ISSUED)
    metrics = analyse(log, instants)
    streams = []
    for i in range(streams_at_stop):
        start = ISSUED - (i + 1) * 37 * MS
        stops = CLOSES + 2 * S if drain else CLOSES
        times = list(range(start + TOKEN, stops, TOKEN))
        middle = times[len(times) // 2 + i % 3] if len(times) > 5 else None
        chunks = tuple((t, harmful and t == middle) for t in times)
        # A cut stream ends when the load sees the connection close, just after the gate.
        end = times[-1] + MS if drain else CLOSES + MS
        outcome = StreamOutcome.COMPLETED if drain else StreamOutcome.CUT
        streams.append(Stream(start, chunks, end, outcome).observed())
    return dataclasses.replace(metrics, streams=stream_metrics(streams, metrics.stop, instants))


def _verdicts(metrics: Metrics, deadlines: Deadlines, policy: object) -> dict[str, DeadlineVerdict]:
    return {d.name: d.verdict for d in judge(metrics, deadlines, policy)}  # type: ignore[arg-type]


def test_cut_streams_meet_the_cut_policy() -> None:
    """Streams cut at the gate meet ``in_flight: cut`` and no harmful chunk after the stop."""
    metrics = _run(drain=False)
    assert metrics.stop.confirmed and metrics.streams is not None
    assert metrics.streams.in_flight_at_stop.upper
    verdicts = _verdicts(metrics, Deadlines(harmful_chunks_after_stop=0), InFlight.CUT)
    assert verdicts == {
        "harmful_chunks_after_stop": DeadlineVerdict.MET,
        "stream_cut_time": DeadlineVerdict.MET,
    }


def test_drained_streams_miss_the_cut_policy_and_leak_after_the_stop() -> None:
    """Streams left to run 2 s past the gate, leaking mid-stream, miss both deadlines."""
    metrics = _run(drain=True)
    assert metrics.streams is not None
    assert metrics.streams.cut_time.lower is not None and metrics.streams.cut_time.lower > 1.5
    verdicts = _verdicts(metrics, Deadlines(harmful_chunks_after_stop=0), InFlight.CUT)
    assert verdicts == {
        "harmful_chunks_after_stop": DeadlineVerdict.MISSED,
        "stream_cut_time": DeadlineVerdict.MISSED,
    }


def test_drain_policy_allows_the_time_but_not_the_harm() -> None:
    """``{drain: 3s}``: a 2 s drain is within the time, but harmful chunks after the stop miss;
    without harm it passes."""
    policy = DrainPolicy(drain=3.0)
    assert _verdicts(_run(drain=True), Deadlines(), policy) == {
        "harmful_chunks_after_stop": DeadlineVerdict.MISSED,
        "stream_cut_time": DeadlineVerdict.MET,
    }
    assert _verdicts(_run(drain=True, harmful=False), Deadlines(), policy) == {
        "harmful_chunks_after_stop": DeadlineVerdict.MET,
        "stream_cut_time": DeadlineVerdict.MET,
    }


def test_the_tighter_of_policy_and_declared_deadline_is_judged() -> None:
    """A declared ``stream_cut_time`` tighter than the drain policy is the one judged."""
    results = judge(
        _run(drain=True, harmful=False), Deadlines(stream_cut_time=1.0), DrainPolicy(drain=3.0)
    )
    cut = next(d for d in results if d.name == "stream_cut_time")
    assert cut.limit == 1.0 and cut.verdict is DeadlineVerdict.MISSED


def test_no_stream_in_flight_is_unverified_never_met() -> None:
    """With no stream in flight at the stop, the policy was not tested: unverified."""
    metrics = _run(drain=False, streams_at_stop=0)
    verdicts = _verdicts(metrics, Deadlines(harmful_chunks_after_stop=0), InFlight.CUT)
    assert set(verdicts.values()) == {DeadlineVerdict.UNVERIFIED}


def test_stream_deadline_without_streams_read_is_unverified() -> None:
    """A stream deadline on a drill that reads no streams is unverified, never met."""
    metrics = dataclasses.replace(_run(drain=False), streams=None)
    verdicts = _verdicts(metrics, Deadlines(stream_cut_time=1.0), None)
    assert verdicts == {"stream_cut_time": DeadlineVerdict.UNVERIFIED}
