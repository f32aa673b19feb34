"""What the load saw of one streamed answer (server-sent events), aggregated per stream.

A stream of thousands of tokens is kept as the instants the bounds need and two counts, not
one record per chunk, so memory stays bounded by the number of streams. Every instant is on
the host's monotonic clock (``time.monotonic_ns``), like every observation.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = ["StreamObservation", "StreamOutcome"]


class StreamOutcome(enum.StrEnum):
    """How one stream ended, as the load saw it."""

    COMPLETED = "completed"
    """The stream ended as the protocol says (``data: [DONE]`` or a clean end of the body)."""
    CUT = "cut"
    """The connection closed or reset before the stream's end: the server cut it."""
    BROKEN = "broken"
    """The stream broke mid-event (a partial line at the end) or sent garbage framing."""
    NOT_SSE = "not_sse"
    """The answer to a streaming request was not an event stream (judged as a whole answer)."""
    TIMEOUT = "timeout"
    """No chunk within the load's timeout."""
    OPEN = "open"
    """Still open when the load stopped: the server may have gone on sending."""


@dataclass(frozen=True, slots=True)
class StreamObservation:
    """One stream: when it started, its first and last chunk, its first and last harmful
    chunk (None when none), how many chunks and harmful chunks, when and how it ended."""

    start_ns: int
    first_chunk_ns: int | None
    last_chunk_ns: int | None
    first_harm_ns: int | None
    last_harm_ns: int | None
    chunks: int
    harmful_chunks: int
    end_ns: int
    outcome: StreamOutcome
