"""The log's rows as the analysis reads them: block by block, with row masks, in flat memory.

The analysis asks questions of the form "the sorted starts (or ends) of the rows where ...",
"the latest start where ...", "how many rows where ...". Each question is one pass over the
log's blocks (:meth:`ObservationLog.blocks`, read back from disk when spilled); within a block,
the condition is a 0/1 byte mask and the selection is ``itertools.compress``, both at C
speed. Only what a question selects is kept, as an ``array('q')`` (8 bytes a value, where a
list of ints costs 40), so memory follows the selection, never the log's length times a
Python object.
"""

from __future__ import annotations

import heapq
from array import array
from bisect import bisect_right
from collections.abc import Callable, Iterator
from itertools import chain, compress

from harness.observations import ColumnBlock, ObservationLog, State

__all__ = ["NOT", "Block", "Columns", "Pick", "Where", "both", "either", "end_of", "start_of"]


def _only(*values: int) -> bytes:
    """A bytes.translate table mapping each of ``values`` to 1 and every other byte to 0."""
    table = bytearray(256)
    for value in values:
        table[value & 0xFF] = 1
    return bytes(table)


_ONLY_SERVING = _only(int(State.SERVING))
_ONLY_STOPPED = _only(int(State.STOPPED))
NOT = _only(0)
"""``mask.translate(NOT)`` flips a 0/1 mask."""

_SMALL_MERGE = 1 << 16
"""An overlap up to this many values is merged by one ``sorted`` (timsort merges two runs in
linear time); a longer one by ``heapq.merge``, which builds no list."""


def both(*masks: bytes) -> bytes:
    """Row-wise AND of 0/1 byte masks, done on big integers so it runs at C speed."""
    acc = int.from_bytes(masks[0], "little")
    for mask in masks[1:]:
        acc &= int.from_bytes(mask, "little")
    return acc.to_bytes(len(masks[0]), "little")


def either(a: bytes, b: bytes) -> bytes:
    """Row-wise OR of two 0/1 byte masks."""
    return (int.from_bytes(a, "little") | int.from_bytes(b, "little")).to_bytes(len(a), "little")


class Block:
    """One block of rows with its masks; a mask against an instant is computed element-wise
    only when the instant falls inside the block's range (most blocks lie wholly before or
    after every instant the analysis asks about)."""

    __slots__ = (
        "_end_range",
        "_masks",
        "_start_range",
        "_version_id",
        "end",
        "first",
        "harmful",
        "n",
        "serving",
        "start",
        "stopped",
        "version",
    )

    def __init__(
        self,
        block: ColumnBlock,
        version_id: Callable[[str], int | None],
        ranges: dict[int, tuple[int, int, int, int]] | None = None,
        masks: dict[tuple[int, bool, int], bytes] | None = None,
    ) -> None:
        self.n = len(block)
        self.first = block.first
        self._masks = masks
        self.start = block.start
        self.end = block.end
        self.harmful = block.harmful.tobytes()
        self.version = block.version
        state = block.state.tobytes()
        self.serving = state.translate(_ONLY_SERVING)
        self.stopped = state.translate(_ONLY_STOPPED)
        self._version_id = version_id
        self._end_range: tuple[int, int] | None = None
        self._start_range: tuple[int, int] | None = None
        if ranges is not None:
            # min and max over a block cost a Python int per row: taken once per block, not
            # once per question.
            known = ranges.get(block.first)
            if known is None:
                known = ranges[block.first] = (*self._ends(), *self._starts())
            self._end_range, self._start_range = known[:2], known[2:]

    def _ends(self) -> tuple[int, int]:
        if self._end_range is None:
            self._end_range = (min(self.end), max(self.end))
        return self._end_range

    def _starts(self) -> tuple[int, int]:
        if self._start_range is None:
            self._start_range = (min(self.start), max(self.start))
        return self._start_range

    def _all(self, value: bool) -> bytes:
        return (b"\x01" if value else b"\x00") * self.n

    def ended_after(self, t_ns: int) -> bytes:
        """Rows that ended after ``t_ns`` (may have been handled after it)."""
        lo, hi = self._ends()
        if lo > t_ns or hi <= t_ns:
            return self._all(lo > t_ns)
        return self._compared(True, t_ns)

    def ended_by(self, t_ns: int) -> bytes:
        """Rows that ended at or before ``t_ns`` (certainly handled by then)."""
        return self.ended_after(t_ns).translate(NOT)

    def started_before(self, t_ns: int) -> bytes:
        """Rows that started before ``t_ns``."""
        lo, hi = self._starts()
        if hi < t_ns or lo >= t_ns:
            return self._all(hi < t_ns)
        return self._compared(False, t_ns)

    def _compared(self, ends: bool, t_ns: int) -> bytes:
        """ends > t (``ends``) or starts < t, row by row: kept for the next question about the
        same instant, for the few blocks an instant falls in (at most _MASKS of them)."""
        key = (self.first, ends, t_ns)
        masks = self._masks
        mask = None if masks is None else masks.get(key)
        if mask is None:
            mask = bytes(map(t_ns.__lt__, self.end) if ends else map(t_ns.__gt__, self.start))
            if masks is not None and len(masks) < _MASKS:
                masks[key] = mask
        return mask

    def started_from(self, t_ns: int) -> bytes:
        """Rows that started at or after ``t_ns``."""
        return self.started_before(t_ns).translate(NOT)

    def of_version(self, version: str | None) -> bytes:
        """Rows answered by ``version`` (none when it never answered, or was folded into the
        log's ``other`` entry, which never matches a named version)."""
        index = None if version is None else self._version_id(version)
        if index is None:
            return bytes(self.n)
        # Ids are two bytes a row: match the low and the high byte each with one translate
        # and AND the two masks, so this stays at C speed whatever the table's size.
        raw = self.version.tobytes()
        assert self.version.itemsize == 2
        low, high = (raw[0::2], raw[1::2]) if _LITTLE else (raw[1::2], raw[0::2])
        return both(low.translate(_only(index & 0xFF)), high.translate(_only(index >> 8)))


