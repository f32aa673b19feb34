"""time_to_reversal: from a complaint (handled somewhere between its call being sent and
returned) to harm-free answers that hold; its bounds contain the true interval over random
timelines and any hypothesis-drawn set of requests, and the reversal deadline is judged by
them, missed when a fallback had to step in."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from harness.metrics import DeadlineVerdict, RunInstants, analyse, judge
from harness.observations import State
from harness.spec.models import Deadlines
from tests.metrics.metrics_sim import MS, T0, Answer, S, log_of, simulate

END = T0 + 6 * S
HARM_FROM = T0 + S // 4


def _reverting(reverts_ns: int) -> object:
    """Harmful from HARM_FROM until the service rolls back at ``reverts_ns``, good after."""

    def server(h: int, _user: int) -> Answer:
        return Answer(State.SERVING, HARM_FROM <= h < reverts_ns, "v2" if h < reverts_ns else "v1")

    return server


def test_true_reversal_lies_within_bounds_over_many_seeds() -> None:
    """Over 200 random timelines (complaint call 5-80 ms long, handled at a random instant in
    it, rollback 0-1.5 s after), true reversal minus true handling lies in [lower, upper]."""
    rng = random.Random(15)
    for seed in range(200):
        sent = T0 + S + round(rng.uniform(0, 500) * MS)
        returned = sent + round(rng.uniform(5, 80) * MS)
        handled = rng.randint(sent, returned)
        reverts = handled + round(rng.uniform(0, 1500) * MS)
        log = simulate(
            _reverting(reverts),  # type: ignore[arg-type]
            users=rng.randint(1, 20),
            begin_ns=T0,
            end_ns=END,
            seed=seed,
        )
        instants = RunInstants(
            load_start_ns=T0, load_end_ns=END, hold_s=0.5,
            complaint_sent_ns=sent, complaint_returned_ns=returned,
        )  # fmt: skip
        metric = analyse(log, instants).time_to_reversal
        assert metric is not None and metric.lower is not None and metric.upper is not None
        truth = (reverts - handled) / S
        assert metric.lower <= truth <= metric.upper, (seed, metric, truth)
        assert metric.lower <= (metric.value or 0) <= metric.upper


_request = st.tuples(st.integers(0, 3_000), st.integers(1, 200), st.floats(0, 1))


@settings(max_examples=300, deadline=None)
@given(
    requests=st.lists(_request, min_size=1, max_size=60),
    sent_ms=st.integers(0, 1_500),
    call_ms=st.integers(0, 200),
    where=st.floats(0, 1),
    revert_after_ms=st.integers(0, 1_000),
)
def test_any_reversal_is_bounded(
    requests: list[tuple[int, int, float]],
    sent_ms: int,
    call_ms: int,
    where: float,
    revert_after_ms: int,
) -> None:
    """For any requests against one reversal after the complaint was handled, a proven
    bound never excludes the truth and lower <= value <= upper."""
    sent = T0 + sent_ms * MS
    returned = sent + call_ms * MS
    handled = sent + round(where * (returned - sent))
    reverts = handled + revert_after_ms * MS
    rows = []
    for start_ms, duration_ms, at in requests:
        start = T0 + start_ms * MS
        end = start + duration_ms * MS
        h = start + round(at * (end - start))
        rows.append((start, end, State.SERVING, HARM_FROM <= h < reverts, "v1"))
    instants = RunInstants(
        load_start_ns=T0, load_end_ns=T0 + 4 * S, hold_s=0.5,
        complaint_sent_ns=sent, complaint_returned_ns=returned,
    )  # fmt: skip
    metric = analyse(log_of(rows), instants).time_to_reversal
    assert metric is not None
    truth = max(0.0, (reverts - handled) / S)
    if metric.lower is not None:
        assert metric.lower <= truth + 1e-9
    if metric.upper is not None:
        assert metric.lower is not None and truth <= metric.upper + 1e-9
        assert metric.value is not None and metric.lower <= metric.value <= metric.upper


def test_a_black_hole_is_missed_and_a_fallback_always_misses() -> None:
    """Harm goes on after the complaint: the lower bound grows past the limit (missed). A
    reversal that came only after the harness's fallback started is missed whatever its
    bounds say."""
    sent = T0 + S
    log = simulate(_reverting(END + S), users=5, begin_ns=T0, end_ns=END, seed=1)  # type: ignore[arg-type]
    instants = RunInstants(
        load_start_ns=T0, load_end_ns=END, hold_s=0.5,
        complaint_sent_ns=sent, complaint_returned_ns=sent + 10 * MS,
    )  # fmt: skip
    metrics = analyse(log, instants)
    assert metrics.time_to_reversal is not None and metrics.time_to_reversal.upper is None
    (result,) = judge(metrics, Deadlines(reversal=3.0))
    assert result.verdict is DeadlineVerdict.MISSED, result.reason

    quick = simulate(_reverting(sent + 100 * MS), users=5, begin_ns=T0, end_ns=END, seed=2)  # type: ignore[arg-type]
    fell_back = RunInstants(
        load_start_ns=T0, load_end_ns=END, hold_s=0.5,
        complaint_sent_ns=sent, complaint_returned_ns=sent + 10 * MS,
        fallbacks=(("reversal", sent + 50 * MS),),
    )  # fmt: skip
    (result,) = judge(analyse(quick, fell_back), Deadlines(reversal=3.0))
    assert result.verdict is DeadlineVerdict.MISSED and "fallback" in result.reason
    plain = RunInstants(
        load_start_ns=T0, load_end_ns=END, hold_s=0.5,
        complaint_sent_ns=sent, complaint_returned_ns=sent + 10 * MS,
    )  # fmt: skip
    (result,) = judge(analyse(quick, plain), Deadlines(reversal=3.0))
    assert result.verdict is DeadlineVerdict.MET, result.reason


def test_no_complaint_leaves_the_metric_out_and_the_deadline_unverified() -> None:
    """A drill that sets a reversal deadline but never files a complaint proves nothing."""
    log = simulate(_reverting(END), users=2, begin_ns=T0, end_ns=END, seed=3)  # type: ignore[arg-type]
    metrics = analyse(log, RunInstants(load_start_ns=T0, load_end_ns=END, hold_s=0.5))
    assert metrics.time_to_reversal is None
    assert "time_to_reversal" not in [m.name for m in metrics.all()]
    (result,) = judge(metrics, Deadlines(reversal=3.0))
    assert result.verdict is DeadlineVerdict.UNVERIFIED
