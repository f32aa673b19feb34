"""A load worker's clock offset from the harness's, estimated by round trips (the midpoint method).

The harness writes a ping at ``sent`` (its clock), the worker stamps ``t`` on its own clock
when it reads it and answers, and the harness reads the answer at ``received``. The stamp
was taken somewhere in ``[sent, received]`` on the harness's clock, so the offset
``theta = worker - harness`` lies in ``[t - received, t - sent]``: the midpoint
``t - (sent + received) / 2`` is off by at most the half round trip ``(received - sent) / 2``,
whatever the two clocks are and however the delay splits between the two directions. Of
several pings the one with the shortest round trip gives the tightest interval, and it is
kept. A worker instant ``w`` is then the harness instant ``w - theta``, within ``± u``
(``u`` the kept half round trip); nothing here assumes the clocks share a base.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["ClockOffset", "OffsetEstimator", "skewed_clock"]


def skewed_clock(skew_ns: int) -> Callable[[], int]:
    """The monotonic clock, or (test hook) the monotonic clock plus ``skew_ns``: a load child
    playing a worker whose clock is off by a known amount stamps everything with it."""
    if not skew_ns:
        return time.monotonic_ns
    monotonic_ns = time.monotonic_ns
    return lambda: monotonic_ns() + skew_ns


@dataclass(frozen=True, slots=True)
class ClockOffset:
    """One worker clock against the harness's: ``worker = harness + offset_ns`` within
    ``± uncertainty_ns``, from ``samples`` answered pings."""

    offset_ns: int
    uncertainty_ns: int
    samples: int

    def to_harness(self, worker_ns: int) -> int:
        """A worker instant on the harness's clock (the uncertainty still applies)."""
        return worker_ns - self.offset_ns


class OffsetEstimator:
    """Pairs pings with their answers and keeps the best estimate (the shortest round trip).

    Not thread-safe by itself: its owner sends pings and reads answers under one lock.
    """

    __slots__ = ("_best", "_next_seq", "_samples", "_sent")

    def __init__(self) -> None:
        self._sent: dict[int, int] = {}
        self._next_seq = 0
        self._best: ClockOffset | None = None
        self._samples = 0

    def ping(self, sent_ns: int) -> int:
        """Record a ping about to be written at ``sent_ns``; return its sequence number."""
        seq = self._next_seq
        self._next_seq += 1
        self._sent[seq] = sent_ns
        return seq

    def answer(self, seq: int, worker_ns: int, received_ns: int) -> ClockOffset | None:
        """Take the answer to ping ``seq``; return the best estimate so far, or None when the
        answer matches no ping (unknown or answered twice: it proves nothing)."""
        sent = self._sent.pop(seq, None)
        if sent is None or received_ns < sent:
            return None
        rtt = received_ns - sent
        self._samples += 1
        best = self._best
        if best is None or (rtt + 1) // 2 < best.uncertainty_ns:
            # The midpoint is rounded down, so the far end is up to ceil(rtt / 2) away.
            offset = worker_ns - (sent + received_ns) // 2
            best = ClockOffset(offset, (rtt + 1) // 2, self._samples)
        else:
            best = ClockOffset(best.offset_ns, best.uncertainty_ns, self._samples)
        self._best = best
        return best

    @property
    def best(self) -> ClockOffset | None:
        """The estimate from the shortest round trip so far (None before any answer)."""
        return self._best

    @property
    def outstanding(self) -> int:
        """Pings sent and not answered yet."""
        return len(self._sent)
