"""What the kernel says about a process, and signalling one only once it is proven to be it.

A pid is only a number: it can be recycled, and in another PID namespace (a container, a CI
sandbox) the same number names a different process. So every signal the harness sends to a
process it did not start itself goes through :func:`signal_exactly`: it pins the process with
a pidfd first, then compares what ``/proc`` says about it with what the caller expects (start
time, uid, command line, PID namespace), and only then signals through the pidfd, so the
process checked is the process signalled.
"""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "ProcessIdentity",
    "holds_open",
    "identify",
    "labels_of",
    "own_pid_namespace",
    "pid_namespace_inode",
    "process_group_members",
    "signal_exactly",
    "start_time",
]

_PROC = Path("/proc")


@dataclass(frozen=True, slots=True)
class ProcessIdentity:
    """Who a process is, as far as ``/proc`` can tell."""

    pid: int
    start: str
    """Start time in clock ticks since boot: with the pid, names one process for ever."""
    uid: int
    """Real uid."""
    pgid: int
    pid_ns: str
    """The PID namespace, e.g. ``pid:[4026531836]``."""
    cmdline: tuple[str, ...]

    def same_process(self, other: ProcessIdentity) -> bool:
        """Whether ``other`` is this very process (not a recycled pid, not another namespace)."""
        return (
            self.pid == other.pid
            and self.start == other.start
            and self.uid == other.uid
            and self.pid_ns == other.pid_ns
            and self.cmdline == other.cmdline
        )


def _stat_fields(pid: int) -> list[str] | None:
    try:
        stat = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # Fields are counted after the command name, which may itself hold spaces and parens.
    return stat.rsplit(")", 1)[1].split()


def start_time(pid: int) -> str | None:
    """The kernel's start time of ``pid`` in clock ticks since boot, or None if it is gone."""
    fields = _stat_fields(pid)
    return fields[19] if fields else None


def own_pid_namespace() -> str:
    """This process's PID namespace."""
    return os.readlink("/proc/self/ns/pid")


def pid_namespace_inode(pid: int) -> str | None:
    """The inode number of ``pid``'s PID namespace (``pid:[N]`` gives N), or None if unreadable."""
    try:
        link = os.readlink(_PROC / str(pid) / "ns" / "pid")
    except OSError:
        return None
    inode = link.partition("[")[2].rstrip("]")
    return inode if inode.isdigit() else None


def identify(pid: int) -> ProcessIdentity | None:
    """What ``/proc`` says about ``pid``, or None when it is gone, a zombie or unreadable."""
    base = _PROC / str(pid)
    try:
        fields = _stat_fields(pid)
        if fields is None or fields[0] in ("Z", "X"):
            return None
        pid_ns = os.readlink(base / "ns" / "pid")
        uid = base.stat().st_uid  # a /proc/PID folder belongs to the process's effective uid
        for line in (base / "status").read_text().splitlines():
            if line.startswith("Uid:"):
                uid = int(line.split()[1])
                break
        raw = (base / "cmdline").read_bytes()
    except (OSError, ValueError, IndexError):
        return None
    cmdline = tuple(part.decode(errors="replace") for part in raw.split(b"\0")[:-1])
    return ProcessIdentity(
        pid=pid, start=fields[19], uid=uid, pgid=int(fields[2]), pid_ns=pid_ns, cmdline=cmdline
    )


def labels_of(pid: int, prefix: bytes = b"GOVDRILL_") -> dict[str, str]:
    """The environment variables of ``pid`` that start with ``prefix`` (as it was exec'd)."""
    try:
        raw = (_PROC / str(pid) / "environ").read_bytes()
    except OSError:
        return {}
    out = {}
    for item in raw.split(b"\0"):
        key, sep, value = item.partition(b"=")
        if sep and key.startswith(prefix):
            out[key.decode(errors="replace")] = value.decode(errors="replace")
    return out


def process_group_members(pgid: int) -> set[int]:
    """Every live pid in process group ``pgid`` (as seen from this PID namespace)."""
    members = set()
    for entry in _PROC.iterdir():
        if entry.name.isdigit():
            fields = _stat_fields(int(entry.name))
            if fields and fields[0] not in ("Z", "X") and int(fields[2]) == pgid:
                members.add(int(entry.name))
    return members


def signal_exactly(expected: ProcessIdentity, signum: int) -> bool:
    """Send ``signum`` to ``expected.pid`` only if it is still exactly ``expected``.

    Returns False (and sends nothing) when the process is gone or is now someone else.
    """
    try:
        pidfd = os.pidfd_open(expected.pid)
    except OSError:
        return False
    try:
        # Checked after the pidfd pins the process: a pid recycled from here on cannot
        # receive the signal, because the pidfd names the process, not the number.
        now = identify(expected.pid)
        if now is None or not now.same_process(expected):
            return False
        try:
            signal.pidfd_send_signal(pidfd, signum)
        except ProcessLookupError:
            return False
        return True
    finally:
        os.close(pidfd)


def holds_open(pid: int, device: int, inode: int) -> bool:
    """Whether ``pid`` has the file ``(device, inode)`` open (needs the right to look at it)."""
    fds = _PROC / str(pid) / "fd"
    try:
        names = os.listdir(fds)
    except OSError:
        return False
    for name in names:
        try:
            st = os.stat(fds / name)  # follows the magic link to the open file itself
        except OSError:
            continue
        if st.st_dev == device and st.st_ino == inode:
            return True
    return False
