"""The SSE parser, the stream harm judge and the stream wire lines, on their own."""

from __future__ import annotations

import pytest

from harness.judging import StreamHarmJudge
from harness.judging._stream import WINDOW_CHARS
from harness.load.sse import SseParser
from harness.observations import (
    ObservationLog,
    harm_line,
    parse_harm_line,
    parse_stream_line,
    stream_line,
)
from harness.spec.models import HarmRule
from harness.streams import StreamObservation, StreamOutcome

RULE = HarmRule(json_path="$.choices[*].delta.content", regex="CANARY-[0-9a-f]{8}")


def _delta(text: str) -> bytes:
    return b'{"choices":[{"index":0,"delta":{"content":"%s"}}]}' % text.encode()


def test_parser_splits_events_across_any_read_boundary() -> None:
    """Events come out whole however the bytes are cut: CRLF, multi-line data, comments and
    other fields handled."""
    raw = (
        b": hello\r\nevent: x\r\ndata: one\r\n\r\n"
        b"data: two\ndata: lines\n\nid: 3\n\ndata:[DONE]\n\n"
    )
    for size in (1, 2, 3, 7, len(raw)):
        parser = SseParser(1024)
        events = []
        for i in range(0, len(raw), size):
            events += parser.feed(raw[i : i + size])
        assert events == [b"one", b"two\nlines", b"[DONE]"]
        assert not parser.pending


def test_parser_holds_at_most_the_cap_of_one_endless_line() -> None:
    """A line without end is kept up to the cap and the rest dropped, counted as truncated."""
    parser = SseParser(100)
    for _ in range(1000):
        assert parser.feed(b"data: " + b"x" * 10_000) == []
    assert parser.pending
    assert parser.feed(b"\n\n") == [b"x" * 100]
    assert parser.truncated >= 1


def test_harm_on_a_canary_split_across_chunks() -> None:
    """Neither half matches alone; the chunk that completes the canary is harmful, and only it."""
    harm = StreamHarmJudge([RULE], 1 << 20).stream(200, {})
    verdicts = [harm.chunk(_delta(t), 0) for t in ("a ", "CANA", "RY-01", "23abcd ", "z")]
    assert verdicts == [False, False, False, True, False]


def test_harm_window_is_bounded_yet_catches_a_late_canary() -> None:
    """After megabytes of text the window holds WINDOW_CHARS, and a split canary is caught."""
    judge = StreamHarmJudge([RULE], 1 << 20)
    harm = judge.stream(200, {})
    for _ in range(1000):
        assert not harm.chunk(_delta("y" * 2000), 0)
    assert all(len(tail) <= WINDOW_CHARS for tail in harm._tails)
    assert not harm.chunk(_delta("CANARY-01"), 0)
    assert harm.chunk(_delta("23abcd"), 0)


def test_non_json_chunk_is_judged_on_raw_text() -> None:
    """A json_path rule's regex runs on the raw text of a chunk that is not JSON."""
    harm = StreamHarmJudge([RULE], 1 << 20).stream(200, {})
    assert harm.chunk(b"oops CANARY-0123abcd", 0)


def test_stream_and_harm_lines_round_trip_and_the_log_keeps_streams() -> None:
    """S and H lines parse back to what was written; the log returns streams in order."""
    s = StreamObservation(10, 20, 30, 25, 25, 3, 1, 40, StreamOutcome.CUT)
    empty = StreamObservation(10, None, None, None, None, 0, 0, 11, StreamOutcome.BROKEN)
    assert parse_stream_line(stream_line(s)) == s
    assert parse_stream_line(stream_line(empty)) == empty
    assert parse_harm_line(harm_line(10, 25)) == (10, 25)
    log = ObservationLog()
    log.append_stream(s)
    log.append_stream(empty)
    assert list(log.streams()) == [s, empty]
    assert log.streams()[-1] == empty
    assert list(log.streams()[1:]) == [empty]


@pytest.mark.parametrize(
    "line",
    [
        "S,1,2,3,,,4,5,6,cut",  # more harmful chunks than chunks
        "S,1,2,3,,,4,0,6,exploded",
        "S,1,2",
        "S,a,2,3,,,4,0,6,cut",
    ],
)
def test_malformed_stream_lines_are_refused(line: str) -> None:
    """A stream line with impossible counts, an unknown outcome or bad fields is refused."""
    with pytest.raises(ValueError):
        parse_stream_line(line)
