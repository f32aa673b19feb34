"""The registry of drills running on this machine: liveness locks and the halt button.

Where: ``$GOVDRILL_RUNTIME_DIR`` if set, else ``$XDG_RUNTIME_DIR/govdrill``, else
``$TMPDIR/govdrill-<uid>``; drills register in its ``runs`` folder. Each folder of ours on
that path is created 0700 and checked every time it is opened: a real directory (never a
symlink), owned by this user, writable by nobody else (one merely readable by others, as
older versions made it, is tightened to 0700). Anything else is refused with
:class:`UnsafeRuntimeDir`: another local user who owns or can write that folder could read
the entries, plant a fake one or plant a symlink where a note will be written. Files in it
are opened relative to the checked folder, with ``O_NOFOLLOW``, and created ``O_EXCL``.

A running harness publishes ``<run_id>.json`` and holds an exclusive ``flock`` on it for as
long as it runs; it also holds one on its run folder. The lock, not a pid, proves the run is
alive: the kernel drops it the instant the harness dies, SIGKILL included, and it means the
same thing in every PID namespace. :func:`is_alive` answers that question for other parts of
govdrill; a sweep claims a dead run's lock before it removes what the run left.

``govdrill halt`` leaves a note ``<run_id>.halt`` and sends SIGTERM, and only to a process it
has confirmed is the registered harness: it holds the entry open, and its uid, start time,
command line and PID namespace are the ones the harness registered. The harness then does
what it does on Ctrl-C and puts the note in its evidence.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import enum
import errno
import fcntl
import json
import os
import re
import signal
import stat
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from harness.errors import HarnessError
from harness.processes import (
    ProcessIdentity,
    holds_open,
    identify,
    signal_exactly,
)

__all__ = [
    "DeadRun",
    "HaltOutcome",
    "Registration",
    "Registry",
    "RunningDrill",
    "UnsafeRuntimeDir",
    "halt",
    "halt_note",
    "is_alive",
    "register",
    "running",
    "runtime_dir",
]

RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
"""What a run id may look like (``secrets.token_hex(4)`` in practice); nothing else is read."""

_ENTRY = ".json"
_NOTE = ".halt"
_MAX_FILE = 1 << 16
_OPEN_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_OPEN_READ = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


class UnsafeRuntimeDir(HarnessError):
    """The runtime folder is not this user's private folder; nothing was read or written."""


# ---------------------------------------------------------------------------- the folder


def _base_dir() -> tuple[Path, str]:
    """The runtime folder and the setting it came from (for messages)."""
    configured = os.environ.get("GOVDRILL_RUNTIME_DIR")
    if configured:
        return Path(configured), "GOVDRILL_RUNTIME_DIR"
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if xdg:
        return Path(xdg) / "govdrill", "XDG_RUNTIME_DIR"
    return Path(tempfile.gettempdir()) / f"govdrill-{os.getuid()}", "TMPDIR"


def runtime_dir() -> Path:
    """Where running drills register (not created or checked here; see :class:`Registry`)."""
    return _base_dir()[0] / "runs"


def _refuse(path: Path, problem: str, setting: str) -> UnsafeRuntimeDir:
    remedy = "Unset XDG_RUNTIME_DIR" if setting == "XDG_RUNTIME_DIR" else "Remove it"
    return UnsafeRuntimeDir(
        f"refusing the runtime folder {path} (from ${setting}): {problem}. Another local user"
        f" could read or forge the running-drill registry there. {remedy}, or"
        " point GOVDRILL_RUNTIME_DIR at a folder only you own (mode 0700)."
    )


def _private_folder(parent: int | None, path: Path, setting: str) -> int:
    """Open (creating it 0700 if missing) the folder ``path``, checked private; return its fd.

    ``parent`` is an open fd of its parent folder, or None to resolve ``path`` as given.
    """
    name: str | Path = path.name if parent is not None else path
    try:
        os.mkdir(name, 0o700, dir_fd=parent)
    except FileExistsError:
        pass
    except OSError as exc:
        raise _refuse(path, f"cannot create it ({exc.strerror})", setting) from None
    try:
        fd = os.open(name, _OPEN_DIR, dir_fd=parent)
    except OSError as exc:
        what = exc.strerror or str(exc)
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            try:
                link = stat.S_ISLNK(os.stat(name, dir_fd=parent, follow_symlinks=False).st_mode)
            except OSError:
                link = False
            what = "it is a symbolic link" if link else "it is not a directory"
        raise _refuse(path, what, setting) from None
    try:
        st = os.fstat(fd)
        me = os.geteuid()
        if st.st_uid != me:
            raise _refuse(path, f"it is owned by uid {st.st_uid}, not by you (uid {me})", setting)
        if st.st_mode & 0o022:
            mode = stat.S_IMODE(st.st_mode)
            raise _refuse(path, f"others may write in it (mode {mode:04o})", setting)
        if st.st_mode & 0o077:
            os.fchmod(fd, 0o700)  # ours, and nobody else could write in it: just close it up
    except BaseException:
        os.close(fd)
        raise
    return fd


