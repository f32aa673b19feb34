"""The ground-truth event log: one JSON line per state change that really took effect."""

from __future__ import annotations

import json
import os
import time
from typing import Any

__all__ = ["EventLog"]


class EventLog:
    """Appends ``{"t_ns", "event", "pid", ...}`` lines with one ``O_APPEND`` write each.

    One ``write(2)`` per line on an ``O_APPEND`` descriptor keeps lines whole even when a
    supervisor and its child append to the same file. Without a path it records nothing.
    """

    def __init__(self, path: str | None) -> None:
        self._fd: int | None = None
        if path is not None:
            self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self._pid = os.getpid()

    def emit(self, event: str, t_ns: int | None = None, **details: Any) -> int:
        """Record ``event`` stamped ``t_ns`` (now when omitted); return the stamp."""
        stamp = time.monotonic_ns() if t_ns is None else t_ns
        if self._fd is not None:
            record = {"t_ns": stamp, "event": event, "pid": self._pid, **details}
            line = json.dumps(record, separators=(",", ":"), sort_keys=False) + "\n"
            os.write(self._fd, line.encode("utf-8"))
        return stamp

    def close(self) -> None:
        """Release the file descriptor."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
