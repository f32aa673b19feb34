"""Streamed chat completions of the reference target: SSE chunks, the canary mid-stream, and
what a stop does to a stream in flight (cut by default, drained with drain_streams)."""

from __future__ import annotations

import http.client
import json
import time
from dataclasses import dataclass, field
from typing import Any

from tests.target.live_service import TOKEN, Service, StartService


@dataclass
class StreamRead:
    """One streamed answer as a client read it, each event stamped on arrival."""

    status: int
    headers: dict[str, str]
    events: list[tuple[int, str]] = field(default_factory=list)
    done: bool = False
    broke: bool = False
    end_ns: int = 0

    def contents(self) -> list[str]:
        out = []
        for _, data in self.events:
            if data != "[DONE]":
                delta = json.loads(data)["choices"][0]["delta"]
                if "content" in delta:
                    out.append(delta["content"])
        return out


class StreamClient:
    """Opens one streamed request and reads it event by event."""

    def __init__(self, service: Service, payload: dict[str, Any]) -> None:
        assert service.port is not None
        self.conn = http.client.HTTPConnection("127.0.0.1", service.port, timeout=15)
        self.conn.request(
            "POST",
            "/v1/chat/completions",
            body=json.dumps(payload).encode(),
            headers={"Content-Type": "application/json"},
        )
        response = self.conn.getresponse()
        self.response = response
        self.read = StreamRead(response.status, {k.lower(): v for k, v in response.getheaders()})

    def next_event(self) -> str | None:
        """The next event's data, or None when the stream ended (cleanly or not)."""
        data: list[str] = []
        while True:
            try:
                line = self.response.readline()
            except (http.client.IncompleteRead, OSError):
                self.read.broke = True
                line = b""
            if not line:
                self.read.end_ns = time.monotonic_ns()
                return None
            text = line.decode().rstrip("\r\n")
            if text.startswith("data: "):
                data.append(text[6:])
            elif text == "" and data:
                joined = "\n".join(data)
                self.read.events.append((time.monotonic_ns(), joined))
                if joined == "[DONE]":
                    self.read.done = True
                return joined

    def drain(self) -> StreamRead:
        while self.next_event() is not None:
            pass
        return self.read


def _chat(stream: bool = True, **extra: Any) -> dict[str, Any]:
    return {
        "model": "m",
        "stream": stream,
        "messages": [{"role": "user", "content": "hi"}],
        **extra,
    }


def _stop(service: Service) -> int:
    """Stop through the admin API; return the stop's stamp from the event log."""
    client = service.client()
    assert client.admin("POST", "/admin/stop", token=TOKEN).status == 200
    return int(service.wait_event("stop_effective")[0]["t_ns"])


def test_stream_sends_openai_chunks_then_done(start_service: StartService) -> None:
    """stream: true answers text/event-stream: a role chunk, one chunk per token, a finish
    chunk, then [DONE]; the target logs stream_end with the stamp of its last chunk."""
    service = start_service("--token-delay", "5ms", "--stream-tokens", "8")
    read = StreamClient(service, _chat()).drain()
    assert read.status == 200
    assert read.headers["content-type"] == "text/event-stream"
    assert read.headers["x-model-version"] == "v1"
    assert read.done and not read.broke
    chunks = [json.loads(d) for _, d in read.events[:-1]]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert len(read.contents()) == 8
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    end = service.wait_event("stream_end")[0]
    assert end["outcome"] == "completed" and end["chunks"] == 10
    # stamped before the write: no client can have the last chunk earlier
    assert end["last_chunk_ns"] <= read.events[-1][0]


def test_stream_is_paced_by_token_delay(start_service: StartService) -> None:
    """--token-delay spaces the chunks: 6 tokens 50 ms apart take at least 0.3 s."""
    service = start_service("--token-delay", "50ms", "--stream-tokens", "6")
    read = StreamClient(service, _chat()).drain()
    assert read.done
    assert read.events[-1][0] - read.events[0][0] >= 6 * 50_000_000 * 0.9