def _open_registry_fd() -> tuple[Path, int]:
    base, setting = _base_dir()
    if setting == "XDG_RUNTIME_DIR":
        # The session's own folder: it must exist and be ours, or it is not our session's.
        xdg = base.parent
        try:
            st = os.stat(xdg)
        except OSError as exc:
            raise _refuse(xdg, f"it cannot be used ({exc.strerror})", setting) from None
        if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid() or st.st_mode & 0o022:
            raise _refuse(xdg, "it is not a private folder of yours", setting)
    if setting == "GOVDRILL_RUNTIME_DIR":
        with contextlib.suppress(OSError):  # any failure is reported by the check below
            base.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    base_fd = _private_folder(None, base, setting)
    try:
        return base / "runs", _private_folder(base_fd, base / "runs", setting)
    finally:
        os.close(base_fd)


# ---------------------------------------------------------------------------- entries


@dataclass(frozen=True, slots=True)
class RunningDrill:
    """One drill a harness registered (alive while its lock is held)."""

    run_id: str
    drill: str
    harness: ProcessIdentity
    started: str
    run_dir: str
    tmpdir: str
    """The temp folder its work folders (``govdrill-<run_id>-*``) were made in."""

    @property
    def pid(self) -> int:
        """The harness's pid (in the PID namespace it registered from)."""
        return self.harness.pid

    def to_json(self) -> str:
        """The entry file's content."""
        h = self.harness
        return json.dumps(
            {
                "run_id": self.run_id,
                "drill": self.drill,
                "harness": {
                    "pid": h.pid,
                    "start": h.start,
                    "uid": h.uid,
                    "pgid": h.pgid,
                    "pid_ns": h.pid_ns,
                    "cmdline": list(h.cmdline),
                },
                "started": self.started,
                "run_dir": self.run_dir,
                "tmpdir": self.tmpdir,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> RunningDrill:
        """Parse an entry; raises ValueError for anything malformed."""
        try:
            data = json.loads(text)
            h = data["harness"]
            harness = ProcessIdentity(
                pid=_int(h["pid"]),
                start=_str(h["start"]),
                uid=_int(h["uid"]),
                pgid=_int(h["pgid"]),
                pid_ns=_str(h["pid_ns"]),
                cmdline=tuple(_str(part) for part in h["cmdline"]),
            )
            drill = cls(
                run_id=_str(data["run_id"]),
                drill=_str(data["drill"]),
                harness=harness,
                started=_str(data["started"]),
                run_dir=_str(data["run_dir"]),
                tmpdir=_str(data["tmpdir"]),
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"malformed registry entry: {exc!r}") from None
        if not RUN_ID.fullmatch(drill.run_id):
            raise ValueError(f"malformed run id {drill.run_id!r}")
        return drill


def _int(value: Any) -> int:
    if type(value) is not int:
        raise TypeError(f"expected an integer, got {value!r}")
    return value


def _str(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {value!r}")
    return value


@dataclass(frozen=True, slots=True)
class DeadRun:
    """A registered run whose harness is gone (its lock was free and is now the sweeper's)."""

    run_id: str
    tmpdir: Path
    entry: RunningDrill
    """What it registered."""


class HaltOutcome(enum.Enum):
    """What ``halt`` did to one drill."""

    HALTED = "halted"
    GONE = "gone"
    """The run ended before the halt arrived."""
    NOT_CONFIRMED = "not_confirmed"
    """The process is not provably the registered harness: nothing was sent."""


def _flock(fd: int, how: int) -> bool:
    """Try a non-blocking ``flock``; False when another open file holds a conflicting lock."""
    try:
        fcntl.flock(fd, how | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _read_fd(fd: int) -> str:
    data = os.read(fd, _MAX_FILE)
    return data.decode("utf-8", errors="replace")


class Registry:
    """This user's checked registry folder, held open: no path in it is resolved twice."""

    def __init__(self) -> None:
        self.path, self._fd = _open_registry_fd()

    def close(self) -> None:
        """Let go of the folder."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -------------------------------------------------------------- files

    def _open_file(self, name: str) -> int | None:
        """Open a regular file of ours in the folder, or None (missing, a link, not ours)."""
        try:
            fd = os.open(name, _OPEN_READ, dir_fd=self._fd)
        except OSError:
            return None
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_uid != os.geteuid():
            os.close(fd)
            return None
        return fd

    def _still_named(self, fd: int, name: str) -> bool:
        """Whether ``name`` still names the file open as ``fd`` (not unlinked or replaced)."""
        try:
            now = os.stat(name, dir_fd=self._fd, follow_symlinks=False)
        except OSError:
            return False
        st = os.fstat(fd)
        return (now.st_dev, now.st_ino) == (st.st_dev, st.st_ino)

    def _unlink(self, name: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name, dir_fd=self._fd)

    def _run_ids(self) -> list[str]:
        names = os.listdir(self._fd)
        return sorted(
            n.removesuffix(_ENTRY)
            for n in names
            if n.endswith(_ENTRY) and RUN_ID.fullmatch(n.removesuffix(_ENTRY))
        )

    # -------------------------------------------------------------- questions

    def alive(self, run_id: str) -> bool:
        """Whether a living harness holds the lock of ``run_id``'s entry."""
        if not RUN_ID.fullmatch(run_id):
            return False
        fd = self._open_file(run_id + _ENTRY)
        if fd is None:
            return False
        try:
            return not _flock(fd, fcntl.LOCK_SH)
        finally:
            os.close(fd)  # closing drops the probe's own shared lock, if it got one

    def running(self) -> list[RunningDrill]:
        """The drills whose harness is alive (lock held), oldest first."""
        found = []
        for run_id in self._run_ids():
            fd = self._open_file(run_id + _ENTRY)
            if fd is None:
                continue
            try:
                if _flock(fd, fcntl.LOCK_SH):
                    continue  # nobody holds it: a dead run, left for the sweep
                entry = RunningDrill.from_json(_read_fd(fd))
            except ValueError:
                continue
            finally:
                os.close(fd)
            if entry.run_id == run_id:
                found.append(entry)
        return sorted(found, key=lambda d: (d.started, d.run_id))

    def dead_runs(self) -> Iterator[DeadRun]:
        """Claim each dead run in turn; after the caller is done with it, forget it.

        The sweeper holds the run's lock while it works on it, so no two sweeps do the same
        run, and a run whose lock is held by anyone is never touched; nor is an entry this
        version did not write.
        """
        for name in os.listdir(self._fd):
            if name.startswith(".") and name.endswith(".tmp"):
                self._forget_unpublished(name)
        for run_id in self._run_ids():
            name = run_id + _ENTRY
            fd = self._open_file(name)
            if fd is None:
                continue
            try:
                if not _flock(fd, fcntl.LOCK_EX) or not self._still_named(fd, name):
                    continue
                try:
                    entry = RunningDrill.from_json(_read_fd(fd))
                except ValueError:
                    # Not an entry this version wrote (an older govdrill takes no lock, so
                    # a free lock proves nothing about it): leave it and its run alone.
                    continue
                if entry.run_id != run_id:
                    continue
                yield DeadRun(run_id, Path(entry.tmpdir), entry)
                self._unlink(run_id + _NOTE)
                self._unlink(name)
            finally:
                os.close(fd)

    def _forget_unpublished(self, name: str) -> None:
        fd = self._open_file(name)
        if fd is None:
            return
        try:
            if _flock(fd, fcntl.LOCK_EX) and self._still_named(fd, name):
                self._unlink(name)
        finally:
            os.close(fd)

    # -------------------------------------------------------------- registering

    def publish(self, entry: RunningDrill) -> int:
        """Publish ``entry`` already locked; return the fd whose lock proves the run alive."""
        name = entry.run_id + _ENTRY
        staged = f".{entry.run_id}.{os.getpid()}.tmp"
        fd = os.open(staged, _CREATE, 0o600, dir_fd=self._fd)
        try:
            # Locked before it has its real name, so no one ever sees it unlocked.
            fcntl.flock(fd, fcntl.LOCK_EX)
            os.write(fd, entry.to_json().encode())
            os.link(staged, name, src_dir_fd=self._fd, dst_dir_fd=self._fd)
        except BaseException:
            os.close(fd)
            raise
        finally:
            self._unlink(staged)
        return fd

    def retire(self, run_id: str, fd: int) -> None:
        """Remove a run's entry and note while its lock is still held, then drop the lock."""
        try:
            self._unlink(run_id + _NOTE)
            if self._still_named(fd, run_id + _ENTRY):
                self._unlink(run_id + _ENTRY)
        finally:
            os.close(fd)

    # -------------------------------------------------------------- halting

    def confirm(self, drill: RunningDrill) -> HaltOutcome:
        """Whether ``drill``'s registered pid is provably its living harness right now."""
        fd = self._open_file(drill.run_id + _ENTRY)
        if fd is None:
            return HaltOutcome.GONE
        try:
            if _flock(fd, fcntl.LOCK_SH):
                return HaltOutcome.GONE
            st = os.fstat(fd)
            registered = RunningDrill.from_json(_read_fd(fd)).harness
        except ValueError:
            return HaltOutcome.NOT_CONFIRMED
        finally:
            os.close(fd)
        now = identify(drill.pid)
        if (
            registered != drill.harness
            or now is None
            or not now.same_process(drill.harness)
            or now.uid != os.getuid()
            or not holds_open(drill.pid, st.st_dev, st.st_ino)
        ):
            return HaltOutcome.NOT_CONFIRMED
        return HaltOutcome.HALTED

    def leave_note(self, run_id: str, note: dict[str, Any]) -> None:
        """Write ``<run_id>.halt`` afresh (never through whatever was at that name)."""
        name = run_id + _NOTE
        self._unlink(name)  # unlinking a planted symlink removes the link, not its target
        fd = os.open(name, _CREATE, 0o600, dir_fd=self._fd)
        with os.fdopen(fd, "w") as out:
            out.write(json.dumps(note))

    def remove_note(self, run_id: str) -> None:
        """Take back a note whose halt was not sent."""
        self._unlink(run_id + _NOTE)

    def read_note(self, run_id: str) -> dict[str, Any] | None:
        """The halt note for ``run_id``, if one of ours is there."""
        if not RUN_ID.fullmatch(run_id):
            return None
        fd = self._open_file(run_id + _NOTE)
        if fd is None:
            return None
        try:
            note = json.loads(_read_fd(fd))
        except ValueError:
            return None
        finally:
            os.close(fd)
        return note if isinstance(note, dict) else None


# ---------------------------------------------------------------------------- the harness side


class Registration:
    """This harness's entry for one run, locked until :meth:`close`."""

    def __init__(self, run_id: str, drill: str, run_dir: Path) -> None:
        if not RUN_ID.fullmatch(run_id):
            raise ValueError(f"run id {run_id!r} is not of the form {RUN_ID.pattern}")
        me = identify(os.getpid())
        if me is None:
            raise HarnessError("cannot read this process's own /proc entry")
        self.run_id = run_id
        self.entry = RunningDrill(
            run_id=run_id,
            drill=drill,
            harness=me,
            started=_dt.datetime.now(_dt.UTC).isoformat(timespec="milliseconds"),
            run_dir=str(run_dir),
            tmpdir=tempfile.gettempdir(),
        )
        self._registry = Registry()
        try:
            self._lock: int | None = self._registry.publish(self.entry)
        except BaseException:
            self._registry.close()
            raise

    def halt_note(self) -> dict[str, Any] | None:
        """The note ``govdrill halt`` left for this run, if it was halted that way."""
        return self._registry.read_note(self.run_id)

    def close(self) -> None:
        """Unregister: the entry goes, then the locks."""
        if self._lock is None:
            return
        lock, self._lock = self._lock, None
        try:
            self._registry.retire(self.run_id, lock)
        finally:
            self._registry.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def register(run_id: str, drill: str, run_dir: Path) -> Registration:
    """Register this process as running ``run_id`` (use as a context manager, or close it)."""
    return Registration(run_id, drill, run_dir)


# ---------------------------------------------------------------------------- everyone else


def running() -> list[RunningDrill]:
    """Drills whose harness is alive."""
    with Registry() as registry:
        return registry.running()


def is_alive(run_id: str, run_folder: Path | None = None) -> bool:
    """Whether a living harness runs ``run_id``: it holds the lock on its entry or on
    ``run_folder`` (its run folder, staged or sealed).

    When the registry cannot be checked (see :class:`UnsafeRuntimeDir`) and the folder lock
    does not answer, the run is presumed alive: nothing may be done to a run that might live.
    """
    if run_folder is not None:
        try:
            fd = os.open(run_folder, _OPEN_DIR)
        except OSError:
            pass
        else:
            try:
                if not _flock(fd, fcntl.LOCK_SH):
                    return True
            finally:
                os.close(fd)
    try:
        with Registry() as registry:
            return registry.alive(run_id)
    except UnsafeRuntimeDir:
        return True


def halt(drill: RunningDrill, reason: str) -> HaltOutcome:
    """Leave a note and send SIGTERM, once the pid is confirmed to be ``drill``'s harness."""
    with Registry() as registry:
        outcome = registry.confirm(drill)
        if outcome is not HaltOutcome.HALTED:
            return outcome
        registry.leave_note(
            drill.run_id,
            {
                "by_pid": os.getpid(),
                "by_user": os.environ.get("USER") or str(os.getuid()),
                "reason": reason,
                "at": _dt.datetime.now(_dt.UTC).isoformat(timespec="milliseconds"),
            },
        )
        if signal_exactly(drill.harness, signal.SIGTERM):
            return HaltOutcome.HALTED
        registry.remove_note(drill.run_id)
        return HaltOutcome.GONE


def halt_note(run_id: str) -> dict[str, Any] | None:
    """The note ``govdrill halt`` left for ``run_id``, if it was halted that way."""
    try:
        with Registry() as registry:
            return registry.read_note(run_id)
    except UnsafeRuntimeDir:
        return None
