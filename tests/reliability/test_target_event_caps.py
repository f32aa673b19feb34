"""The target's event log is read as a stream within its caps, whatever the target wrote."""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path

from harness.target_events import read_events


def _line(t: int, event: str = "tick", **fields: object) -> bytes:
    return (json.dumps({"t_ns": t, "event": event, **fields}) + "\n").encode()


def test_an_honest_log_is_read_whole(tmp_path: Path) -> None:
    """A small log is read completely, in order, with its fields."""
    path = tmp_path / "events.jsonl"
    path.write_bytes(_line(1, "started") + _line(2, "stop_effective", reason="admin"))
    events = read_events(path)
    assert [(t, e) for t, e, _ in events] == [(1, "started"), (2, "stop_effective")]
    assert list(events)[1][2]["reason"] == "admin"
    assert events.to_summary() == {
        "events": 2,
        "file_bytes": path.stat().st_size,
        "bytes_read": path.stat().st_size,
        "bytes_left_out": 0,
        "unreadable_lines": 0,
        "complete": True,
    }


def test_the_event_cap_stops_reading(tmp_path: Path) -> None:
    """At ``max_events`` reading stops and the rest of the file is counted as left out."""
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"".join(_line(t) for t in range(1000)))
    events = read_events(path, max_events=10)
    assert len(events) == 10 and events.capped
    assert events.bytes_left_out == path.stat().st_size - events.bytes_read > 0


def test_the_byte_cap_cuts_between_lines(tmp_path: Path) -> None:
    """The byte cap stops before a line it would cut, which is not blamed on the target."""
    path = tmp_path / "events.jsonl"
    line = _line(10**18)
    path.write_bytes(line * 100)
    events = read_events(path, max_bytes=len(line) * 5 + len(line) // 2)
    assert len(events) == 5
    assert events.unreadable_lines == 0
    assert events.capped and events.bytes_read == len(line) * 5


def test_an_endless_line_is_skipped_unheld(tmp_path: Path) -> None:
    """A 64 MB line without a newline is skipped as unreadable in small pieces; the lines
    after it are still read, and memory stays far below the line's size."""
    path = tmp_path / "events.jsonl"
    with open(path, "wb") as out:
        out.write(_line(1))
        for _ in range(1024):
            out.write(b"x" * (64 << 10))
        out.write(b"\n" + _line(2))
    tracemalloc.start()
    try:
        events = read_events(path, max_bytes=128 << 20)
        _size, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert [t for t, _e, _d in events] == [1, 2]
    assert events.unreadable_lines == 1 and not events.capped
    assert peak < 2 << 20, f"peak {peak} bytes"


def test_garbage_lines_are_counted_not_kept(tmp_path: Path) -> None:
    """Torn, non-JSON, non-object, unnamed and non-finite lines are counted as unreadable."""
    path = tmp_path / "events.jsonl"
    path.write_bytes(
        b"not json\n[1, 2]\n"
        + b'{"event": "no time"}\n'
        + b'{"t_ns": Infinity, "event": "never"}\n'
        + _line(5, "ok")
        + b'{"t_ns": 6, "ev'
    )
    events = read_events(path)
    assert [e for _t, e, _d in events] == ["ok"]
    assert events.unreadable_lines == 5
    assert not events.capped


def test_no_log_is_an_empty_one(tmp_path: Path) -> None:
    """A missing or unreadable log reads as no events, complete."""
    events = read_events(tmp_path / "absent.jsonl")
    assert not events and events.to_summary()["complete"] is True
