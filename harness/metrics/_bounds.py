"""Bounding one gate flip from request intervals: the transition core shared by stop and rollback.

Each observation is either evidence that the gate was *open* (served: the gate flipped after
its start) or *closed* (the gate had flipped by its end). Open evidence is kept as sorted
starts, closed evidence as sorted ends; everything here is plain sorted-list arithmetic (on lists
or ``array('q')``) so a million rows cost a few bisects and slices, not a Python loop per row.
"""

from __future__ import annotations

import operator
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["Presence", "Run", "Transition", "largest_gap", "transition"]


@dataclass(frozen=True, slots=True)
class Run:
    """A maximal run of closed evidence with no open start among it."""

    lower_ns: int
    """The gate closed after this: the open start before the run (or the begin instant)."""
    first_end_ns: int
    """... and by this: the first closed end of the run."""
    last_end_ns: int
    count: int
    next_open_ns: int | None
    """The first open start after the run; None for the final run."""
    confirmed_stretch: bool


@dataclass(frozen=True, slots=True)
class Transition:
    """The last flip (lower, upper] and the runs that came before it."""

    lower_ns: int
    upper_ns: int | None
    final_count: int
    early_runs: tuple[Run, ...]
    """Earlier runs, contradicted by a later open start; at most ``max_runs`` of them."""
    early_run_count: int
    returns_ns: tuple[int, ...]
    """The open start that followed each early run that was a confirmed stretch."""


def transition(
    opens: Sequence[int],
    closed: Sequence[int],
    begin_ns: int,
    *,
    stretch_ns: int,
    stretch_count: int,
    max_runs: int,
) -> Transition:
    """Bound the last flip from sorted open starts and sorted closed ends (all after begin).

    lower = max(begin, last open start); upper = first closed end after lower. Closed ends at
    or before lower contradict a single flip; they are grouped into runs split by the open
    starts that follow them, and a run is a confirmed stretch when it holds at least
    ``stretch_count`` closed ends spread over at least ``stretch_ns``.
    """
    lower = max(begin_ns, opens[-1]) if opens else begin_ns
    k = bisect_right(closed, lower)
    upper = closed[k] if k < len(closed) else None
    runs: list[Run] = []
    returns: list[int] = []
    count = 0
    i = 0
    while i < k:
        first = closed[i]
        # An open start equal to a closed end contradicts it too (the flip would need to be
        # both after the start and before the end), hence bisect_left here ...
        j_open = bisect_left(opens, first)
        next_open = opens[j_open]
        # ... and bisect_right here: every closed end <= next_open belongs to this run.
        j = bisect_right(closed, next_open, i, k)
        last = closed[j - 1]
        confirmed = j - i >= stretch_count and last - first >= stretch_ns
        if confirmed:
            returns.append(next_open)
        if len(runs) < max_runs:
            previous = opens[j_open - 1] if j_open > 0 else begin_ns
            runs.append(
                Run(
                    lower_ns=max(begin_ns, previous),
                    first_end_ns=first,
                    last_end_ns=last,
                    count=j - i,
                    next_open_ns=next_open,
                    confirmed_stretch=confirmed,
                )
            )
        count += 1
        i = j
    return Transition(
        lower_ns=lower,
        upper_ns=upper,
        final_count=len(closed) - k,
        early_runs=tuple(runs),
        early_run_count=count,
        returns_ns=tuple(returns),
    )


_GAP_CHUNK = 1 << 16
"""Consecutive gaps are taken this many at a time: a whole run's ends are never copied."""


def largest_gap(ends: Sequence[int], begin_ns: int, end_ns: int) -> int:
    """The longest stretch of [begin, end] with no element of sorted ``ends`` inside it."""
    if end_ns <= begin_ns:
        return 0
    lo = bisect_right(ends, begin_ns)
    hi = bisect_right(ends, end_ns)
    if lo == hi:
        return end_ns - begin_ns
    inner = 0
    for a in range(lo, hi - 1, _GAP_CHUNK):
        b = min(hi - 1, a + _GAP_CHUNK)
        inner = max(inner, max(map(operator.sub, ends[a + 1 : b + 1], ends[a:b])))
    return max(ends[lo] - begin_ns, inner, end_ns - ends[hi - 1])


class Presence:
    """Observation ends, sorted: where the load was seen and where it was not."""

    __slots__ = ("ends",)

    SAMPLE = 65_536
    """The median gap is taken over at most this many evenly spaced gaps."""

    def __init__(self, ends: Sequence[int]) -> None:
        self.ends = ends

    def median_gap(self) -> int | None:
        """The median gap between consecutive ends (of an evenly spaced sample when long)."""
        ends = self.ends
        if len(ends) < 2:
            return None
        step = max(1, (len(ends) - 1) // self.SAMPLE)
        sample: list[int] = sorted(map(operator.sub, ends[1::step], ends[::step]))
        return sample[(len(sample) - 1) // 2]

    def largest_gap(self, begin_ns: int, end_ns: int) -> int:
        """The longest stretch of [begin, end] with no observation ending inside it."""
        return largest_gap(self.ends, begin_ns, end_ns)

    def gaps_over(
        self, begin_ns: int, end_ns: int, limit_ns: int, *, at_most: int
    ) -> list[tuple[int, int]] | None:
        """The stretches of [begin, end] longer than ``limit_ns`` with no observation ending
        inside them, as (from, to); None when there are more than ``at_most``."""
        ends = self.ends
        lo = bisect_right(ends, begin_ns)
        hi = bisect_right(ends, end_ns)
        found: list[tuple[int, int]] = []
        if lo == hi:
            return [(begin_ns, end_ns)] if end_ns - begin_ns > limit_ns else found
        if ends[lo] - begin_ns > limit_ns:
            found.append((begin_ns, ends[lo]))
        for a in range(lo, hi - 1, _GAP_CHUNK):
            b = min(hi - 1, a + _GAP_CHUNK)
            diffs = list(map(operator.sub, ends[a + 1 : b + 1], ends[a:b]))
            if max(diffs) <= limit_ns:
                continue
            found += [(ends[a + i], ends[a + i + 1]) for i, d in enumerate(diffs) if d > limit_ns]
            if len(found) > at_most:
                return None
        if end_ns - ends[hi - 1] > limit_ns:
            found.append((ends[hi - 1], end_ns))
        return found if len(found) <= at_most else None
