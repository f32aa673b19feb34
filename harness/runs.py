"""The registry of drills running on this machine, and the halt button that stops them.

Each running harness keeps one small JSON file in the runtime folder while it runs. ``govdrill
halt`` finds them, leaves a note saying who asked and why, and sends SIGTERM: the harness then
does exactly what it does on Ctrl-C (stop injecting, tear down, keep everything observed so
far, mark the run ``interrupted``) and puts the note in its evidence.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import signal
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.sandbox.reaper import process_start_time

__all__ = ["RunningDrill", "halt", "halt_note", "register", "running", "runtime_dir"]


def runtime_dir() -> Path:
    """Where running drills register: ``$GOVDRILL_RUNTIME_DIR`` or a per-user temp folder."""
    configured = os.environ.get("GOVDRILL_RUNTIME_DIR")
    base = (
        Path(configured) if configured else Path(tempfile.gettempdir()) / f"govdrill-{os.getuid()}"
    )
    return base / "runs"


@dataclass(frozen=True, slots=True)
class RunningDrill:
    """One drill a live harness is running."""

    run_id: str
    drill: str
    pid: int
    pid_start: str
    started: str
    run_dir: str

    @property
    def alive(self) -> bool:
        """Whether the registering harness still runs (the same process, not a reused pid)."""
        return process_start_time(self.pid) == self.pid_start


@contextlib.contextmanager
def register(run_id: str, drill: str, run_dir: Path) -> Iterator[Path]:
    """Register this process as running ``run_id`` for as long as the block runs."""
    folder = runtime_dir()
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    entry = folder / f"{run_id}.json"
    pid = os.getpid()
    entry.write_text(
        json.dumps(
            {
                "run_id": run_id,
                "drill": drill,
                "pid": pid,
                "pid_start": process_start_time(pid) or "",
                "started": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
                "run_dir": str(run_dir),
            }
        )
    )
    try:
        yield entry
    finally:
        entry.unlink(missing_ok=True)
        (folder / f"{run_id}.halt").unlink(missing_ok=True)


def running() -> list[RunningDrill]:
    """Drills whose harness is alive; stale entries of dead harnesses are removed."""
    found = []
    folder = runtime_dir()
    for entry in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            drill = RunningDrill(**json.loads(entry.read_text()))
        except (OSError, ValueError, TypeError):
            continue
        if drill.alive:
            found.append(drill)
        else:
            entry.unlink(missing_ok=True)
    return found


def halt(drill: RunningDrill, reason: str) -> None:
    """Leave a note and send SIGTERM; the harness tears down and keeps its evidence."""
    note = runtime_dir() / f"{drill.run_id}.halt"
    note.write_text(
        json.dumps(
            {
                "by_pid": os.getpid(),
                "by_user": os.environ.get("USER") or str(os.getuid()),
                "reason": reason,
                "at": _dt.datetime.now(_dt.UTC).isoformat(timespec="milliseconds"),
            }
        )
    )
    os.kill(drill.pid, signal.SIGTERM)


def halt_note(run_id: str) -> dict[str, Any] | None:
    """The note ``govdrill halt`` left for ``run_id``, if it was halted that way."""
    try:
        note: dict[str, Any] = json.loads((runtime_dir() / f"{run_id}.halt").read_text())
    except (OSError, ValueError):
        return None
    return note
