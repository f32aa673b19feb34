"""A small shared worker pool that serves inference before admin work (``starved_admin``).

Each request takes a worker slot before it is processed and works ``hold_s`` on it (the
stand-in for model compute). Inference requests are served first-in first-out; admin requests
were given the background class and run only once the pool has been idle (no inference
request waiting, every worker free) for ``idle_s`` without a break. Under a load with more
users than workers the pool is never idle that long, so a stop call waits until the load
pauses, which is how a control plane that shares its inference pool starves in practice. (The
idle window keeps a momentary gap between two requests of a busy client, e.g. on a starved
CPU, from letting the stop slip through.)
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["PriorityWorkerPool"]


class PriorityWorkerPool:
    """``workers`` slots; each request works ``hold_s`` seconds on its slot before answering."""

    def __init__(self, workers: int, hold_s: float, idle_s: float = 0.2) -> None:
        self._cond = threading.Condition()
        self._workers = workers
        self._free = workers
        self._hold_s = hold_s
        self._idle_s = idle_s
        self._idle_since: float | None = time.monotonic()
        self._inference: deque[object] = deque()
        self._admin: deque[object] = deque()

    def _may_start(self, ticket: object, queue: deque[object], admin: bool) -> bool:
        if queue[0] is not ticket:
            return False
        if admin:
            # Admin work runs only after the pool has been idle for a while without a break.
            return (
                self._idle_since is not None and time.monotonic() - self._idle_since >= self._idle_s
            )
        return self._free > 0

    def _note_idle(self) -> None:
        """Start (or end) the idle window: idle means nothing queued and every worker free."""
        idle = self._free == self._workers and not self._inference
        if not idle:
            self._idle_since = None
        elif self._idle_since is None:
            self._idle_since = time.monotonic()

    @contextmanager
    def slot(self, *, admin: bool) -> Iterator[None]:
        """Wait for a worker, spend ``hold_s`` on it, then run the body on it."""
        ticket = object()
        queue = self._admin if admin else self._inference
        with self._cond:
            queue.append(ticket)
            self._note_idle()
            while not self._may_start(ticket, queue, admin):
                # Admin waiters wake on their own to see whether the idle window has passed.
                self._cond.wait(self._idle_s / 4 if admin else None)
            queue.popleft()
            self._free -= 1
            self._note_idle()
            self._cond.notify_all()
        try:
            # Stands in for the model's compute time on this worker.
            time.sleep(self._hold_s)
            yield
        finally:
            with self._cond:
                self._free += 1
                self._note_idle()
                self._cond.notify_all()
