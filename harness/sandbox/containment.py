"""Every process a process sandbox's target ever forks, found and killed at teardown.

A target can escape its process group and session (double fork, ``setsid``) and clear its
environment, so neither the group nor the run label finds it. Two kernel features do:

- a **cgroup v2 per run**, when the harness may create one: the target joins it before exec,
  everything it forks stays in it whatever it does, and ``cgroup.kill`` ends them all;
- otherwise the harness is a **child subreaper** (``PR_SET_CHILD_SUBREAPER``): an orphaned
  descendant is re-parented to the harness instead of init, so it is found as a child of the
  harness that is not in the harness's own session (the load child is).

Either way teardown reports each process it had to kill beyond the target's process group.
A cgroup is named after its run and its harness (pid, start time and PID namespace), so when a
harness is SIGKILLed the next run finds the daemons it left and kills them
(``sweep_stale_cgroups``). That sweep never touches the cgroup of a harness in another PID
namespace (its pid means nothing here) nor of a run whose registry lock is held;
without a cgroup such an orphan belongs to init and carries no label, and cannot be found.
"""

from __future__ import annotations

import contextlib
import ctypes
import enum
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from harness.processes import pid_namespace_inode as pid_namespace
from harness.sandbox.base import KilledLeftover
from harness.sandbox.ownership import process_cmdline
from harness.sandbox.reaper import process_start_time
from harness.spec.durations import to_ns

__all__ = [
    "CGROUP_PREFIX",
    "Containment",
    "ContainmentKind",
    "StaleProcess",
    "become_subreaper",
    "sweep_stale_cgroups",
]

_PR_SET_CHILD_SUBREAPER = 36
CGROUP_PREFIX = "govdrill-"


class ContainmentKind(enum.StrEnum):
    """How a sandbox keeps track of its target's descendants."""

    CGROUP = "cgroup"
    """A cgroup v2 of the run's own; nothing forked inside can leave it."""
    SUBREAPER = "subreaper"
    """The harness adopts orphans; descendants are found by parentage and session."""


def become_subreaper() -> bool:
    """Make this process adopt its orphaned descendants; False where the kernel refuses."""
    libc = ctypes.CDLL(None, use_errno=True)
    return bool(libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0)


def _cgroup2_mount() -> Path | None:
    try:
        mounts = Path("/proc/self/mounts").read_text().splitlines()
    except OSError:
        return None
    for line in mounts:
        fields = line.split()
        if len(fields) >= 3 and fields[2] == "cgroup2":
            return Path(fields[1])
    return None


def _own_cgroup2() -> str | None:
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        if line.startswith("0::"):
            return line[3:]
    return None


def _cgroup_parent() -> Path | None:
    """Where this harness makes its runs' cgroups: under its own cgroup v2."""
    mount, own = _cgroup2_mount(), _own_cgroup2()
    if mount is None or own is None:
        return None
    return mount / own.lstrip("/")


def _read_procs(folder: Path) -> set[int]:
    try:
        return {int(x) for x in (folder / "cgroup.procs").read_text().split()}
    except (OSError, ValueError):
        return set()


def _empty_and_remove(folder: Path, deadline_s: float = 2.0) -> None:
    """Kill everything in ``folder``'s cgroup, wait (bounded) until it is empty, remove it."""
    end = time.monotonic_ns() + to_ns(deadline_s)
    while True:
        left = _read_procs(folder)
        if not left or time.monotonic_ns() >= end:
            break
        with contextlib.suppress(OSError):
            (folder / "cgroup.kill").write_text("1")
        for pid in left:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.01)  # the kernel empties the cgroup asynchronously
    with contextlib.suppress(OSError):
        folder.rmdir()


@dataclass(frozen=True, slots=True)
class StaleProcess:
    """A process found in the cgroup of a run whose harness is gone, and killed."""

    run_id: str
    owner_pid: int
    pid: int
    cmdline: str


def sweep_stale_cgroups() -> list[StaleProcess]:
    """Kill what is left in the cgroups of dead harnesses and remove those cgroups."""
    parent = _cgroup_parent()
    if parent is None:
        return []
    found = []
    try:
        folders = sorted(parent.glob(f"{CGROUP_PREFIX}*"))
    except OSError:
        return []
    from harness import runs  # the registry's lock is the proof of life

    ours = pid_namespace(os.getpid())
    for folder in folders:
        parts = folder.name.split("-")
        if len(parts) != 5 or not parts[2].isdigit():
            continue
        run_id, owner, owner_start, namespace = parts[1], int(parts[2]), parts[3], parts[4]
        if ours is None or namespace != ours:
            continue  # made from another PID namespace: its owner pid means nothing here
        if process_start_time(owner) == owner_start or runs.is_alive(run_id):
            continue  # its harness still runs
        found += [
            StaleProcess(run_id, owner, pid, process_cmdline(pid))
            for pid in sorted(_read_procs(folder))
        ]
        _empty_and_remove(folder)
    return found


@dataclass(frozen=True, slots=True)
class _Stat:
    ppid: int
    sid: int
    start: int
    zombie: bool


