"""A small shared worker pool that serves inference before admin work (``starved_admin``).

Each request takes a worker slot before it is processed. Inference requests are served
first-in first-out; an admin request only gets a slot when no inference request is waiting.
Under a closed-loop load with more users than workers the inference queue never empties, so a
stop call waits for the load to pause, which is how a control plane sharing an inference pool
starves in practice.
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
        self._free = workers
        self._hold_s = hold_s
        self._inference: deque[object] = deque()
        self._admin: deque[object] = deque()

    @contextmanager
    def slot(self, *, admin: bool) -> Iterator[None]:
        """Wait for a worker, spend ``hold_s`` on it, then run the body on it."""
        ticket = object()
        queue = self._admin if admin else self._inference
        with self._cond:
            queue.append(ticket)
            while not (
                self._free > 0 and queue[0] is ticket and (not admin or not self._inference)
            ):
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
