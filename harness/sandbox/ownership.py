"""Who holds a listening TCP port on this host, read from ``/proc``: proof that the answering
socket is the sandbox's own and not a leftover server's.

``/proc/net/tcp`` and ``tcp6`` list every socket of the harness's network namespace with its
inode; ``/proc/<pid>/fd`` links name the processes that hold each inode. A connection to
``host:port`` can be accepted by a listener on that address, on the wildcard address, or (for
IPv4) on the IPv6 wildcard of a dual-stack socket, so all of those count.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from harness.errors import SandboxError

__all__ = [
    "Holder",
    "Listener",
    "check_port_free",
    "check_port_owned",
    "holders_of",
    "listeners_on",
    "process_cmdline",
]

_LISTEN = "0A"
_TABLES = (Path("/proc/net/tcp"), Path("/proc/net/tcp6"))


@dataclass(frozen=True, slots=True)
class Listener:
    """One listening socket: its local address and the inode the kernel gave it."""

    address: str
    port: int
    inode: int


@dataclass(frozen=True, slots=True)
class Holder:
    """A process holding a listening socket, as the error message names it."""

    pid: int
    cmdline: str

    def __str__(self) -> str:
        return f"pid {self.pid} ({self.cmdline[:120] or '?'})"


def _address(hex_addr: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    raw = bytes.fromhex(hex_addr)
    # The kernel prints each 32-bit word in host (little-endian) order.
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    return ipaddress.ip_address(words)


def _accepts(local: ipaddress.IPv4Address | ipaddress.IPv6Address, host: str) -> bool:
    """Whether a listener bound to ``local`` could accept a connection made to ``host``."""
    target = ipaddress.ip_address(host)
    if isinstance(local, ipaddress.IPv6Address) and local.ipv4_mapped is not None:
        local = local.ipv4_mapped
    # An IPv6 wildcard may be v6-only, which /proc does not show: count it, to be safe.
    return local == target or local.is_unspecified


def listeners_on(host: str, port: int, tables: Iterable[Path] = _TABLES) -> list[Listener]:
    """Listening sockets that would accept a TCP connection to ``host:port``."""
    found = []
    for table in tables:
        try:
            lines = table.read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) < 10 or fields[3] != _LISTEN:
                continue
            addr_hex, _, port_hex = fields[1].partition(":")
            try:
                local, local_port, inode = _address(addr_hex), int(port_hex, 16), int(fields[9])
            except ValueError:
                continue
            if local_port == port and _accepts(local, host):
                found.append(Listener(str(local), local_port, inode))
    return found


def process_cmdline(pid: int) -> str:
    """A process's command line with spaces for NULs, or '' when it cannot be read."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return ""
    return raw.replace(b"\0", b" ").decode(errors="replace").strip()


def holders_of(inodes: set[int]) -> dict[int, list[int]]:
    """For each socket inode, the pids whose open files include it (readable ones only)."""
    wanted = {f"socket:[{inode}]": inode for inode in inodes}
    held: dict[int, list[int]] = {inode: [] for inode in inodes}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            fds = os.scandir(f"/proc/{entry.name}/fd")
        except OSError:
            continue
        with fds:
            for fd in fds:
                try:
                    link = os.readlink(fd.path)
                except OSError:
                    continue
                inode = wanted.get(link)
                if inode is not None and int(entry.name) not in held[inode]:
                    held[inode].append(int(entry.name))
    return held


def check_port_free(host: str, port: int) -> None:
    """Raise SandboxError naming whoever already listens where the target is to answer."""
    found = listeners_on(host, port)
    if not found:
        return
    held = holders_of({x.inode for x in found})
    who = [Holder(pid, process_cmdline(pid)) for pids in held.values() for pid in pids]
    raise SandboxError(
        f"port {port} is taken before the target started: "
        + (", ".join(str(h) for h in who) if who else "a process the harness cannot inspect")
        + " listens on it; stop it or let the harness choose the port"
    )


def check_port_owned(host: str, port: int, belongs: Callable[[int], bool]) -> list[int]:
    """The sandbox's pids listening on ``host:port``; SandboxError naming any other holder.

    Every listener that could take the harness's connections must be held by the sandbox and
    by nothing else: a squatter sharing the port (SO_REUSEPORT) would answer some of them.
    """
    found = listeners_on(host, port)
    if not found:
        raise SandboxError(
            f"something answered on {host}:{port} but no listening socket of this host's"
            " network namespace holds that port, so it cannot be the sandbox's target"
        )
    held = holders_of({x.inode for x in found})
    ours: list[int] = []
    strangers: list[Holder] = []
    unknown = 0
    for listener in found:
        pids = held[listener.inode]
        if not pids:
            unknown += 1
        for pid in pids:
            if belongs(pid):
                ours.append(pid)
            else:
                strangers.append(Holder(pid, process_cmdline(pid)))
    if strangers or unknown:
        names = [str(h) for h in strangers] + (
            [f"{unknown} socket(s) held by a process the harness cannot inspect"] if unknown else []
        )
        raise SandboxError(
            f"the target's port {port} is held by a process the sandbox did not start: "
            + ", ".join(names)
            + "; the run cannot tell whose answers it would measure"
        )
    return sorted(set(ours))
