"""Observations: one per request of the load, kept column-wise so a million stay small.

An observation is what the load saw of one request: when it started and ended on the
host's monotonic clock, the HTTP status (0 when no HTTP answer came), the state the answer
put the service in (serving, stopped or error), whether the answer was harmful under the
drill's rules, whether its body was cut at the load's body cap (harm was then judged on the
prefix), and which model version answered.

The wire form between the load child and the harness is one text line per observation:
``start_ns,end_ns,status,state,harmful,truncated,version`` (``state``, ``harmful`` and
``truncated`` as small integers, ``version`` possibly empty and last, so it may hold commas).

Versions are strings a target chooses, so the log bounds them: each is cut to
:data:`MAX_VERSION_CHARS`, and only the first :data:`MAX_VERSIONS` distinct ones (plus any the
drill names, which are always kept) get their own entry. Later newcomers share one entry,
labelled ``(other: N distinct)``, and are counted.

Streams (``load.stream``) add two lines (issue 17's contract): ``S,<start_ns>,<first_chunk_ns>,
<last_chunk_ns>,<first_harm_ns>,<last_harm_ns>,<chunks>,<harmful_chunks>,<end_ns>,<outcome>``
when a stream ends (an empty field is None) and ``H,<start_ns>,<t_ns>`` at its first harmful
chunk. The log keeps streams column-wise too (:meth:`ObservationLog.streams`).

Past :data:`MEMORY_ROWS` rows the log moves full blocks of :data:`BLOCK_ROWS` to a spill file
with no name (see :class:`ObservationLog`); whoever reads the whole log reads it through
:meth:`ObservationLog.blocks`, so memory stays flat however long the load ran.
"""

from __future__ import annotations

import enum
import os
import tempfile
import threading
import weakref
from array import array
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final, overload

from harness.streams import StreamObservation, StreamOutcome

__all__ = [
    "BLOCK_ROWS",
    "MAX_VERSIONS",
    "MAX_VERSION_CHARS",
    "MEMORY_ROWS",
    "ColumnBlock",
    "Observation",
    "ObservationLog",
    "State",
    "VersionCounts",
    "harm_line",
    "parse_harm_line",
    "parse_stream_line",
    "stream_line",
]

MAX_VERSION_CHARS: Final = 64
"""A version longer than this is cut to it (the load child cuts it too)."""

MAX_VERSIONS: Final = 1024
"""Distinct versions kept by name; later ones are folded into one ``other`` entry."""

_MAX_FOLDED_TRACKED: Final = 100_000
"""Folded versions whose distinctness is tracked (a hash each); beyond, the count is a floor."""

_ID_TYPECODE: Final = "H"
"""Version ids are unsigned 16-bit: the table never exceeds MAX_VERSIONS, the pinned ones and
the other entry."""


class State(enum.IntEnum):
    """What one answer says about the service."""

    SERVING = 0
    """The model answered normally (harmful or not: harm is a separate flag)."""
    STOPPED = 1
    """The answer matches the drill's safe-state rule (refused, reset, 503 by default)."""
    ERROR = 2
    """Anything else: timeouts, 500s, garbage."""


@dataclass(frozen=True, slots=True)
class Observation:
    """One request as the load saw it."""

    start_ns: int
    end_ns: int
    status: int
    state: State
    harmful: bool
    version: str = ""
    truncated: bool = False
    """The body was longer than the load's cap; only its prefix was read and judged."""

    def to_line(self) -> str:
        """Return the wire form, newline included."""
        return (
            f"{self.start_ns},{self.end_ns},{self.status},{int(self.state)},"
            f"{int(self.harmful)},{int(self.truncated)},{self.version}\n"
        )

    @classmethod
    def from_line(cls, line: str) -> Observation:
        """Parse the wire form; raises ValueError on anything malformed."""
        parts = line.rstrip("\n").split(",", 6)
        if len(parts) != 7:
            raise ValueError(f"observation line needs 7 fields, got {len(parts)}: {line[:200]!r}")
        start, end, status, state, harmful, truncated, version = parts
        return cls(
            start_ns=int(start),
            end_ns=int(end),
            status=int(status),
            state=State(int(state)),
            harmful=harmful == "1",
            version=version,
            truncated=truncated == "1",
        )


