"""Observations: one per request of the load, kept column-wise so a million stay small.

An observation is what the load saw of one request: when it started and ended on the
host's monotonic clock, the HTTP status (0 when no HTTP answer came), the state the answer
put the service in (serving, stopped or error), whether the answer was harmful under the
drill's rules, and which model version answered.

The wire form between the load child and the harness is one text line per observation:
``start_ns,end_ns,status,state,harmful,version`` (``state`` and ``harmful`` as small
integers, ``version`` possibly empty).
"""

from __future__ import annotations

import enum
import threading
from array import array
from collections.abc import Iterator
from dataclasses import dataclass

__all__ = ["Observation", "ObservationLog", "State"]


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

    def to_line(self) -> str:
        """Return the wire form, newline included."""
        return (
            f"{self.start_ns},{self.end_ns},{self.status},{int(self.state)},"
            f"{int(self.harmful)},{self.version}\n"
        )

    @classmethod
    def from_line(cls, line: str) -> Observation:
        """Parse the wire form; raises ValueError on anything malformed."""
        parts = line.rstrip("\n").split(",", 5)
        if len(parts) != 6:
            raise ValueError(f"observation line needs 6 fields, got {len(parts)}: {line!r}")
        start, end, status, state, harmful, version = parts
        return cls(
            start_ns=int(start),
            end_ns=int(end),
            status=int(status),
            state=State(int(state)),
            harmful=harmful == "1",
            version=version,
        )


class ObservationLog:
    """An append-only, column-wise store of observations.

    One thread appends (the load reader); any thread may read. Readers see a consistent
    prefix: ``len()`` is taken first and only that many rows are read.
    """

    def __init__(self) -> None:
        self._start = array("q")
        self._end = array("q")
        self._status = array("h")
        self._state = array("b")
        self._harmful = array("b")
        self._version = array("b")
        self._versions: list[str] = []
        self._version_index: dict[str, int] = {}
        self._lock = threading.Lock()
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def append(self, obs: Observation) -> None:
        """Add one observation."""
        with self._lock:
            index = self._version_index.get(obs.version)
            if index is None:
                index = len(self._versions)
                self._versions.append(obs.version)
                self._version_index[obs.version] = index
            self._start.append(obs.start_ns)
            self._end.append(obs.end_ns)
            self._status.append(obs.status)
            self._state.append(int(obs.state))
            self._harmful.append(int(obs.harmful))
            self._version.append(index)
            self._count += 1

    def extend(self, observations: Iterator[Observation] | list[Observation]) -> None:
        """Add many observations in order."""
        for obs in observations:
            self.append(obs)

    def __getitem__(self, i: int) -> Observation:
        return Observation(
            start_ns=self._start[i],
            end_ns=self._end[i],
            status=self._status[i],
            state=State(self._state[i]),
            harmful=bool(self._harmful[i]),
            version=self._versions[self._version[i]],
        )

    def __iter__(self) -> Iterator[Observation]:
        for i in range(self._count):
            yield self[i]

    def columns(
        self, since: int = 0
    ) -> tuple[array[int], array[int], array[int], array[int], array[int]]:
        """Return (start_ns, end_ns, status, state, harmful) of rows ``since``..len()."""
        n = self._count
        return (
            self._start[since:n],
            self._end[since:n],
            self._status[since:n],
            self._state[since:n],
            self._harmful[since:n],
        )

    def versions(self, since: int = 0) -> tuple[list[str], array[int]]:
        """Return the version table and the index into it of rows ``since``..len()."""
        n = self._count
        return list(self._versions), self._version[since:n]
