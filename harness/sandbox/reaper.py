"""Label processes the harness starts, and sweep the ones a dead harness left behind.

Every process a sandbox starts carries three environment variables, inherited by anything it
forks: the run id, the owning harness's pid and that pid's start time (so a recycled pid is
not mistaken for a live owner). A sweep at the start of every run kills the process groups
whose owner is gone.
"""

from __future__ import annotations

import contextlib
import os
import signal
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "OWNER_PID",
    "OWNER_START",
    "RUN_ID",
    "Leftover",
    "labels",
    "process_start_time",
    "sweep",
]

RUN_ID = "GOVDRILL_RUN_ID"
OWNER_PID = "GOVDRILL_OWNER_PID"
OWNER_START = "GOVDRILL_OWNER_START"


@dataclass(frozen=True, slots=True)
class Leftover:
    """A process of a run whose harness is gone."""

    pid: int
    pgid: int
    run_id: str
    owner_pid: int
    cmdline: str


def process_start_time(pid: int) -> str | None:
    """The kernel's start time of ``pid`` in clock ticks since boot, or None if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Field 22, counted after the command name, which may itself hold spaces and parens.
    return stat.rsplit(")", 1)[1].split()[19]


def labels(run_id: str) -> dict[str, str]:
    """The environment labels for processes started by this harness for ``run_id``."""
    me = os.getpid()
    return {RUN_ID: run_id, OWNER_PID: str(me), OWNER_START: process_start_time(me) or ""}


def _environ(pid: int) -> dict[str, str]:
    try:
        raw = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return {}
    out = {}
    for item in raw.split(b"\0"):
        key, sep, value = item.partition(b"=")
        if sep and key.startswith(b"GOVDRILL_"):
            out[key.decode(errors="replace")] = value.decode(errors="replace")
    return out


def find_leftovers() -> list[Leftover]:
    """Processes labelled by a harness that no longer runs."""
    found = []
    me = os.getpid()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        if pid == me:
            continue
        env = _environ(pid)
        run_id = env.get(RUN_ID)
        if not run_id:
            continue
        try:
            owner = int(env.get(OWNER_PID, "0"))
        except ValueError:
            owner = 0
        if owner and process_start_time(owner) == env.get(OWNER_START):
            continue  # its harness still runs
        try:
            pgid = os.getpgid(pid)
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        found.append(Leftover(pid, pgid, run_id, owner, cmdline.strip()))
    return found


def sweep() -> list[Leftover]:
    """Kill every leftover's process group; return what was found."""
    leftovers = find_leftovers()
    for left in leftovers:
        with contextlib.suppress(OSError):
            if left.pgid > 1 and left.pgid != os.getpgid(0):
                os.killpg(left.pgid, signal.SIGKILL)
            else:
                os.kill(left.pid, signal.SIGKILL)
    return leftovers
