"""A million observations are analysed quickly, without building a million objects."""

from __future__ import annotations

import random
import time
from array import array

import pytest

from harness.metrics import Deadlines, DeadlineVerdict, RunInstants, StopKind, analyse, judge
from harness.observations import ObservationLog, State
from tests.metrics.metrics_sim import MS, T0, S

ROWS = 1_000_000


def _million_row_log(closes: int, switch: int) -> ObservationLog:
    """100 s of load at 10,000 requests/s, harmful from 40 s, gate closed at ``closes``,
    v1 answering from ``switch``; rows in completion order, built column by column (a million
    Observation objects would take most of the test's time)."""
    rng = random.Random(1)
    step = 100 * S // ROWS
    starts = range(T0, T0 + ROWS * step, step)
    ends = array("q", [start + rng.randrange(1 * MS, 40 * MS) for start in starts])
    order = sorted(range(ROWS), key=ends.__getitem__)
    start = array("q", [starts[i] for i in order])
    end = array("q", [ends[i] for i in order])
    handled = [(s + e) // 2 for s, e in zip(start, end, strict=True)]
    stopped = [closes <= h < switch for h in handled]
    rolled = [h >= switch for h in handled]
    harmful_from = T0 + 40 * S
    log = ObservationLog()
    log.extend_columns(
        start,
        end,
        array("h", [503 if x else 200 for x in stopped]),
        array("b", [State.STOPPED if x else State.SERVING for x in stopped]),
        array(
            "b",
            [
                not (x or r) and s > harmful_from
                for x, r, s in zip(stopped, rolled, start, strict=True)
            ],
        ),
        ["" if x else "v1" if r else "v2" for x, r in zip(stopped, rolled, strict=True)],
    )
    return log


@pytest.mark.slow
def test_million_rows_analysed_fast() -> None:
    """One million rows are analysed in well under the generous 10 s bound, correctly."""
    issued = T0 + 50 * S
    closes, switch = issued + 300 * MS, issued + 20 * S
    log = _million_row_log(closes, switch)
    instants = RunInstants(
        load_start_ns=T0,
        load_end_ns=T0 + 100 * S,
        hold_s=3.0,
        incident_ns=T0 + 40 * S,
        detected_ns=T0 + 40 * S + 5 * MS,
        stop_issued_ns=issued,
        stop_acked_ns=issued + MS,
        rollback_issued_ns=issued + 10 * S,
        rollback_version="v1",
        resumes_ns=(switch,),
    )
    began = time.perf_counter()
    metrics = analyse(log, instants)
    elapsed = time.perf_counter() - began
    print(f"analysed {len(log):,} observations in {elapsed:.3f} s")
    assert elapsed < 10
    assert metrics.stop.kind is StopKind.CLEAN
    assert metrics.stop.lower_ns is not None and metrics.stop.upper_ns is not None
    assert metrics.stop.lower_ns <= closes <= metrics.stop.upper_ns
    assert metrics.rollback is not None
    assert metrics.rollback.lower_ns is not None and metrics.rollback.upper_ns is not None
    assert metrics.rollback.lower_ns <= switch <= metrics.rollback.upper_ns
    results = judge(metrics, Deadlines(stop=1, rollback=15))
    assert [r.verdict for r in results] == [DeadlineVerdict.MET, DeadlineVerdict.MET]
