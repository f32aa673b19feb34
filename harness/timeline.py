"""The run's durable journal: structlog events as JSON lines, stamped on the monotonic clock.

This is a per-run logger writing to the run folder, not global logging configuration: it is
built from its own processor list and never calls ``structlog.configure``. Every event also
goes to the listeners (the live view), so what a person watches and what the evidence keeps
are the same events.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import threading
import time
from collections.abc import Callable, MutableMapping
from pathlib import Path
from typing import Any, TextIO

import structlog

__all__ = ["Timeline"]

EventDict = MutableMapping[str, Any]
Listener = Callable[[dict[str, Any]], None]


class _LineWriter:
    """A structlog 'logger' that appends one flushed line per event, from any thread."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._lock = threading.Lock()

    def msg(self, message: str) -> None:
        with self._lock:
            self._stream.write(message + "\n")
            self._stream.flush()

    info = warning = error = msg


class Timeline:
    """Append-only JSON-lines journal of one run."""

    def __init__(
        self,
        path: Path,
        *,
        zero_ns: int,
        clock: Callable[[], int] = time.monotonic_ns,
        redact: tuple[str, ...] = (),
    ) -> None:
        self.path = path
        self.zero_ns = zero_ns
        self._clock = clock
        self._redact = tuple(s for s in redact if s)
        self._listeners: list[Listener] = []
        self._stream = open(path, "a", encoding="utf-8")  # noqa: SIM115 (closed in close())
        self._log = structlog.wrap_logger(
            _LineWriter(self._stream),
            processors=[
                structlog.contextvars.merge_contextvars,
                self._stamp,
                self._scrub,
                self._notify,
                structlog.processors.JSONRenderer(sort_keys=False, default=str),
            ],
        )

    def _stamp(self, _logger: Any, _name: str, event: EventDict) -> EventDict:
        t_ns = event.pop("t_ns", None)
        if t_ns is None:
            t_ns = self._clock()
        stamped = {
            "t_ns": t_ns,
            "t_s": round((t_ns - self.zero_ns) / 1e9, 6),
            "wall": _dt.datetime.now(_dt.UTC).isoformat(timespec="milliseconds"),
        }
        stamped.update(event)
        return stamped

    def _scrub(self, _logger: Any, _name: str, event: EventDict) -> EventDict:
        """Secrets never reach the evidence, whatever field carries them."""
        if not self._redact:
            return event
        text = json.dumps(event, default=str)
        if not any(secret in text for secret in self._redact):
            return event
        for secret in self._redact:
            text = text.replace(json.dumps(secret)[1:-1], "[REDACTED]")
        scrubbed: EventDict = json.loads(text)
        return scrubbed

    def _notify(self, _logger: Any, _name: str, event: EventDict) -> EventDict:
        for listener in self._listeners:
            listener(dict(event))
        return event

    def listen(self, listener: Listener) -> None:
        """Also hand every event to ``listener`` (e.g. the live view)."""
        self._listeners.append(listener)

    def event(self, name: str, **fields: Any) -> None:
        """Record one event (``t_ns=`` overrides the stamp when the instant is known)."""
        self._log.info(name, **fields)

    def close(self) -> None:
        """Flush and close the journal file."""
        if not self._stream.closed:
            self._stream.flush()
            os.fsync(self._stream.fileno())
            self._stream.close()
