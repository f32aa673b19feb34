"""The target's own event log (``target.events.jsonl``), read as a stream within fixed caps.

A target writes this file, so it may be any size: the harness reads at most
:data:`MAX_EVENT_BYTES` bytes and :data:`MAX_EVENTS` well-formed lines of it, one line at a
time, and skips any line longer than :data:`MAX_LINE_BYTES` without holding it. What it did
not read is counted (bytes left out of the file, lines skipped), so the summary and the report
can say how much of the log the ground truth rests on.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Final

__all__ = [
    "MAX_EVENTS",
    "MAX_EVENT_BYTES",
    "MAX_LINE_BYTES",
    "TargetEvent",
    "TargetEvents",
    "copy_event_log",
    "read_events",
]

MAX_EVENT_BYTES: Final = 8 << 20
"""Bytes of the log read at most (an honest target logs state changes: a few kilobytes)."""

MAX_EVENTS: Final = 20_000
"""Events kept at most."""

MAX_LINE_BYTES: Final = 16 << 10
"""A longer line is skipped as unreadable, unread."""

MAX_COPY_BYTES: Final = MAX_EVENT_BYTES + MAX_LINE_BYTES
"""Bytes of the log copied into the run folder at most: a little more than is ever read."""

CUT_NOTE: Final = "target.events.cut.json"
"""Written beside a copy that was cut: the log's real size, so the summary can say it."""

_BLOCK: Final = 1 << 16

TargetEvent = tuple[int, str, Mapping[str, Any]]
"""One event: (t_ns on the host monotonic clock, its name, the whole line as read)."""


@dataclass(frozen=True, slots=True)
class TargetEvents:
    """The events read from a target's log, and how much of the log they cover.

    Iterating gives the events in file order; its length and truth are those of the events,
    so it stands wherever a list of events did.
    """

    events: tuple[TargetEvent, ...] = ()
    file_bytes: int = 0
    """The log's size when it was read (0 when there was none)."""
    bytes_read: int = 0
    """Bytes of it read from the start; the rest was left out."""
    unreadable_lines: int = 0
    """Lines read but not kept: torn, not JSON, no ``t_ns``/``event``, or overlong."""
    capped: bool = False
    """Reading stopped at a cap (bytes or events) before the end of the file."""

    def __iter__(self) -> Iterator[TargetEvent]:
        return iter(self.events)

    def __len__(self) -> int:
        return len(self.events)

    @property
    def bytes_left_out(self) -> int:
        """Bytes of the log never read."""
        return max(0, self.file_bytes - self.bytes_read)

    def to_summary(self) -> dict[str, int | bool]:
        """The summary.json form: what the ground truth rests on."""
        return {
            "events": len(self.events),
            "file_bytes": self.file_bytes,
            "bytes_read": self.bytes_read,
            "bytes_left_out": self.bytes_left_out,
            "unreadable_lines": self.unreadable_lines,
            "complete": not self.capped,
        }


def read_events(
    path: Path,
    *,
    max_events: int = MAX_EVENTS,
    max_bytes: int = MAX_EVENT_BYTES,
    max_line: int = MAX_LINE_BYTES,
) -> TargetEvents:
    """Read the target's event log (one JSON object a line) within the caps; never raises
    for what the file holds, and an unreadable file is an empty log."""
    events: list[TargetEvent] = []
    unreadable = 0
    read = 0
    capped = False
    try:
        with open(path, "rb") as log:
            size = os.fstat(log.fileno()).st_size
            while True:
                if len(events) >= max_events or read >= max_bytes:
                    capped = read < size
                    break
                line = log.readline(min(max_line + 1, max_bytes - read))
                if not line:
                    break
                if not line.endswith(b"\n"):
                    if len(line) > max_line:  # overlong: skip the rest of it, unkept
                        unreadable += 1
                        read += len(line) + _skip_line(log, max_bytes - read - len(line))
                        continue
                    if read + len(line) >= max_bytes and log.read(1):
                        capped = True  # a line cut by the byte cap is not the target's fault
                        break
                read += len(line)
                event = _event(line)
                if event is None:
                    unreadable += 1
                else:
                    events.append(event)
    except OSError:
        return TargetEvents()
    original = _cut_size(path)
    if original is not None:  # the run holds a cut copy: the log itself went on
        return TargetEvents(tuple(events), max(original, read), read, unreadable, True)
    return TargetEvents(tuple(events), max(size, read), read, unreadable, capped)


def copy_event_log(source: Path, dest: Path, *, max_bytes: int = MAX_COPY_BYTES) -> int:
    """Copy at most ``max_bytes`` of the target's log to ``dest``, streaming; when the log was
    longer, note its real size in :data:`CUT_NOTE` beside ``dest``. Returns bytes copied."""
    copied = 0
    with open(source, "rb") as src, open(dest, "wb") as out:
        size = os.fstat(src.fileno()).st_size
        while copied < max_bytes:
            block = src.read(min(_BLOCK, max_bytes - copied))
            if not block:
                break
            out.write(block)
            copied += len(block)
        cut = bool(src.read(1))
    if cut:
        note = {"file_bytes": max(size, copied + 1), "copied_bytes": copied}
        (dest.parent / CUT_NOTE).write_text(json.dumps(note) + "\n")
    return copied


def _cut_size(path: Path) -> int | None:
    """The real size of a log whose copy at ``path`` was cut, or None when it was whole."""
    try:
        note = json.loads((path.parent / CUT_NOTE).read_text())
        return int(note["file_bytes"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _skip_line(log: IO[bytes], budget: int) -> int:
    """Read past the rest of an overlong line, at most ``budget`` bytes; return bytes read."""
    skipped = 0
    while skipped < budget:
        block = log.readline(min(_BLOCK, budget - skipped))
        if not block:
            break
        skipped += len(block)
        if block.endswith(b"\n"):
            break
    return skipped


def _event(line: bytes) -> TargetEvent | None:
    try:
        item = json.loads(line)
        return int(item["t_ns"]), str(item["event"]), item
    except (ValueError, KeyError, TypeError, OverflowError):
        return None
