"""What the streams in flight did after the effective stop, bounded from the stop's [L, U].

The gate closed for good at an unknown instant ``G`` with ``L < G <= U`` (see
``harness.metrics``). Each stream is kept as instants on the host's monotonic clock (first
and last chunk, first and last harmful chunk) and two counts, so every metric here is a
function of ``G`` whose least and greatest values over ``[L, U]`` are bounded from those
instants alone:

``streams_in_flight_at_stop``
    Streams started before ``G`` and not ended by it: certainly so when ``start < L`` and
    ``end > U``, possibly when ``start < U`` and ``end > L``.
``stream_cut_time``
    ``max(0, M(G) - G)`` where ``M(G)`` is the last chunk of the streams started before ``G``:
    at least ``M(L) - U`` and at most ``M(U) - L`` (both clamped at 0).
``harmful_chunks_after_stop``
    Harmful chunks that arrived after ``G``. Per stream with ``h`` harmful chunks, the first at
    ``f`` and the last at ``l``: all ``h`` when ``f > G``, none when ``l <= G``, and between
    one (the last) and ``h - 1`` (all but the first) in between.

Upper bounds need the streams to have ended on the server's side within what was observed:
one that timed out, or was still open when the load stopped (or failed), may have gone on
sending, so it withholds them. Nothing is bounded without a stop that held; and with no
stream possibly in flight the policy was not tested, so its deadlines are unverified.
"""

from __future__ import annotations

from collections.abc import Sequence

from harness.metrics._analyse import brought_back_ns
from harness.metrics._model import (
    Metric,
    RunInstants,
    StopAnalysis,
    StreamMetrics,
    Unit,
    seconds,
)
from harness.streams import StreamObservation, StreamOutcome

__all__ = ["CUT_TIME", "HARMFUL_CHUNKS", "IN_FLIGHT", "stream_metrics"]


IN_FLIGHT = "streams_in_flight_at_stop"
_OPEN_ENDED = frozenset({StreamOutcome.TIMEOUT, StreamOutcome.OPEN})
"""Outcomes after which the server may have gone on sending, unseen."""

CUT_TIME = "stream_cut_time"
HARMFUL_CHUNKS = "harmful_chunks_after_stop"


def _unknown(reason: str) -> StreamMetrics:
    return StreamMetrics(
        Metric(IN_FLIGHT, None, None, None, Unit.COUNT, reason),
        Metric(CUT_TIME, None, None, None, Unit.SECONDS, reason),
        Metric(HARMFUL_CHUNKS, None, None, None, Unit.COUNT, reason),
        any_in_flight=False,
        reason=reason,
    )


def stream_metrics(
    streams: Sequence[StreamObservation], stop: StopAnalysis, instants: RunInstants
) -> StreamMetrics:
    """Bound the stream metrics from ``streams`` and the effective stop's ``[L, U]``.

    Nothing after the load's failure is proven; streams started at or after the drill's
    first resume or rollback after the stop are the service brought back, not in flight.
    """
    proof_end_ns = instants.proof_end_ns
    until_ns = brought_back_ns(instants)
    if not stop.confirmed or stop.lower_ns is None or stop.upper_ns is None:
        return _unknown("the stop never held, so there is no effective stop to measure from")
    low, up = stop.lower_ns, stop.upper_ns
    until = until_ns if until_ns is not None else proof_end_ns + 1
    kept = [s for s in streams if s.start_ns < until]

    certain_in = sum(1 for s in kept if s.start_ns < low and s.end_ns > up)
    possible = [s for s in kept if s.start_ns < up and s.end_ns > low]
    # A stream the server may still have been feeding when the load let go of it.
    open_ended = [
        s for s in kept if s.end_ns > low and (s.outcome in _OPEN_ENDED or s.end_ns >= proof_end_ns)
    ]
    failed = proof_end_ns < instants.load_end_ns
    proven = not open_ended and not failed
    if failed:
        why = "the load failed before the window ended: streams may have gone on unseen"
    elif open_ended:
        why = (
            f"{len(open_ended)} stream(s) in flight timed out or were still open when the load"
            " stopped: the server may have sent more"
        )
    else:
        why = ""

    in_flight = Metric(IN_FLIGHT, None, certain_in, len(possible), Unit.COUNT)
    in_flight = _with_value(in_flight)

    last_before_low = max(
        (s.last_chunk_ns for s in kept if s.start_ns < low and s.last_chunk_ns is not None),
        default=None,
    )
    last_before_up = max(
        (s.last_chunk_ns for s in kept if s.start_ns < up and s.last_chunk_ns is not None),
        default=None,
    )
    cut_lower = seconds(max(0, last_before_low - up)) if last_before_low is not None else 0.0
    cut_upper = seconds(max(0, last_before_up - low)) if last_before_up is not None else 0.0
    cut = _with_value(
        Metric(CUT_TIME, None, cut_lower, cut_upper if proven else None, Unit.SECONDS, why)
    )

    harm_lower = harm_upper = 0
    for s in kept:
        lo, hi = _harmful_after(s, low, up)
        harm_lower += lo
        harm_upper += hi
    harmful = _with_value(
        Metric(HARMFUL_CHUNKS, None, harm_lower, harm_upper if proven else None, Unit.COUNT, why)
    )
    return StreamMetrics(in_flight, cut, harmful, any_in_flight=bool(possible))


def _harmful_after(s: StreamObservation, low: int, up: int) -> tuple[int, int]:
    """(certainly, possibly) how many of the stream's harmful chunks arrived after ``G``."""
    h, first, last = s.harmful_chunks, s.first_harm_ns, s.last_harm_ns
    if h <= 0 or first is None or last is None:
        return 0, 0
    if first > up:
        certain = h
    elif last > up:
        certain = 1  # the last one, and the first is not
    else:
        certain = 0
    if first > low:
        possible = h
    elif last > low:
        possible = max(1, h - 1)  # every one but the first
    else:
        possible = 0
    return certain, max(certain, possible)


def _with_value(m: Metric) -> Metric:
    """The point value: for a count the certain one (as every count metric), for a time the
    midpoint when both bounds are proven."""
    if m.unit is Unit.COUNT:
        value = m.lower
    elif m.lower is None or m.upper is None:
        return m
    else:
        value = (m.lower + m.upper) / 2
    return Metric(m.name, value, m.lower, m.upper, m.unit, m.note)
