"""Server-sent events framing, incremental and bounded: bytes in, each event's data out.

Pure (standard library only), so the load child and the tests use the same parser. Lines end
with ``\\n`` (a ``\\r`` before it is dropped); ``data:`` lines of one event are joined with
``\\n``; an empty line ends the event; comments (``:``) and other fields (``event``, ``id``,
``retry``) are skipped. A lone ``\\r`` is not taken as a line end (no server seen sends it).

Memory: an event's data is kept up to ``cap`` bytes; what goes beyond is dropped unread and the
event is counted in :attr:`SseParser.truncated`, so a target sending one endless line costs one
cap, not the whole line.
"""

from __future__ import annotations

__all__ = ["SseParser"]


class SseParser:
    """Feeds on the body's bytes as they arrive; returns the data of every event completed."""

    __slots__ = ("_cap", "_data", "_has_data", "_line", "_skipping", "truncated")

    def __init__(self, cap: int) -> None:
        self._cap = cap
        self._line = bytearray()
        self._data = bytearray()
        self._has_data = False
        self._skipping = False  # inside a line already over the cap: drop until its end
        self.truncated = 0

    @property
    def pending(self) -> bool:
        """True when bytes of an unfinished event are held (the stream stopped mid-event)."""
        return bool(self._line) or self._has_data or self._skipping

    def feed(self, data: bytes) -> list[bytes]:
        """Parse ``data``; return the data of each event it completed, in order."""
        events: list[bytes] = []
        start = 0
        end = len(data)
        while start < end:
            newline = data.find(b"\n", start)
            if newline < 0:
                self._keep(data, start, end)
                break
            self._keep(data, start, newline)
            start = newline + 1
            self._end_line(events)
        return events

    def _keep(self, data: bytes, start: int, end: int) -> None:
        if self._skipping:
            return
        room = self._cap + 6 - len(self._line)  # "data: " prefix plus the cap
        if end - start > room:
            self._line += data[start : start + max(room, 0)]
            self._skipping = True
            self.truncated += 1
        else:
            self._line += data[start:end]

    def _end_line(self, events: list[bytes]) -> None:
        line = bytes(self._line)
        self._line.clear()
        self._skipping = False
        if line.endswith(b"\r"):
            line = line[:-1]
        if not line:
            if self._has_data:
                events.append(bytes(self._data))
                self._data.clear()
                self._has_data = False
            return
        if line.startswith(b":"):
            return
        field, colon, value = line.partition(b":")
        if field != b"data":
            return
        if colon and value.startswith(b" "):
            value = value[1:]
        if self._has_data:
            self._data += b"\n"
        room = self._cap - len(self._data)
        if len(value) > room:
            value = value[: max(room, 0)]
            self.truncated += 1
        self._data += value
        self._has_data = True