def stream_line(s: StreamObservation) -> str:
    """The wire form of one ended stream (``S,...``), newline included."""
    return (
        f"S,{s.start_ns},{_opt(s.first_chunk_ns)},{_opt(s.last_chunk_ns)},"
        f"{_opt(s.first_harm_ns)},{_opt(s.last_harm_ns)},{s.chunks},{s.harmful_chunks},"
        f"{s.end_ns},{s.outcome.value}\n"
    )


def parse_stream_line(line: str) -> StreamObservation:
    """Parse an ``S,...`` line; raises ValueError on anything malformed."""
    parts = line.rstrip("\n").split(",")
    if len(parts) != 10 or parts[0] != "S":
        raise ValueError(f"stream line needs S and 9 fields: {line[:200]!r}")
    _, start, first, last, first_harm, last_harm, chunks, harmful, end, outcome = parts
    obs = StreamObservation(
        start_ns=int(start),
        first_chunk_ns=_int_opt(first),
        last_chunk_ns=_int_opt(last),
        first_harm_ns=_int_opt(first_harm),
        last_harm_ns=_int_opt(last_harm),
        chunks=int(chunks),
        harmful_chunks=int(harmful),
        end_ns=int(end),
        outcome=StreamOutcome(outcome),
    )
    if obs.chunks < 0 or not 0 <= obs.harmful_chunks <= obs.chunks:
        raise ValueError(f"stream line with impossible counts: {line[:200]!r}")
    return obs


def harm_line(start_ns: int, t_ns: int) -> str:
    """The wire form of a stream's first harmful chunk (``H,...``), newline included."""
    return f"H,{start_ns},{t_ns}\n"


def parse_harm_line(line: str) -> tuple[int, int]:
    """Parse an ``H,...`` line into (start_ns, t_ns); raises ValueError when malformed."""
    parts = line.rstrip("\n").split(",")
    if len(parts) != 3 or parts[0] != "H":
        raise ValueError(f"harm line needs H and 2 fields: {line[:200]!r}")
    return int(parts[1]), int(parts[2])


_NONE: Final = -1
"""A missing instant in the stream columns (monotonic instants are never negative here)."""


def _opt(value: int | None) -> str:
    return "" if value is None else str(value)


def _int_opt(text: str) -> int | None:
    return None if text == "" else int(text)


_OUTCOMES: Final = tuple(StreamOutcome)


class _StreamColumns:
    """Ended streams, one array per field: about 60 bytes a stream."""

    def __init__(self) -> None:
        self.start = array("q")
        self.first = array("q")
        self.last = array("q")
        self.first_harm = array("q")
        self.last_harm = array("q")
        self.chunks = array("q")
        self.harmful = array("q")
        self.end = array("q")
        self.outcome = array("b")

    def append(self, s: StreamObservation) -> None:
        self.start.append(s.start_ns)
        self.first.append(_NONE if s.first_chunk_ns is None else s.first_chunk_ns)
        self.last.append(_NONE if s.last_chunk_ns is None else s.last_chunk_ns)
        self.first_harm.append(_NONE if s.first_harm_ns is None else s.first_harm_ns)
        self.last_harm.append(_NONE if s.last_harm_ns is None else s.last_harm_ns)
        self.chunks.append(s.chunks)
        self.harmful.append(s.harmful_chunks)
        self.end.append(s.end_ns)
        self.outcome.append(_OUTCOMES.index(s.outcome))

    def row(self, i: int) -> StreamObservation:
        def opt(v: int) -> int | None:
            return None if v == _NONE else v

        return StreamObservation(
            start_ns=self.start[i],
            first_chunk_ns=opt(self.first[i]),
            last_chunk_ns=opt(self.last[i]),
            first_harm_ns=opt(self.first_harm[i]),
            last_harm_ns=opt(self.last_harm[i]),
            chunks=self.chunks[i],
            harmful_chunks=self.harmful[i],
            end_ns=self.end[i],
            outcome=_OUTCOMES[self.outcome[i]],
        )


