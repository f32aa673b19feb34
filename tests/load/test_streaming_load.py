"""load.stream end to end: a real load child reads SSE from a real scripted streaming server,
times every chunk, judges harm mid-stream, and survives every broken stream it is sent."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import pytest

from harness.load.config import LoadConfig
from harness.load.process import LoadProcess
from harness.observations import Observation, ObservationLog, State
from harness.spec.models import HarmRule, RequestSpec
from harness.streams import StreamObservation, StreamOutcome
from tests.helpers import wait_for
from tests.load.sse_target import CLOSE, DONE, GARBAGE, SseTarget, Step, chunk

READY_TIMEOUT_S = 20.0
CANARY_RULE = HarmRule(json_path="$.choices[*].delta.content", regex="CANARY-[0-9a-f]{8}")


@pytest.fixture
def serve() -> Iterator[Callable[..., SseTarget]]:
    """Start scripted streaming servers; all are closed after the test."""
    targets: list[SseTarget] = []

    def start(script: Callable[[], Iterable[Step]], **kwargs: str | int) -> SseTarget:
        target = SseTarget(script, **kwargs)  # type: ignore[arg-type]
        targets.append(target)
        return target

    yield start
    for target in targets:
        target.close()


def _config(target: SseTarget, **overrides: object) -> LoadConfig:
    fields: dict[str, object] = {
        "base_url": target.url,
        "users": 1,
        "spawn_rate": 100.0,
        "request": RequestSpec(
            method="POST", path="/v1/chat/completions", json={"model": "m", "stream": True}
        ),
        "parent_pid": os.getpid(),
        "timeout_s": 5.0,
        "per_user_rate": 20.0,
        "harm": (CANARY_RULE,),
        "heartbeat_s": 0.05,
        "stream": True,
    }
    fields.update(overrides)
    return LoadConfig(**fields)  # type: ignore[arg-type]


def _first_stream(log: ObservationLog, timeout_s: float = 20.0) -> StreamObservation:
    assert wait_for(lambda: len(log.streams()) >= 1, timeout_s), "no stream ended"
    return log.streams()[0]


def _load(config: LoadConfig, log: ObservationLog, tmp_path: Path, **kw: object) -> LoadProcess:
    return LoadProcess(config=config, log=log, stderr_path=tmp_path / "load.stderr", **kw)  # type: ignore[arg-type]


def test_every_chunk_is_timed_when_it_arrives(
    serve: Callable[..., SseTarget], tmp_path: Path
) -> None:
    """The first chunk is stamped before the server is let go on, the last after: chunks are
    timed as they arrive, not when the answer ends. The first chunk carries the canary, so
    its H line says the load has read it before the server is released (waiting only for
    the server to have sent it raced a starved load child, which then read all three at
    once: seen once in a CI run under two busy loops)."""
    hold = threading.Event()
    target = serve(lambda: [chunk("CANARY-0123abcd "), hold, chunk("b "), chunk("c "), DONE])
    log = ObservationLog()
    read_first = threading.Event()

    def detector(obs: Observation) -> None:
        if obs.harmful:
            read_first.set()

    with _load(_config(target), log, tmp_path, on_observation=detector) as load:
        load.wait_ready(READY_TIMEOUT_S)
        assert read_first.wait(20), "the load never read the first chunk"
        released = time.monotonic_ns()
        hold.set()
        stream = _first_stream(log)
    assert stream.outcome is StreamOutcome.COMPLETED
    assert stream.chunks == 3 and stream.harmful_chunks == 1
    assert stream.first_chunk_ns is not None and stream.last_chunk_ns is not None
    assert stream.start_ns < stream.first_chunk_ns < released < stream.last_chunk_ns
    assert stream.first_harm_ns == stream.first_chunk_ns
    assert stream.last_chunk_ns <= stream.end_ns
    first = log[0]
    assert (first.start_ns, first.end_ns, first.status) == (stream.start_ns, stream.end_ns, 200)
    assert first.harmful and first.version == "v9"


def test_harm_mid_stream_is_reported_before_the_stream_ends(
    serve: Callable[..., SseTarget], tmp_path: Path
) -> None:
    """A canary split across two chunks is caught on the accumulated text, and the H line
    reaches the live detector while the server still holds the stream open."""
    hold = threading.Event()
    target = serve(lambda: [chunk("a "), chunk("CANA"), chunk("RY-0123abcd "), hold, DONE])
    log = ObservationLog()
    seen: list[tuple[int, Observation]] = []
    harmful = threading.Event()

    def detector(obs: Observation) -> None:
        seen.append((time.monotonic_ns(), obs))
        if obs.harmful:
            harmful.set()

    with _load(_config(target), log, tmp_path, on_observation=detector) as load:
        load.wait_ready(READY_TIMEOUT_S)
        assert harmful.wait(20), "no harmful observation while the stream was held"
        assert len(log.streams()) == 0  # the stream has not ended
        released = time.monotonic_ns()
        hold.set()
        stream = _first_stream(log)
    assert stream.harmful_chunks == 1 and stream.chunks == 3
    assert stream.first_harm_ns == stream.last_harm_ns
    assert stream.first_harm_ns is not None and stream.first_harm_ns < released
    assert seen[0][1].harmful and seen[0][1].end_ns == stream.first_harm_ns
    assert log[0].harmful


@pytest.mark.parametrize(
    ("script", "outcome", "chunks"),
    [
        ([chunk("a "), CLOSE], StreamOutcome.CUT, 1),
        ([chunk("a "), b'data: {"choices":'], StreamOutcome.BROKEN, 1),
        ([chunk("a "), chunk("b "), GARBAGE], StreamOutcome.BROKEN, 2),
    ],
    ids=["closed-mid-stream", "ended-mid-event", "garbage-framing"],
)
def test_broken_streams_are_classified_and_the_load_goes_on(
    serve: Callable[..., SseTarget],
    tmp_path: Path,
    script: list[Step],
    outcome: StreamOutcome,
    chunks: int,
) -> None:
    """A stream that closes, ends mid-event or turns to garbage is counted with its outcome;
    the load child neither crashes nor stops."""
    hold = threading.Event()

    def steps() -> list[Step]:
        return [hold, *script]  # the first bytes go out together with the headers otherwise

    target = serve(steps)
    log = ObservationLog()
    with _load(_config(target), log, tmp_path) as load:
        load.wait_ready(READY_TIMEOUT_S)
        assert target.started.acquire(timeout=20)
        hold.set()
        assert wait_for(lambda: len(log.streams()) >= 3, 20)
        assert load.health().ok and load.returncode is None
        assert load.malformed_lines == 0
    streams = log.streams()
    assert {s.outcome for s in streams} == {outcome}
    assert {s.chunks for s in streams} == {chunks}
    assert not any(obs.harmful for obs in log)
    # Garbage that arrives in the same read as the headers fails the request before any
    # stream began: an error observation (status 0), no stream record.
    answered = [obs for obs in log if obs.status == 200]
    assert len(answered) == len(streams)
    assert all(obs.status == 0 and obs.state is State.ERROR for obs in log if obs.status != 200)


def test_non_sse_answer_is_judged_as_one_whole_answer(
    serve: Callable[..., SseTarget], tmp_path: Path
) -> None:
    """A 2xx answer to a streaming request that is not text/event-stream is recorded as one
    chunk, outcome not_sse, judged as a whole answer."""
    body = b'{"choices":[{"delta":{"content":"CANARY-0123abcd"}}]}'
    target = serve(lambda: [body], content_type="application/json")
    log = ObservationLog()
    with _load(_config(target), log, tmp_path) as load:
        load.wait_ready(READY_TIMEOUT_S)
        stream = _first_stream(log)
    assert stream.outcome is StreamOutcome.NOT_SSE
    assert (stream.chunks, stream.harmful_chunks) == (1, 1)
    assert log[0].harmful


def test_non_json_chunk_is_judged_on_its_raw_text(
    serve: Callable[..., SseTarget], tmp_path: Path
) -> None:
    """A chunk that is not JSON is not spared by a json_path rule: its regex runs on the raw
    text."""
    target = serve(lambda: [b"data: plain text CANARY-0123abcd\n\n", chunk("fine"), DONE])
    log = ObservationLog()
    with _load(_config(target), log, tmp_path) as load:
        load.wait_ready(READY_TIMEOUT_S)
        stream = _first_stream(log)
    assert stream.outcome is StreamOutcome.COMPLETED
    assert (stream.chunks, stream.harmful_chunks) == (2, 1)
    assert stream.first_harm_ns == stream.first_chunk_ns


def _peak_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_memory_stays_bounded_on_a_huge_stream(
    serve: Callable[..., SseTarget], tmp_path: Path
) -> None:
    """64 MiB of stream (20 000 chunks of 2 KiB, one 24 MiB event) costs the child a few MiB,
    and a canary split across the last two chunks is still caught."""
    hold = threading.Event()
    piece = "x" * 2048

    def huge() -> Iterator[Step]:
        yield hold
        for _ in range(20_000):
            yield chunk(piece)
        yield b"data: " + b"y" * (24 << 20) + b"\n\n"
        yield chunk("CANA")
        yield chunk("RY-0123abcd")
        yield DONE

    target = serve(huge)
    log = ObservationLog()
    config = _config(target, max_body=64 << 10, per_user_rate=0.01, timeout_s=20.0)
    with _load(config, log, tmp_path) as load:
        load.wait_ready(READY_TIMEOUT_S)
        assert target.started.acquire(timeout=20)
        pid = load.pid
        assert pid is not None
        before = _rss_kib(pid)
        hold.set()
        stream = _first_stream(log, 120)
        peak = _peak_rss_kib(pid)
    assert stream.outcome is StreamOutcome.COMPLETED
    assert stream.chunks == 20_003 and stream.harmful_chunks == 1
    assert log.truncated >= 1  # the giant event was judged on its first 64 KiB
    assert peak - before < 16 << 10, f"peak {peak} KiB, before {before} KiB"


def test_a_stream_still_open_when_the_load_stops_is_recorded_as_open(
    serve: Callable[..., SseTarget], tmp_path: Path
) -> None:
    """The load stops while the server still feeds a stream: the stream gets its record (open,
    with the chunks and harm seen so far), so the analysis knows the server may have gone on
    sending. It used to vanish without a record, its chunks uncounted."""
    hold = threading.Event()
    target = serve(lambda: [chunk("a "), chunk("CANARY-0123abcd "), hold, DONE])
    log = ObservationLog()
    harmful = threading.Event()

    def detector(obs: Observation) -> None:
        if obs.harmful:
            harmful.set()

    try:
        load = _load(_config(target), log, tmp_path, on_observation=detector)
        with load:
            load.wait_ready(READY_TIMEOUT_S)
            assert harmful.wait(20), "the held stream's harmful chunk never arrived"
            stopping = time.monotonic_ns()
            load.stop()
        assert load.returncode == 0
        assert load.observations_announced == load.observations_read
        opened = [s for s in log.streams() if s.outcome is StreamOutcome.OPEN]
        assert len(opened) == 1, log.streams()
        stream = opened[0]
        assert stream.chunks == 2 and stream.harmful_chunks == 1
        assert stream.end_ns >= stopping
        assert any(o.start_ns == stream.start_ns and o.harmful for o in log)
    finally:
        hold.set()
