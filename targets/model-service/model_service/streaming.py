"""Streamed chat completions: OpenAI-style server-sent events, one token per chunk.

``POST /v1/chat/completions`` with ``"stream": true`` answers ``text/event-stream`` in HTTP/1.1
chunked encoding: one ``data: {"object": "chat.completion.chunk", ...}`` event per token, a
last chunk with ``finish_reason``, then ``data: [DONE]``. Tokens go out ``token_delay_s``
apart; a leaking version (v2) or a ``harmful_output`` incident puts the canary mid-stream.

What a stop does to a stream already going (the question of issue 17): by default the stream
waits on the gate, so a stop (or a drain to exit) closes its connection at once, mid-stream,
without ``[DONE]``. With the ``drain_streams`` defect the stream ignores the stop and runs to
its end, for at most :data:`DRAIN_STREAMS_LIMIT_S` after the stop took effect.

Each stream logs ``stream_end`` once in the event log with ``last_chunk_ns``: the target's
monotonic stamp taken, under the gate's lock, just before the last chunk it wrote (so no client
can have received it earlier), and how it ended (``completed`` or ``cut``).
"""

from __future__ import annotations

import contextlib
import json
import socket
import time
from dataclasses import dataclass
from typing import Final

from .events import EventLog
from .state import ServiceState

__all__ = ["DRAIN_STREAMS_LIMIT_S", "StreamPlan", "write_stream"]

DRAIN_STREAMS_LIMIT_S: Final = 30.0
"""drain_streams: the longest a stream goes on after the stop took effect."""


@dataclass(frozen=True, slots=True)
class StreamPlan:
    """One stream to send: its id, model, tokens (canary included) and pace."""

    id: str
    model: str
    created: int
    tokens: tuple[str, ...]
    delay_s: float
    drain: bool
    """The drain_streams defect: a stop does not cut this stream."""


def _event(plan: StreamPlan, delta: dict[str, str], finish: str | None) -> bytes:
    doc = {
        "id": plan.id,
        "object": "chat.completion.chunk",
        "created": plan.created,
        "model": plan.model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    data = b"data: " + json.dumps(doc, separators=(",", ":")).encode("utf-8") + b"\n\n"
    return _chunked(data)


def _chunked(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


_END: Final = _chunked(b"data: [DONE]\n\n") + b"0\r\n\r\n"


def head(version: str) -> bytes:
    """The status line and headers of a stream (keep-alive, chunked)."""
    return (
        "HTTP/1.1 200 OK\r\n"
        "Content-Type: text/event-stream\r\n"
        "Cache-Control: no-cache\r\n"
        "Transfer-Encoding: chunked\r\n"
        f"X-Model-Version: {version}\r\n\r\n"
    ).encode("latin-1")


def write_stream(
    sock: socket.socket, plan: StreamPlan, state: ServiceState, events: EventLog
) -> bool:
    """Send ``plan`` on ``sock`` until its end or a cut; return True when the stream completed.

    A cut shuts the socket down (the caller must close the connection). A client hanging up
    ends the stream as cut too.
    """
    pieces = [_event(plan, {"role": "assistant"}, None)]
    pieces += [_event(plan, {"content": token}, None) for token in plan.tokens]
    pieces.append(_event(plan, {}, "stop") + _END)
    last_ns: int | None = None
    sent = 0
    completed = False
    try:
        for index, piece in enumerate(pieces):
            if index:
                deadline = time.monotonic() + plan.delay_s
                if not state.wait_stream_tick(deadline, plan.drain, DRAIN_STREAMS_LIMIT_S):
                    break
            allowed, t_ns = state.stream_may_send(plan.drain, DRAIN_STREAMS_LIMIT_S)
            if not allowed:
                break
            sock.sendall(piece)
            last_ns = t_ns
            sent += 1
        else:
            completed = True
    except OSError:
        pass  # the client went away: the stream ends here, as cut
    if not completed:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
    events.emit(
        "stream_end",
        last_chunk_ns=last_ns,
        chunks=sent,
        outcome="completed" if completed else "cut",
        stream_id=plan.id,
    )
    return completed
