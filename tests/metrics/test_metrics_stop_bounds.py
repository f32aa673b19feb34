"""The effective stop's bounds contain the true gate instant, and tighten as load grows."""

from __future__ import annotations

import random
import statistics

from hypothesis import given, settings
from hypothesis import strategies as st

from harness.metrics import Metrics, RunInstants, StopKind, analyse
from harness.observations import State
from tests.metrics.metrics_sim import MS, T0, S, gate, log_of, shuffled, simulate

ISSUED = T0 + S // 2
END = T0 + 5 * S // 2


def _run(users: int, seed: int, gate_after_ms: float) -> tuple[int, RunInstants, Metrics]:
    closes = ISSUED + round(gate_after_ms * MS)
    log = simulate(
        gate(closes, harm_from_ns=T0 + S // 4),
        users=users,
        begin_ns=T0,
        end_ns=END,
        seed=seed,
        serve_ms=(10.0, 60.0),
        refuse_ms=(5.0, 20.0),
    )
    instants = RunInstants(load_start_ns=T0, load_end_ns=END, hold_s=0.5, stop_issued_ns=ISSUED)
    return closes, instants, analyse(log, instants)


def test_gate_instant_lies_within_bounds_over_many_seeds() -> None:
    """Over 200 random timelines the true gate instant is inside [lower, upper], clean and
    confirmed."""
    rng = random.Random(20240601)
    for seed in range(200):
        users = rng.randint(1, 20)
        closes, _instants, metrics = _run(users, seed, rng.uniform(0, 1000))
        stop = metrics.stop
        assert stop.kind is StopKind.CLEAN, (seed, stop.reason)
        assert stop.confirmed, (seed, stop.reason)
        assert stop.lower_ns <= closes <= stop.upper_ns, seed


def test_resolution_shrinks_as_load_grows() -> None:
    """The mean resolution with 40 users is well under a third of that with 2 users."""

    def mean_resolution(users: int) -> float:
        widths = []
        for seed in range(20):
            _closes, _i, metrics = _run(users, seed, 400)
            stop = metrics.stop
            widths.append(stop.upper_ns - stop.lower_ns)
        return statistics.mean(widths)

    assert mean_resolution(40) < mean_resolution(2) / 3


def test_midpoint_error_is_small_under_load() -> None:
    """With 20 users the midpoint is never off by more than half the resolution, and is
    within 10 ms of the true gate instant on average."""
    errors = []
    for seed in range(30):
        closes, _instants, metrics = _run(20, seed, 300)
        stop = metrics.stop
        error = abs(stop.point_ns - closes)
        assert error <= (stop.upper_ns - stop.lower_ns) / 2 + 1
        errors.append(error)
    assert statistics.mean(errors) < 10 * MS


def test_time_to_stop_is_reported_relative_to_issue() -> None:
    """time_to_stop's bounds are the stop bounds minus the issue instant, in seconds."""
    closes, _instants, metrics = _run(10, 7, 250)
    stop = metrics.stop
    measured = metrics.time_to_stop
    assert measured.lower == (stop.lower_ns - ISSUED) / S
    assert measured.upper == (stop.upper_ns - ISSUED) / S
    assert measured.lower <= (closes - ISSUED) / S <= measured.upper
    assert measured.interval.resolution_s == measured.upper - measured.lower
    assert measured.value == measured.interval.point_s


def test_arrival_order_does_not_matter() -> None:
    """Shuffling the rows leaves the analysis unchanged."""
    closes = ISSUED + 300 * MS
    log = simulate(gate(closes), users=8, begin_ns=T0, end_ns=T0 + 3 * S, seed=3)
    instants = RunInstants(
        load_start_ns=T0, load_end_ns=T0 + 3 * S, hold_s=0.5, stop_issued_ns=ISSUED
    )
    assert analyse(shuffled(log, 1), instants).stop == analyse(log, instants).stop


_request = st.tuples(
    st.integers(0, 2_000),  # start, ms after T0
    st.integers(1, 300),  # duration, ms
    st.floats(0.0, 1.0),  # where in [start, end] the server handled it
)


@settings(max_examples=300, deadline=None)
@given(
    requests=st.lists(_request, min_size=1, max_size=60),
    issued_ms=st.integers(0, 1_500),
    gate_after_ms=st.integers(0, 1_000),
)
def test_any_single_flip_is_bounded(
    requests: list[tuple[int, int, float]], issued_ms: int, gate_after_ms: int
) -> None:
    """For any requests against one gate flip at or after the issue, the analysis is clean
    and, when a stopped answer was seen after the last serving start, contains the flip."""
    issued = T0 + issued_ms * MS
    closes = issued + gate_after_ms * MS
    rows = []
    for start_ms, duration_ms, where in requests:
        start = T0 + start_ms * MS
        end = start + duration_ms * MS
        handled = start + round(where * (end - start))
        state = State.SERVING if handled < closes else State.STOPPED
        rows.append((start, end, state, False, "v2"))
    instants = RunInstants(
        load_start_ns=T0, load_end_ns=T0 + 3 * S, hold_s=0.5, stop_issued_ns=issued
    )
    stop = analyse(log_of(rows), instants).stop
    assert stop.kind in (StopKind.CLEAN, StopKind.NOT_STOPPED, StopKind.NO_OBSERVATIONS)
    if stop.upper_ns is not None:
        assert stop.kind is StopKind.CLEAN
        assert stop.lower_ns is not None
        assert stop.lower_ns <= closes <= stop.upper_ns