def _stat(pid: int) -> _Stat | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Fields after the command name, which may itself hold spaces and parentheses.
    rest = text.rsplit(")", 1)[1].split()
    return _Stat(ppid=int(rest[1]), sid=int(rest[3]), start=int(rest[19]), zombie=rest[0] == "Z")


def _all_pids() -> list[int]:
    return [int(e.name) for e in os.scandir("/proc") if e.name.isdigit()]


class Containment:
    """Tracks one target's descendants from before its exec to the end of teardown."""

    def __init__(self, run_id: str, *, cgroup: bool = True) -> None:
        self.run_id = run_id
        self._subreaper = become_subreaper()
        self._cgroup = self._make_cgroup(run_id) if cgroup else None
        self._target: int | None = None
        self._target_start = 0

    @property
    def kind(self) -> ContainmentKind:
        """Which mechanism this run uses."""
        return ContainmentKind.CGROUP if self._cgroup is not None else ContainmentKind.SUBREAPER

    @property
    def cgroup(self) -> Path | None:
        """The run's cgroup folder, when it has one."""
        return self._cgroup

    @staticmethod
    def _make_cgroup(run_id: str) -> Path | None:
        parent = _cgroup_parent()
        if parent is None:
            return None
        me = os.getpid()
        namespace = pid_namespace(me)
        if namespace is None:
            return None
        folder = parent / f"{CGROUP_PREFIX}{run_id}-{me}-{process_start_time(me)}-{namespace}"
        try:
            folder.mkdir()
        except OSError:
            return None  # read-only or not delegated to us: the subreaper does the job
        if not (folder / "cgroup.procs").exists():
            with contextlib.suppress(OSError):
                folder.rmdir()
            return None
        return folder

    def preexec(self) -> Callable[[], None]:
        """A hook the child runs before exec: join the run's cgroup (if there is one)."""
        procs = None if self._cgroup is None else str(self._cgroup / "cgroup.procs")

        def join() -> None:
            if procs is not None:
                # A failure leaves the child outside; adopted() sees that and falls back.
                with contextlib.suppress(OSError), open(procs, "w") as out:
                    out.write("0")

        return join

    def adopted(self, pid: int) -> None:
        """Record the started target; fall back to the subreaper if it missed the cgroup."""
        self._target = pid
        info = _stat(pid)
        self._target_start = info.start if info is not None else 0
        # Alive yet outside the cgroup: it cannot hold the target, so parentage must.
        if self._cgroup is not None and pid not in self._cgroup_pids() and info is not None:
            self._remove_cgroup()

    def _cgroup_pids(self) -> set[int]:
        assert self._cgroup is not None
        return _read_procs(self._cgroup)

    def members(self) -> set[int]:
        """Live processes of the sandbox: the target and everything it forked."""
        if self._cgroup is not None:
            return {p for p in self._cgroup_pids() if (s := _stat(p)) is not None and not s.zombie}
        if self._target is None:
            return set()
        me, my_sid = os.getpid(), os.getsid(0)
        stats = {p: s for p in _all_pids() if (s := _stat(p)) is not None and not s.zombie}
        found = {
            p
            for p, s in stats.items()
            if p == self._target
            or s.sid == self._target
            or (s.ppid == me and s.sid != my_sid and s.start >= self._target_start)
        }
        # Their own children, whatever session those made for themselves.
        grew = True
        while grew:
            more = {p for p, s in stats.items() if s.ppid in found and p not in found}
            found |= more
            grew = bool(more)
        return found

    def belongs(self, pid: int) -> bool:
        """Whether ``pid`` is one of the sandbox's processes."""
        return pid in self.members()

    def kill_all(self, *, deadline_s: float = 5.0) -> tuple[KilledLeftover, ...]:
        """SIGKILL every process still in the sandbox; return each one killed but the target."""
        killed: dict[int, KilledLeftover] = {}
        end = time.monotonic_ns() + to_ns(deadline_s)
        while True:
            left = self.members()
            if not left:
                break
            for pid in left - {self._target}:
                killed.setdefault(pid, KilledLeftover(pid, process_cmdline(pid)))
            if self._cgroup is not None:
                with contextlib.suppress(OSError):
                    (self._cgroup / "cgroup.kill").write_text("1")
            for pid in left:
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
            self._reap(killed)
            if time.monotonic_ns() >= end:
                break
            time.sleep(0.01)  # a process forking as it dies: look again once the kills land
        self._reap(killed)
        return tuple(killed[p] for p in sorted(killed))

    @staticmethod
    def _reap(killed: dict[int, KilledLeftover]) -> None:
        """Collect the adopted orphans killed here, so no zombie outlives the run."""
        me = os.getpid()
        for pid in killed:
            stat = _stat(pid)
            if stat is not None and stat.zombie and stat.ppid == me:
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(pid, os.WNOHANG)

    def close(self) -> None:
        """Empty the run's cgroup (bounded) and remove it."""
        if self._cgroup is not None:
            _empty_and_remove(self._cgroup)
            self._cgroup = None

    def _remove_cgroup(self) -> None:
        if self._cgroup is not None:
            with contextlib.suppress(OSError):
                self._cgroup.rmdir()
            self._cgroup = None
