"""Label processes the harness starts, and sweep what a dead harness left behind.

Every process a sandbox starts carries environment labels, inherited by anything it forks:
the run id, and the owning harness's pid and start time (for people and tests reading the
process table). The sweep at the start of every run does not trust those pids: a pid read
in another PID namespace (a container, a CI sandbox) names some other process here. It
trusts the registry's locks instead (:mod:`harness.runs`): a run is dead only when the
sweep can take its lock. For each dead run it then

- kills the processes labelled with that run id, and only those in this PID namespace
  (a process in another one is never signalled, whatever its labels say), each through a
  pidfd after checking it is still the process that was found;
- kills the rest of a process group only when the group's leader is one of them;
- removes the run's work folders (``$TMPDIR/govdrill-<run_id>-*``), which hold its secrets.
"""

from __future__ import annotations

import os
import shutil
import signal
import stat
from dataclasses import dataclass
from pathlib import Path

from harness import runs
from harness.processes import (
    ProcessIdentity,
    identify,
    labels_of,
    own_pid_namespace,
    process_group_members,
    signal_exactly,
    start_time,
)

__all__ = [
    "OWNER_PID",
    "OWNER_START",
    "RUN_ID",
    "Leftover",
    "Sweep",
    "find_leftovers",
    "labels",
    "process_start_time",
    "sweep",
    "work_folder_prefix",
]

RUN_ID = "GOVDRILL_RUN_ID"
OWNER_PID = "GOVDRILL_OWNER_PID"
OWNER_START = "GOVDRILL_OWNER_START"

process_start_time = start_time
"""The kernel's start time of a pid (kept under its old name for the container sweep)."""


@dataclass(frozen=True, slots=True)
class Leftover:
    """A process of a run whose harness is gone."""

    pid: int
    pgid: int
    run_id: str
    owner_pid: int
    cmdline: str


@dataclass(frozen=True, slots=True)
class Sweep:
    """What one sweep removed."""

    processes: tuple[Leftover, ...] = ()
    work_folders: tuple[tuple[str, Path], ...] = ()
    """``(run_id, folder)`` for each work folder removed."""


def labels(run_id: str) -> dict[str, str]:
    """The environment labels for processes started by this harness for ``run_id``."""
    me = os.getpid()
    return {RUN_ID: run_id, OWNER_PID: str(me), OWNER_START: start_time(me) or ""}


def work_folder_prefix(run_id: str) -> str:
    """The name every work folder of ``run_id`` starts with (in the temp folder)."""
    return f"govdrill-{run_id}-"


def find_leftovers(run_id: str) -> list[tuple[ProcessIdentity, Leftover]]:
    """The processes in this PID namespace labelled with ``run_id`` (other than this one)."""
    me, my_ns = os.getpid(), own_pid_namespace()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        pid = int(entry.name)
        env = labels_of(pid)
        if env.get(RUN_ID) != run_id:
            continue
        who = identify(pid)
        if who is None or who.pid_ns != my_ns:
            continue  # another PID namespace: its pids and labels mean nothing here
        try:
            owner = int(env.get(OWNER_PID, "0"))
        except ValueError:
            owner = 0
        found.append((who, Leftover(pid, who.pgid, run_id, owner, " ".join(who.cmdline))))
    return found


def _kill_leftovers(run_id: str) -> list[Leftover]:
    found = find_leftovers(run_id)
    targets = {who.pid: who for who, _ in found}
    my_group, my_ns = os.getpgid(0), own_pid_namespace()
    # A group led by a leftover is that leftover's own (targets start in their own session):
    # unlabelled members are its descendants. Any other group may hold a living harness.
    for who, _ in found:
        if who.pgid != who.pid or who.pgid == my_group:
            continue
        for pid in process_group_members(who.pgid) - targets.keys() - {os.getpid()}:
            member = identify(pid)
            if member is not None and member.pid_ns == my_ns and member.pgid == who.pgid:
                targets[pid] = member
    for who in targets.values():
        signal_exactly(who, signal.SIGKILL)
    return [left for _, left in found]


def _remove_work_folders(dead: runs.DeadRun) -> list[tuple[str, Path]]:
    prefix = work_folder_prefix(dead.run_id)
    removed = []
    try:
        entries = list(os.scandir(dead.tmpdir))
    except OSError:
        return []
    for entry in entries:
        if not entry.name.startswith(prefix):
            continue
        try:
            st = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        # Only a real folder of ours: a symlink or someone else's folder there is left alone.
        if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid():
            continue
        path = Path(entry.path)
        shutil.rmtree(path, ignore_errors=True)  # fd-based on Linux: it never follows a link
        if not path.exists():
            removed.append((dead.run_id, path))
    return removed


def sweep() -> Sweep:
    """Remove what dead runs of this user's registry left; return what was removed.

    Raises :class:`harness.runs.UnsafeRuntimeDir` when the registry is not private.
    """
    processes: list[Leftover] = []
    folders: list[tuple[str, Path]] = []
    with runs.Registry() as registry:
        for dead in registry.dead_runs():
            processes += _kill_leftovers(dead.run_id)
            folders += _remove_work_folders(dead)
    return Sweep(tuple(processes), tuple(folders))
