"""The one observation log of a fleet takes appends from several reader threads at once and
keeps every row whole: no row mixes two observations, none is lost."""

from __future__ import annotations

import threading

from harness.observations import Observation, ObservationLog, State
from harness.streams import StreamObservation, StreamOutcome

THREADS = 4
ROWS = 20_000


def _stream(worker: int, i: int) -> StreamObservation:
    base = worker * 10**12 + i * 1000
    return StreamObservation(
        start_ns=base, first_chunk_ns=base + 1, last_chunk_ns=base + 2, first_harm_ns=None,
        last_harm_ns=None, chunks=worker, harmful_chunks=0, end_ns=base + 3,
        outcome=StreamOutcome.COMPLETED,
    )  # fmt: skip


def test_several_appenders_keep_rows_whole() -> None:
    """Four threads append observations and streams at once; every row reads back as one of
    theirs, and the counts add up."""
    log = ObservationLog()
    go = threading.Barrier(THREADS)

    def append(worker: int) -> None:
        go.wait()
        for i in range(ROWS):
            base = worker * 10**12 + i * 1000
            log.append(Observation(base, base + 7, 200, State.SERVING, False, f"w{worker}"))
            log.append_stream(_stream(worker, i))

    threads = [threading.Thread(target=append, args=(w,)) for w in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(log) == THREADS * ROWS
    for obs in log:
        worker = obs.start_ns // 10**12
        assert obs.end_ns == obs.start_ns + 7 and obs.version == f"w{worker}"
    streams = log.streams()
    assert len(streams) == THREADS * ROWS
    for s in streams:
        worker = s.start_ns // 10**12
        assert s.end_ns == s.start_ns + 3 and s.chunks == worker, s
