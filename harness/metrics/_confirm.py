"""One definition of "the change took effect" and "it held", for the live watcher and the analysis.

A change (a stop, a rollback, the end of harm) turns *old* answers into *new* ones. Over the
answers that may have been handled after the change was issued at ``I`` (``end > I``):
``L = max(I, last start of an old answer)`` and ``U = first end of a new answer after L``.
The change is *held* at the earliest instant ``C`` such that new answers are present over
``[C - hold, C]`` (no gap between consecutive new ends, nor at either edge, longer than the
presence limit) with ``U <= C - hold``, and ``C`` lies within what was observed. The presence
limit at ``C`` is ``max(presence_gap_s, presence_gap_factor x the median gap between
consecutive ends of all observations that ended in (I - 5 s, C])``: only what had been
observed by ``C``, so the live watcher knows it when the final analysis does.

The live :class:`ChangeTracker` and the final analysis both call :func:`held_at`; the tracker
sees the answers as they arrive, the analysis sees them all. They can differ only by what
had not arrived yet: an old answer still in flight when the tracker decided makes the final
analysis call the change partial or resurrected (the tracker's decision was sticky), never
silently confirmed.
"""

from __future__ import annotations

import operator
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Sequence

__all__ = ["BASELINE_NS", "ChangeTracker", "held_at", "presence_limit_ns"]

BASELINE_NS = 5_000_000_000
"""The presence limit is learned from the observations ending in the 5 s before the issue."""

_SAMPLE = 65_536


def presence_limit_ns(
    ends: Sequence[int], issued_ns: int, upto_ns: int, *, gap_ns: int, factor: float
) -> int:
    """The longest gap between answers still counted as presence at ``upto``.

    ``ends`` are sorted observation ends of every kind; those in ``(issued - 5 s, upto]``
    count: what had been observed by then, so the live watcher knows it as the analysis does.
    """
    lo = bisect_right(ends, issued_ns - BASELINE_NS)
    hi = bisect_right(ends, upto_ns)
    if hi - lo < 2:
        return gap_ns
    # A sample of the gaps in ends[lo:hi], taken by index: the window may be the whole run.
    step = max(1, (hi - lo - 1) // _SAMPLE)
    gaps: list[int] = sorted(map(operator.sub, ends[lo + 1 : hi : step], ends[lo:hi:step]))
    return max(gap_ns, round(factor * gaps[(len(gaps) - 1) // 2]))


def held_at(
    closed: Sequence[int],
    upper_ns: int,
    *,
    hold_ns: int,
    limit: Callable[[int], int],
    until_ns: int,
) -> int | None:
    """The earliest instant ``C <= until`` at which sorted new ends ``closed`` had been present
    for ``hold`` with ``C - hold >= upper``; None when there is none. ``limit(C)`` is the
    presence limit at ``C``."""
    start = upper_ns
    while start + hold_ns <= until_ns:
        end = start + hold_ns
        max_gap_ns = limit(end)
        lo = bisect_right(closed, start)
        hi = bisect_right(closed, end)
        inner = closed[lo:hi]
        points = [start, *inner, end]
        widest = max(map(operator.sub, points[1:], points[:-1]))
        if widest <= max_gap_ns:
            return end
        # Move past the last gap that is too wide: a window starting earlier contains it.
        k = len(points) - 1
        while points[k] - points[k - 1] <= max_gap_ns:
            k -= 1
        if k < len(points) - 1:
            start = points[k] - max_gap_ns
        else:
            if hi >= len(closed):
                return None
            start = closed[hi] - max_gap_ns
    return None


class ChangeTracker:
    """The live side: fed answers as they arrive, says when the change took effect and held.

    Effective once ``effective_count`` new answers ended after ``L`` (a debounce for the
    ladder's escalation, not a fact in the evidence); held as :func:`held_at` says, and that
    decision is sticky. An old answer after ``L`` withdraws the effect until new evidence
    arrives.
    """

    __slots__ = (
        "_closed",
        "_ends",
        "_not_before",
        "_sorted",
        "effective_count",
        "factor",
        "gap_ns",
        "held_ns",
        "hold_ns",
        "issued_ns",
        "lower_ns",
    )

    def __init__(
        self,
        issued_ns: int,
        *,
        hold_ns: int,
        gap_ns: int,
        factor: float,
        effective_count: int = 3,
    ) -> None:
        self.issued_ns = issued_ns
        self.hold_ns = hold_ns
        self.gap_ns = gap_ns
        self.factor = factor
        self.effective_count = effective_count
        self._ends: list[int] = []
        self.lower_ns = issued_ns
        self.held_ns: int | None = None
        self._closed: list[int] = []
        self._sorted = True
        self._not_before = 0

    def add(self, starts: Iterable[int], ends: Iterable[int], kinds: Iterable[int]) -> None:
        """Take new answers; ``kinds`` is 1 for old, 2 for new, 0 for neither (ERROR)."""
        issued = self.issued_ns
        since = issued - BASELINE_NS
        lower = self.lower_ns
        closed = self._closed
        seen = self._ends
        moved = False
        for start, end, kind in zip(starts, ends, kinds, strict=False):
            if end > since:
                seen.append(end)
            if end <= issued or not kind:
                continue
            if kind == 1:
                if start > lower:
                    lower = start
                    moved = True
            elif end > lower:
                if closed and end < closed[-1]:
                    self._sorted = False
                closed.append(end)
        if moved:
            self.lower_ns = lower
            self._closed = [e for e in closed if e > lower]
            self._not_before = 0
            if not self._sorted:
                self._closed.sort()
                self._sorted = True

    @property
    def upper_ns(self) -> int | None:
        """U: the first new end after L, when enough new answers back it."""
        if len(self._closed) < self.effective_count:
            return None
        if not self._sorted:
            self._closed.sort()
            self._sorted = True
        return self._closed[0]

    def effective(self) -> bool:
        """Whether the change has taken effect on what arrived so far."""
        return self.upper_ns is not None

    def held(self, now_ns: int) -> bool:
        """Whether the change has held for the hold (sticky once True)."""
        if self.held_ns is not None:
            return True
        upper = self.upper_ns
        if upper is None or now_ns < max(upper + self.hold_ns, self._not_before):
            return False
        self._ends.sort()
        ends = self._ends

        def limit(upto: int) -> int:
            return presence_limit_ns(
                ends, self.issued_ns, upto, gap_ns=self.gap_ns, factor=self.factor
            )

        at = held_at(self._closed, upper, hold_ns=self.hold_ns, limit=limit, until_ns=now_ns)
        if at is None:
            # Nothing can hold before the last stretch that is present now has lasted a hold.
            gap = limit(now_ns)
            tail = self._closed[bisect_left(self._closed, upper) :]
            start = tail[-1]
            for i in range(len(tail) - 1, 0, -1):
                if tail[i] - tail[i - 1] > gap:
                    break
                start = tail[i - 1]
            self._not_before = max(start - gap, upper) + self.hold_ns
            return False
        self.held_ns = at
        return True