_LITTLE = array("H", [1]).tobytes()[0] == 1

_MASKS = 32
"""Row-by-row masks kept per analysis (a block's rows each): the blocks an instant falls in."""

Where = Callable[[Block], bytes]
"""A row condition: the 0/1 mask of one block's rows that meet it."""
Pick = Callable[[Block], "array[int]"]
"""A column of a block (its starts or its ends)."""


def start_of(block: Block) -> array[int]:
    """The starts of a block's rows."""
    return block.start


def end_of(block: Block) -> array[int]:
    """The ends of a block's rows."""
    return block.end


class Columns:
    """The first ``len(log)`` rows of a log (taken once), asked about block by block."""

    __slots__ = ("_log", "_masks", "_ranges", "n", "version_id")

    def __init__(self, log: ObservationLog) -> None:
        self._log = log
        self.n = len(log)
        self.version_id: Callable[[str], int | None] = log.version_id
        self._ranges: dict[int, tuple[int, int, int, int]] = {}
        self._masks: dict[tuple[int, bool, int], bytes] = {}

    def blocks(self) -> Iterator[Block]:
        """The rows, one block at a time (read back from disk when the log spilled them)."""
        for block in self._log.blocks(0, self.n):
            yield Block(block, self.version_id, self._ranges, self._masks)

    def spanned(self, stretches: list[tuple[int, int]]) -> bool:
        """Whether every stretch (from, to) lay inside one request's life: some row started
        at or before ``from`` and ended at or after ``to`` (the load was waiting on the
        service all along). One pass over the blocks, stopping once all are spanned."""
        left = list(stretches)
        for block in self.blocks():
            if not left:
                break
            first_start, last_end = block._starts()[0], block._ends()[1]
            left = [
                (t0, t1)
                for t0, t1 in left
                if first_start > t0
                or last_end < t1
                or not any(map(t1.__le__, compress(block.end, map(t0.__ge__, block.start))))
            ]
        return not left

    def sorted_of(self, pick: Pick, where: Where) -> array[int]:
        """The values of ``pick`` over the rows meeting ``where``, sorted.

        Two passes: the first counts, so the result is allocated once at its size (grown
        block by block, a large array is reallocated and copied, briefly doubling it)."""
        out = array("q", [0]) * self.count(where)
        filled = 0
        for block in self.blocks():
            filled = _merge_into(out, filled, sorted(compress(pick(block), where(block))))
        assert filled == len(out)
        return out

    def max_of(self, pick: Pick, where: Where) -> int | None:
        """The largest value of ``pick`` over the rows meeting ``where``; None when none do."""
        found = (max(compress(pick(b), where(b)), default=None) for b in self.blocks())
        return max((v for v in found if v is not None), default=None)

    def min_of(self, pick: Pick, where: Where) -> int | None:
        """The smallest value of ``pick`` over the rows meeting ``where``; None when none do."""
        found = (min(compress(pick(b), where(b)), default=None) for b in self.blocks())
        return min((v for v in found if v is not None), default=None)

    def count(self, where: Where) -> int:
        """How many rows meet ``where``."""
        return sum(where(block).count(1) for block in self.blocks())

    def any(self, where: Where) -> bool:
        """Whether some row meets ``where``."""
        return any(1 in where(block) for block in self.blocks())


def _merge_into(out: array[int], filled: int, part: list[int]) -> int:
    """Add sorted ``part`` to the sorted ``out[:filled]``, keeping it sorted; return the new
    filled length (``out`` has room).

    Rows arrive nearly in end order, so a block's values mostly follow the previous ones:
    only the overlap (values of ``out`` after ``part``'s first) is merged."""
    if not part:
        return filled
    cut = filled if not filled else bisect_right(out, part[0], 0, filled)
    k = 0
    if cut < filled:
        tail = out[cut:filled]
        k = bisect_right(part, tail[-1])
        if len(tail) + k <= _SMALL_MERGE:
            merged = array("q", sorted(chain(tail, part[:k])))
        else:
            merged = array("q", heapq.merge(tail, part[:k]))
        out[cut : cut + len(merged)] = merged
        cut += len(merged)
    rest = len(part) - k
    out[cut : cut + rest] = array("q", part[k:] if k else part)
    return cut + rest
