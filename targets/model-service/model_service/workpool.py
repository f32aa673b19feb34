"""A small shared worker pool that serves inference before admin work (``starved_admin``).

Each request takes a worker slot before it is processed and works ``hold_s`` on it (the
stand-in for model compute). Inference requests are served first-in first-out; admin requests
were given the background class and run only in the pool's idle time: no inference request
waiting and every worker free. Under a load with more users than workers the pool is never
idle, so a stop call waits until the load pauses, which is how a control plane that shares
its inference pool starves in practice.
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

    def __init__(self, workers: int, hold_s: float) -> None:
        self._cond = threading.Condition()
        self._workers = workers
        self._free = workers
        self._hold_s = hold_s
        self._inference: deque[object] = deque()
        self._admin: deque[object] = deque()

    def _may_start(self, ticket: object, queue: deque[object], admin: bool) -> bool:
        if queue[0] is not ticket:
            return False
        if admin:
            # Admin work runs in the pool's idle time only: nothing queued, every worker free.
            return self._free == self._workers and not self._inference
        return self._free > 0

    @contextmanager
    def slot(self, *, admin: bool) -> Iterator[None]:
        """Wait for a worker, spend ``hold_s`` on it, then run the body on it."""
        ticket = object()
        queue = self._admin if admin else self._inference
        with self._cond:
            queue.append(ticket)
            while not self._may_start(ticket, queue, admin):
                self._cond.wait()
            queue.popleft()
            self._free -= 1
            self._cond.notify_all()
        try:
            # Stands in for the model's compute time on this worker.
            time.sleep(self._hold_s)
            yield
        finally:
            with self._cond:
                self._free += 1
                self._cond.notify_all()