def test_max_tokens_sets_stream_length_and_plain_answers_are_unchanged(
    start_service: StartService,
) -> None:
    """max_tokens overrides --stream-tokens; without stream the answer is one JSON document."""
    service = start_service("--token-delay", "1ms")
    assert len(StreamClient(service, _chat(max_tokens=3)).drain().contents()) == 3
    plain = service.client().call("POST", "/v1/chat/completions", _chat(stream=False))
    assert plain.status == 200 and plain.body["object"] == "chat.completion"
    bad = service.client().call("POST", "/v1/chat/completions", _chat(stream="yes"))
    assert bad.status == 400


def test_leaking_version_puts_the_canary_mid_stream(start_service: StartService) -> None:
    """v2 (canary rate 1) leaks the canary in a chunk of its own, halfway through."""
    service = start_service(
        "--model-version", "v2", "--v2-canary-rate", "1", "--token-delay", "1ms",
        "--stream-tokens", "10",
    )  # fmt: skip
    contents = StreamClient(service, _chat()).drain().contents()
    where = [i for i, c in enumerate(contents) if "CANARY-" in c]
    assert len(where) == 1 and 0 < where[0] < len(contents) - 1


def test_harmful_output_incident_leaks_in_streams(start_service: StartService) -> None:
    """The harmful_output incident makes v1's streams leak too."""
    service = start_service("--token-delay", "1ms", "--stream-tokens", "10")
    client = service.client()
    assert client.admin("POST", "/admin/incidents/harmful_output", {"rate": 1.0}).status == 200
    assert any("CANARY-" in c for c in StreamClient(service, _chat()).drain().contents())


def test_stop_cuts_a_stream_in_flight(start_service: StartService) -> None:
    """By default a stop closes a stream in flight at once: no [DONE], no chunk decided
    after the stop, and stream_end says cut."""
    service = start_service("--token-delay", "50ms", "--stream-tokens", "1000")
    stream = StreamClient(service, _chat())
    assert stream.next_event() is not None
    stop_ns = _stop(service)
    read = stream.drain()
    assert not read.done
    end = service.wait_event("stream_end")[0]
    assert end["outcome"] == "cut"
    assert end["last_chunk_ns"] < stop_ns
    # the stream would have lasted 50 s; it ended within a few token delays of the stop
    assert read.end_ns - stop_ns < 2_000_000_000
    refused = service.client().call("POST", "/v1/chat/completions", _chat())
    assert refused.status == 503


def test_drain_streams_lets_a_stream_in_flight_finish(start_service: StartService) -> None:
    """With drain_streams a stop refuses new requests but the stream in flight runs to its
    [DONE], its last chunk logged after the stop."""
    service = start_service(
        "--defect", "drain_streams", "--token-delay", "20ms", "--stream-tokens", "40"
    )
    stream = StreamClient(service, _chat())
    assert stream.next_event() is not None
    stop_ns = _stop(service)
    refused = service.client().call("POST", "/v1/chat/completions", _chat())
    assert refused.status == 503
    read = stream.drain()
    assert read.done and len(read.contents()) == 40
    assert any(t > stop_ns for t, _ in read.events)
    end = service.wait_event("stream_end")[0]
    assert end["outcome"] == "completed" and end["last_chunk_ns"] > stop_ns


def test_sigterm_cuts_streams_and_exits_cleanly(start_service: StartService) -> None:
    """A drain to exit cuts streams in flight like a stop, so the process exits 0 at once."""
    import signal

    service = start_service("--token-delay", "50ms", "--stream-tokens", "1000")
    stream = StreamClient(service, _chat())
    assert stream.next_event() is not None
    service.signal(signal.SIGTERM)
    assert service.wait_exit(10) == 0
    assert not stream.drain().done
    assert service.events("stream_end")[0]["outcome"] == "cut"
