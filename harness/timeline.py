"""The run's durable journal: structlog events as JSON lines, stamped on the monotonic clock.

This is a per-run logger writing to the run folder, not global logging configuration: it is
built from its own processor list and never calls ``structlog.configure``. Every event also
goes to the listeners (the live view), so what a person watches and what the evidence keeps
are the same events.

The journal is hash-chained: each line ends with ``prev_sha256``, the SHA-256 of the line
before it (64 zeros on the first line), so an edited, inserted or removed line breaks the
chain from that point on (``verify_chain``). The last line's hash is the journal's ``head``,
which the run's manifest records so that a cut-off tail is caught too.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import threading
import time
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import structlog

from harness.errors import EvidenceError
from harness.redact import NO_SECRETS, Redactor

__all__ = ["GENESIS", "ChainCheck", "Timeline", "read_json_lines", "verify_chain"]

GENESIS = "0" * 64
"""The ``prev_sha256`` of a journal's first line."""

EventDict = MutableMapping[str, Any]
Listener = Callable[[dict[str, Any]], None]


class _LineWriter:
    """A structlog 'logger' that appends one flushed, hash-chained line per event, from any
    thread: the chain is extended under the same lock that orders the lines."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._lock = threading.Lock()
        self.head = GENESIS
        self.lines = 0

    def msg(self, **event: Any) -> None:
        with self._lock:
            event["prev_sha256"] = self.head
            line = json.dumps(event, default=str)
            try:
                self._stream.write(line + "\n")
                self._stream.flush()
            except OSError as exc:  # a full disk: say so plainly; teardown still runs
                raise EvidenceError(
                    f"cannot write {self._stream.name}: {exc.strerror or exc}"
                ) from exc
            self.head = hashlib.sha256(line.encode()).hexdigest()
            self.lines += 1

    info = warning = error = msg


@dataclass(frozen=True, slots=True)
class ChainCheck:
    """What recomputing a journal's hash chain found."""

    lines: int
    head: str
    problems: tuple[str, ...]

    @property
    def intact(self) -> bool:
        """True when every line carries the hash of the line before it."""
        return not self.problems


def read_json_lines(path: Path) -> list[dict[str, Any]]:
    """The JSON objects of a JSON-lines file, skipping torn or non-object lines; [] if absent."""
    if not path.is_file():
        return []
    out = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            item = json.loads(line)
        except ValueError:
            continue
        if isinstance(item, dict):
            out.append(item)
    return out


def verify_chain(path: Path) -> ChainCheck:
    """Recompute the hash chain of the journal at ``path``, naming the first broken lines."""
    problems: list[str] = []
    head = GENESIS
    count = 0
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        problems.append(f"{path.name}: the last line is cut off")
    for number, raw in enumerate(data.splitlines(), start=1):
        count = number
        try:
            claimed = json.loads(raw).get("prev_sha256")
        except (ValueError, AttributeError):
            claimed = None
            problems.append(f"{path.name}:{number}: not a JSON object")
        else:
            if claimed != head:
                problems.append(
                    f"{path.name}:{number}: prev_sha256 does not match line {number - 1}"
                    " (a line was edited, inserted or removed)"
                )
        head = hashlib.sha256(raw).hexdigest()
    return ChainCheck(lines=count, head=head, problems=tuple(problems[:10]))


class Timeline:
    """Append-only JSON-lines journal of one run."""

    def __init__(
        self,
        path: Path,
        *,
        zero_ns: int,
        clock: Callable[[], int] = time.monotonic_ns,
        redactor: Redactor = NO_SECRETS,
    ) -> None:
        self.path = path
        self.zero_ns = zero_ns
        self._clock = clock
        self._redactor = redactor
        self._listeners: list[Listener] = []
        self._stream = open(path, "a", encoding="utf-8")  # noqa: SIM115 (closed in close())
        self._writer = _LineWriter(self._stream)
        self._log = structlog.wrap_logger(
            self._writer,
            processors=[
                structlog.contextvars.merge_contextvars,
                self._stamp,
                self._scrub,
                self._notify,
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
        """Secrets never reach the journal or the live view, whatever field carries them:
        every string is redacted in every encoding, before anything else sees the event."""
        if not self._redactor:
            return event
        scrubbed: EventDict = self._redactor.redact_value(event)
        return scrubbed

    def _notify(self, _logger: Any, _name: str, event: EventDict) -> EventDict:
        for listener in self._listeners:
            listener(dict(event))
        return event

    def listen(self, listener: Listener) -> None:
        """Also hand every event to ``listener`` (e.g. the live view)."""
        self._listeners.append(listener)

    def event(self, name: str, /, **fields: Any) -> None:
        """Record one event (``t_ns=`` overrides the stamp when the instant is known)."""
        self._log.info(name, **fields)

    @property
    def head(self) -> str:
        """The SHA-256 of the last line written (the chain's head)."""
        return self._writer.head

    @property
    def lines(self) -> int:
        """How many lines have been written."""
        return self._writer.lines

    def close(self) -> None:
        """Flush and close the journal file."""
        if not self._stream.closed:
            self._stream.flush()
            os.fsync(self._stream.fileno())
            self._stream.close()
