"""The midpoint estimate of a worker's clock offset: the truth is always within ± half the best
round trip, and the shortest round trip is the one kept."""

from __future__ import annotations

import time

from hypothesis import given, settings
from hypothesis import strategies as st

from harness.load.clock_offset import ClockOffset, OffsetEstimator, skewed_clock

MS = 1_000_000


def test_the_shortest_round_trip_is_kept() -> None:
    """Of three answered pings, the estimate comes from the one with the shortest round trip."""
    est = OffsetEstimator()
    offset = 250 * MS
    for sent, delay_out, delay_back in ((0, 3 * MS, 1 * MS), (10 * MS, 100_000, 60_000),
                                        (20 * MS, 2 * MS, 2 * MS)):  # fmt: skip
        seq = est.ping(sent)
        stamp = sent + delay_out + offset
        best = est.answer(seq, stamp, sent + delay_out + delay_back)
        assert best is not None
    assert est.best == ClockOffset(offset_ns=offset + 20_000, uncertainty_ns=80_000, samples=3)
    assert abs(est.best.offset_ns - offset) <= est.best.uncertainty_ns


def test_unknown_or_repeated_answers_prove_nothing() -> None:
    """An answer to no ping, or a second answer to one ping, changes nothing."""
    est = OffsetEstimator()
    assert est.answer(7, 100, 200) is None
    seq = est.ping(1_000)
    assert est.answer(seq, 5_000, 2_000) is not None
    assert est.answer(seq, 5_000, 2_001) is None
    assert est.best is not None and est.best.samples == 1
    assert est.outstanding == 0


@settings(max_examples=300, deadline=None)
@given(
    offset=st.integers(-(10**12), 10**12),
    pings=st.lists(
        st.tuples(st.integers(0, 50 * MS), st.integers(0, 50 * MS)), min_size=1, max_size=12
    ),
    origin=st.integers(0, 10**15),
)
def test_truth_is_within_the_uncertainty(
    offset: int, pings: list[tuple[int, int]], origin: int
) -> None:
    """Whatever the offset and however each round trip's delay splits between the two
    directions, |estimate - offset| <= uncertainty, and each worker instant read back lies
    within the uncertainty of its harness instant."""
    est = OffsetEstimator()
    t = origin
    for out, back in pings:
        seq = est.ping(t)
        best = est.answer(seq, t + out + offset, t + out + back)
        assert best is not None
        assert abs(best.offset_ns - offset) <= best.uncertainty_ns
        t += out + back + 1
    best = est.best
    assert best is not None
    assert best.uncertainty_ns == (min(o + b for o, b in pings) + 1) // 2
    harness_instant = origin + 12_345
    assert abs(best.to_harness(harness_instant + offset) - harness_instant) <= best.uncertainty_ns


def test_skewed_clock_adds_the_skew() -> None:
    """The test hook's clock runs ahead by exactly its skew; no skew is the monotonic clock."""
    assert skewed_clock(0) is time.monotonic_ns
    clock = skewed_clock(250 * MS)
    before = time.monotonic_ns()
    value = clock()
    after = time.monotonic_ns()
    assert before + 250 * MS <= value <= after + 250 * MS