class _StreamView(Sequence[StreamObservation]):
    """A read-only view of the first ``n`` streams of the log (rows built when read)."""

    def __init__(self, columns: _StreamColumns, n: int) -> None:
        self._columns = columns
        self._n = n

    def __len__(self) -> int:
        return self._n

    @overload
    def __getitem__(self, i: int) -> StreamObservation: ...

    @overload
    def __getitem__(self, i: slice) -> Sequence[StreamObservation]: ...

    def __getitem__(self, i: int | slice) -> StreamObservation | Sequence[StreamObservation]:
        if isinstance(i, slice):
            return [self._columns.row(j) for j in range(*i.indices(self._n))]
        if i < 0:
            i += self._n
        if not 0 <= i < self._n:
            raise IndexError(i)
        return self._columns.row(i)


@dataclass(frozen=True, slots=True)
class VersionCounts:
    """How many distinct versions the log kept by name, and what it folded into ``other``."""

    kept: int
    folded_distinct: int
    """Distinct versions folded; a floor when ``folded_distinct_exact`` is false."""
    folded_distinct_exact: bool
    folded_answers: int

    def to_summary(self) -> dict[str, int | bool]:
        """The summary.json form."""
        return {
            "kept": self.kept,
            "folded_distinct": self.folded_distinct,
            "folded_distinct_exact": self.folded_distinct_exact,
            "folded_answers": self.folded_answers,
        }


_ROW_TYPECODES: Final = ("q", "q", "h", "b", "b", _ID_TYPECODE)
"""start_ns, end_ns, status, state, harmful, version id: 22 bytes a row."""

BLOCK_ROWS: Final = 1 << 18
"""Rows per block (about 5.8 MB): the unit the log spills, reads back and hands to readers."""

MEMORY_ROWS: Final = 2 * BLOCK_ROWS
"""Rows the log keeps in memory (524,288: about 11.5 MB) before it moves full blocks to disk:
the block being filled and the newest full one, which the live watcher reads."""

if TYPE_CHECKING:
    # One block's columns in the order of _ROW_TYPECODES (array is generic only when typing).
    _Rows = tuple[array[int], array[int], array[int], array[int], array[int], array[int]]


def _empty_rows() -> _Rows:
    start, end, status, state, harmful, version = (array(code) for code in _ROW_TYPECODES)
    return start, end, status, state, harmful, version


@dataclass(frozen=True, slots=True)
class ColumnBlock:
    """Consecutive rows of the log, one array per column (read-only: a full block's arrays
    may be the log's own)."""

    first: int
    """The log index of the block's first row."""
    start: array[int]
    end: array[int]
    status: array[int]
    state: array[int]
    harmful: array[int]
    version: array[int]
    """Version ids: indexes into :meth:`ObservationLog.versions`' table."""

    def __len__(self) -> int:
        return len(self.start)


@dataclass(frozen=True, slots=True)
class _Spilled:
    """Where one full block's columns lie in the spill file, one after the other."""

    offset: int


class _SpillFile:
    """Full blocks on disk, in a file with no name (it is gone when closed or the process
    dies, however the run ends), read back with ``pread`` so any thread may read."""

    def __init__(self, directory: Path | None) -> None:
        # Open for the log's life, closed by ObservationLog.close or its finalizer.
        self._file = tempfile.TemporaryFile(  # noqa: SIM115
            dir=directory, prefix="govdrill-observations-"
        )
        self._fd = self._file.fileno()
        self._size = 0

    def write(self, rows: _Rows) -> _Spilled:
        offset = self._size
        data = b"".join(column.tobytes() for column in rows)
        written = 0
        while written < len(data):
            written += os.pwrite(self._fd, data[written:], offset + written)
        self._size += len(data)
        return _Spilled(offset)

    def read(self, where: _Spilled, rows: int) -> _Rows:
        out = _empty_rows()
        offset = where.offset
        for column in out:
            size = rows * column.itemsize
            data = os.pread(self._fd, size, offset)
            if len(data) != size:
                raise OSError(f"the observation spill file is short at {offset}")
            column.frombytes(data)
            offset += size
        return out

    @property
    def size(self) -> int:
        return self._size

    def close(self) -> None:
        self._file.close()


