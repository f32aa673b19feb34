"""The load child's streamed requests (``load.stream``): an answer read as server-sent events.

Imported only by :mod:`harness.load.child` (it imports geventhttpclient when the sender is
built, after gevent's patching). Per request it writes the usual observation line, an ``S``
line when the stream ends and an ``H`` line at its first harmful chunk (wire forms in
:mod:`harness.observations`).

Each read of the socket is stamped with ``time.monotonic_ns()`` as soon as it returns; every
event that read completes is a chunk at that instant. A chunk is judged on its own and on the
text accumulated so far (:class:`~harness.judging.StreamHarmJudge`). Memory per stream is the
parser's one event (at most ``max_body`` bytes), one read, and the harm windows: never the
whole stream.

How a stream ends (:class:`~harness.streams.StreamOutcome`): ``data: [DONE]`` or the body's
clean end is completed (with an unfinished event held: broken); the connection closing or
resetting before the body's end is cut; a read timing out is a timeout; garbage HTTP framing
mid-body is broken; one still open when the load stops (Locust kills its users) is open. A 2xx
answer that is not ``text/event-stream`` is judged as one whole answer and recorded as one
chunk, outcome not_sse. Other statuses are ordinary answers: no
stream record.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final
from urllib.parse import urlsplit

from harness.judging import Failure, StreamHarmJudge, compile_judge, compile_state
from harness.load.clock_offset import skewed_clock
from harness.load.config import LoadConfig
from harness.load.sse import SseParser
from harness.observations import Observation, harm_line, stream_line
from harness.streams import StreamObservation, StreamOutcome

__all__ = ["stream_sender"]

_DONE: Final = b"[DONE]"


class _BodyEnded(Exception):
    """The body ended before the stream did (the server closed without finishing it)."""


def stream_sender(
    config: LoadConfig,
    put: Callable[[str], None],
    put_observation: Callable[[str], None],
    header_view: Callable[[Any], Any],
    read_capped: Callable[[Any, int], tuple[bytes, bool]],
    failure_of_errno: Callable[[int | None], Failure],
) -> Callable[[Any], None]:
    """Resolve the request and the judging once; return ``send(client)`` for a user task."""
    import gevent
    from geventhttpclient.response import HTTPConnectionClosed, HTTPParseError

    request = config.request
    method = request.method
    uri = urlsplit(config.base_url).path.rstrip("/") + request.path
    body = request.encoded_body()
    headers = dict(request.headers)
    if request.json_body is not None and not any(k.lower() == "content-type" for k in headers):
        headers["Content-Type"] = "application/json"
    headers.setdefault("Accept", "text/event-stream")
    judge = compile_judge(config.harm, config.version)
    stream_judge = StreamHarmJudge(config.harm, config.max_body)
    state_of = compile_state(config.safe_state)
    max_body = config.max_body
    clock = skewed_clock(config.clock_skew_ns)

    def send(client: Any) -> None:
        failure: Failure | None = None
        outcome: StreamOutcome | None = None
        left: BaseException | None = None
        status = 0
        data = b""
        truncated = False
        harmful = False
        version = ""
        response = None
        first = last = first_harm = last_harm = None
        chunks = harmful_chunks = 0
        start = end = clock()
        try:
            response = client.request(method, uri, body=body, headers=headers)
            status = response.status_code
            answer_headers = header_view(response.info())
            content_type = answer_headers.get("content-type", "") or ""
            if not 200 <= status < 300 or "text/event-stream" not in content_type.lower():
                data, truncated = read_capped(response, max_body)
                end = clock()
                harmful, version = judge(status, answer_headers, data, end - start)
                if 200 <= status < 300:
                    outcome = StreamOutcome.NOT_SSE
                    first = last = end
                    chunks, harmful_chunks = 1, int(harmful)
                    if harmful:
                        first_harm = last_harm = end
                        put(harm_line(start, end))
            else:
                outcome = StreamOutcome.BROKEN  # until it ends as the protocol says
                harm = stream_judge.stream(status, answer_headers)
                parser = SseParser(max_body)
                done = False
                reader = _BodyReader(response, HTTPConnectionClosed, HTTPParseError)
                while not done:
                    piece = reader.read()
                    now = clock()
                    if not piece:
                        break
                    for event in parser.feed(piece):
                        if event == _DONE:
                            done = True
                            break
                        chunks += 1
                        if first is None:
                            first = now
                            version = judge(status, answer_headers, event, now - start)[1]
                        last = now
                        if harm.chunk(event, now - start):
                            harmful_chunks += 1
                            if first_harm is None:
                                first_harm = now
                                put(harm_line(start, now))
                            last_harm = now
                end = clock()
                if done or not parser.pending:
                    outcome = StreamOutcome.COMPLETED
                truncated = parser.truncated > 0
                harmful = harmful_chunks > 0
        except ConnectionRefusedError:
            failure = Failure.CONNECTION_REFUSED
        except (ConnectionResetError, BrokenPipeError, HTTPConnectionClosed, _BodyEnded):
            failure = Failure.CONNECTION_RESET
            outcome = StreamOutcome.CUT if outcome is not None else None
        except (TimeoutError, gevent.Timeout):
            failure = Failure.TIMEOUT
            outcome = StreamOutcome.TIMEOUT if outcome is not None else None
        except OSError as e:
            failure = failure_of_errno(e.errno)
            outcome = StreamOutcome.CUT if outcome is not None else None
        except Exception:  # an unparsable answer (garbage framing) and the like
            failure = Failure.PROTOCOL
            outcome = StreamOutcome.BROKEN if outcome is not None else None
        except gevent.GreenletExit as e:  # the load is stopping: Locust kills its users
            if outcome is None:
                raise  # no stream began: nothing to record
            # A stream still open now may go on past the load: its record says so, or the
            # analysis would bound the cut time on the streams that ended and call it proven.
            outcome, left = StreamOutcome.OPEN, e
            end, harmful = clock(), harmful_chunks > 0
        finally:
            if response is not None:
                response.release()
        if failure is not None:
            end = clock()
            if outcome is None:  # no stream began: an ordinary failed request
                status, harmful, version = 0, False, ""
            else:
                harmful = harmful_chunks > 0
                failure = None  # the answer's status says the state, as for any answer
        state = state_of(status, failure, data)
        if outcome is not None:
            put(
                stream_line(
                    StreamObservation(
                        start,
                        first,
                        last,
                        first_harm,
                        last_harm,
                        chunks,
                        harmful_chunks,
                        end,
                        outcome,
                    )
                )
            )
        put_observation(
            Observation(start, end, status, state, harmful, version, truncated).to_line()
        )
        if left is not None:
            raise left

    return send


class _BodyReader:
    """The body bytes of one streamed answer as they arrive, one socket read at a time.

    geventhttpclient's ``read(n)`` waits for ``n`` bytes and ``readline`` for a line of any
    length; a stream needs what is there now, bounded by one socket read, so this reads its
    parser's buffer and socket directly. Bytes parsed before a framing error are handed out
    first; the error is raised at the next read.
    """

    __slots__ = ("_closed", "_error", "_parse_error", "_response")

    def __init__(self, response: Any, closed: type[Exception], parse_error: type[Exception]):
        self._response = response
        self._closed = closed
        self._parse_error = parse_error
        self._error: Exception | None = None

    def read(self) -> bytes:
        """The bytes that arrived (waiting for some), or b"" at the body's clean end."""
        response = self._response
        buffer = response._body_buffer
        while not buffer:
            if self._error is not None:
                raise self._error
            if response.message_complete:
                return b""
            sock = response._sock
            if sock is None:
                raise self._closed("connection closed")
            data = sock.recv(response.block_size)
            try:
                response.feed(data)
            except self._parse_error as e:
                self._error = _BodyEnded("the body ended mid-stream") if not data else e
                continue
            if not data and not response.message_complete:
                raise _BodyEnded("the body ended mid-stream")
        piece = bytes(buffer)
        del buffer[:]
        return piece