class ObservationLog:
    """An append-only, column-wise store of observations that moves old rows to disk.

    Rows are kept in blocks of :data:`BLOCK_ROWS`. At most ``memory_rows`` rows are held in
    memory: when a block fills and the next one would not fit, the oldest full blocks go to
    a spill file (in ``spill_dir``, with no name), the newest full one always stays. A log of
    fewer than ``memory_rows`` rows never touches disk; a ten-million-row one holds about
    ``memory_rows`` x 22 bytes in memory, not 220 MB.
    Readers stream over :meth:`blocks`; :meth:`columns`, iteration and indexing still work
    on any row, reading spilled blocks back.

    Several threads may append (one reader per load process; appends are serialised by a
    lock); any thread may read. Readers see a consistent
    prefix: ``len()`` is taken first and only that many rows are read.

    ``pinned`` versions (those a drill rolls back to) always get their own entry, however many
    others came first, so judging a rollback never depends on what a target sprayed before it.
    """

    def __init__(
        self,
        *,
        pinned: Iterable[str] = (),
        max_versions: int = MAX_VERSIONS,
        spill_dir: Path | None = None,
        memory_rows: int = MEMORY_ROWS,
        block_rows: int = BLOCK_ROWS,
    ) -> None:
        if block_rows < 1 or memory_rows < 2 * block_rows:
            # The tail being filled and the newest full block always stay in memory.
            raise ValueError("block_rows must be >= 1 and memory_rows >= 2 x block_rows")
        self._block_rows = block_rows
        self._memory_rows = memory_rows
        self._spill_dir = spill_dir
        self._spill: _SpillFile | None = None
        self._closer: weakref.finalize[[], ObservationLog] | None = None
        self._blocks: list[_Rows | _Spilled] = []
        """Full blocks, oldest first; the first ``_spilled`` of them are on disk."""
        self._spilled = 0
        self._tail = _empty_rows()
        self._cached: tuple[int, _Rows] | None = None
        """The last spilled block read back for indexing (one block, so memory stays flat)."""
        self._versions: list[str] = []
        self._version_index: dict[str, int] = {}
        self._pinned = frozenset(v[:MAX_VERSION_CHARS] for v in pinned)
        self._max_versions = max_versions
        self._other: int | None = None
        self._folded: set[int] = set()
        self._folded_answers = 0
        self._truncated = 0
        self._lock = threading.Lock()
        self._count = 0
        self._streams = _StreamColumns()
        self._stream_count = 0

    def append_stream(self, stream: StreamObservation) -> None:
        """Add one ended stream (from any thread, as for observations)."""
        with self._lock:  # a fleet's workers each have a reader thread appending here
            self._streams.append(stream)
            self._stream_count += 1

    def streams(self) -> Sequence[StreamObservation]:
        """The streams ended so far, in arrival order (a consistent prefix, read lazily)."""
        return _StreamView(self._streams, self._stream_count)

    def __len__(self) -> int:
        return self._count

    @property
    def truncated(self) -> int:
        """How many answers had a body longer than the cap (judged on its prefix)."""
        return self._truncated

    @property
    def spilled_rows(self) -> int:
        """How many rows are on disk now (0 until the log outgrew its memory budget)."""
        return self._spilled * self._block_rows

    @property
    def spill_bytes(self) -> int:
        """The size of the spill file (0 while every row is in memory)."""
        return 0 if self._spill is None else self._spill.size

    def close(self) -> None:
        """Drop the spill file (the log's rows on disk are gone with it); idempotent."""
        if self._closer is not None:
            self._closer()

    def __enter__(self) -> ObservationLog:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def version_counts(self) -> VersionCounts:
        """What the version table kept and folded so far."""
        with self._lock:
            kept = len(self._versions) - (self._other is not None)
            return VersionCounts(
                kept=kept,
                folded_distinct=len(self._folded),
                folded_distinct_exact=len(self._folded) < _MAX_FOLDED_TRACKED,
                folded_answers=self._folded_answers,
            )

    def version_id(self, version: str) -> int | None:
        """The table index of ``version``; None when it never answered or was folded."""
        return self._version_index.get(version[:MAX_VERSION_CHARS])

    def _id_of(self, version: str) -> int:
        """The id of ``version``, giving it one (or the other entry) when new; lock held."""
        index = self._version_index.get(version)  # the hot path: a version seen before
        if index is not None:
            return index
        version = version[:MAX_VERSION_CHARS]
        index = self._version_index.get(version)
        if index is not None:
            return index
        table = self._versions
        if len(table) - (self._other is not None) < self._max_versions or version in self._pinned:
            index = len(table)
            table.append(version)
            self._version_index[version] = index
            return index
        if self._other is None:
            self._other = len(table)
            table.append("")  # read through _other_label(), which gives the count
        self._folded_answers += 1
        if len(self._folded) < _MAX_FOLDED_TRACKED:
            self._folded.add(hash(version))
        return self._other

    def append(self, obs: Observation) -> None:
        """Add one observation."""
        with self._lock:
            index = self._id_of(obs.version)
            start, end, status, state, harmful, version = self._tail
            start.append(obs.start_ns)
            end.append(obs.end_ns)
            status.append(obs.status)
            state.append(int(obs.state))
            harmful.append(int(obs.harmful))
            version.append(index)
            self._truncated += obs.truncated
            self._count += 1
            full = len(start) == self._block_rows
        if full:
            self._seal_tail()

    def extend(self, observations: Iterator[Observation] | list[Observation]) -> None:
        """Add many observations in order."""
        for obs in observations:
            self.append(obs)

    def extend_columns(
        self,
        start_ns: Sequence[int],
        end_ns: Sequence[int],
        status: Sequence[int],
        state: Sequence[int],
        harmful: Sequence[int],
        versions: Sequence[str],
    ) -> None:
        """Add many rows given column by column, in order (a bulk load that builds no
        Observation per row, as a recorded run or a million-row test does)."""
        n = len(start_ns)
        columns = (start_ns, end_ns, status, state, harmful)
        if any(len(c) != n for c in (*columns, versions)):
            raise ValueError("every column needs one value per row")
        done = 0
        while done < n:
            with self._lock:
                tail = self._tail
                cut = min(n, done + self._block_rows - len(tail[0]))
                tail[5].extend(self._id_of(v) for v in versions[done:cut])
                for into, values in zip(tail, columns, strict=False):
                    into.extend(values[done:cut])
                self._count += cut - done
                full = len(tail[0]) == self._block_rows
            done = cut
            if full:
                self._seal_tail()

    def _seal_tail(self) -> None:
        """Keep the full tail as a block and start a new one; spill when over budget.

        Only the appending thread calls this; the spill is written outside the lock and
        swapped in under it, so readers are held up by a list assignment at most."""
        with self._lock:
            self._blocks.append(self._tail)
            self._tail = _empty_rows()
        # The newest full block stays in memory: the live watcher reads recent rows.
        while (len(self._blocks) - self._spilled + 1) * self._block_rows > self._memory_rows:
            index = self._spilled
            if index >= len(self._blocks) - 1:
                break
            rows = self._blocks[index]
            assert not isinstance(rows, _Spilled)
            where = self._spill_file().write(rows)
            with self._lock:
                self._blocks[index] = where
                self._spilled += 1

    def _spill_file(self) -> _SpillFile:
        if self._spill is None:
            self._spill = _SpillFile(self._spill_dir)
            self._closer = weakref.finalize(self, self._spill.close)
        return self._spill

    def _block(self, index: int) -> _Rows:
        """The columns of block ``index`` (the tail when it is the last), read back if spilled."""
        with self._lock:
            rows = self._tail if index == len(self._blocks) else self._blocks[index]
        if not isinstance(rows, _Spilled):
            return rows
        cached = self._cached
        if cached is not None and cached[0] == index:
            return cached[1]
        assert self._spill is not None
        return self._spill.read(rows, self._block_rows)

    def blocks(self, since: int = 0, until: int | None = None) -> Iterator[ColumnBlock]:
        """The rows ``since``..``until`` (``len()`` when taken, by default) in blocks of at
        most :data:`BLOCK_ROWS`, oldest first: the way to read a large log in flat memory."""
        until = self._count if until is None else min(until, self._count)
        size = self._block_rows
        first = max(0, since)
        while first < until:
            index = first // size
            base = index * size
            lo, hi = first - base, min(until, base + size) - base
            rows = self._block(index)
            if lo or hi < size:  # part of a block, or the tail being filled: a copy
                rows = tuple(c[lo:hi] for c in rows)  # type: ignore[assignment]
            # A whole block is never appended to again: its arrays are handed out as they are.
            start, end, status, state, harmful, version = rows
            yield ColumnBlock(first, start, end, status, state, harmful, version)
            first = base + hi

    def __getitem__(self, i: int) -> Observation:
        n = self._count
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError(i)
        index, row = divmod(i, self._block_rows)
        rows = self._block(index)
        if index < self._spilled:
            self._cached = (index, rows)
        start, end, status, state, harmful, version = rows
        # truncation is counted, not kept per row
        return self._row(start[row], end[row], status[row], state[row], harmful[row], version[row])

    def _row(
        self, start: int, end: int, status: int, state: int, harmful: int, index: int
    ) -> Observation:
        return Observation(
            start_ns=start,
            end_ns=end,
            status=status,
            state=State(state),
            harmful=bool(harmful),
            version=self._other_label() if index == self._other else self._versions[index],
        )

    def __iter__(self) -> Iterator[Observation]:
        row = self._row
        for block in self.blocks():
            columns = (block.start, block.end, block.status, block.state, block.harmful)
            for values in zip(*columns, block.version, strict=True):
                yield row(*values)

    def columns(
        self, since: int = 0
    ) -> tuple[array[int], array[int], array[int], array[int], array[int]]:
        """Return (start_ns, end_ns, status, state, harmful) of rows ``since``..len().

        A copy of every row asked for: read a large log through :meth:`blocks` instead."""
        out = _empty_rows()
        for block in self.blocks(since):
            for into, values in zip(out, _block_columns(block), strict=True):
                into.extend(values)
        return out[0], out[1], out[2], out[3], out[4]

    def versions(self, since: int = 0) -> tuple[list[str], array[int]]:
        """Return the version table and the index into it (unsigned 16-bit ids) of rows
        ``since``..len(). The folded entry, if any, reads ``(other: N distinct)``."""
        n = self._count
        index = array(_ID_TYPECODE)
        for block in self.blocks(since, n):
            index.extend(block.version)
        return self.version_table(), index

    def version_table(self) -> list[str]:
        """The version names by id; the folded entry, if any, reads ``(other: N distinct)``."""
        with self._lock:
            table = list(self._versions)
            if self._other is not None:
                table[self._other] = self._other_label()
            return table

    def _other_label(self) -> str:
        floor = "" if len(self._folded) < _MAX_FOLDED_TRACKED else ">="
        return f"(other: {floor}{len(self._folded)} distinct)"


def _block_columns(block: ColumnBlock) -> _Rows:
    return block.start, block.end, block.status, block.state, block.harmful, block.version
