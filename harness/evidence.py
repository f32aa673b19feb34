"""The run directory: written in a hidden staging folder, sealed by one atomic rename.

``results/<drill>/.<UTC-time>-<run-id>.partial/`` holds a run while it runs; only when every
file is written does it become ``results/<drill>/<UTC-time>-<run-id>/``. A harness killed
mid-run leaves a ``.partial`` folder that nothing presents as complete (the next run, or
``govdrill sweep``, seals it as ``interrupted``: ``harness.unsealed``). Each file inside is
itself written atomically (temporary file, fsync, rename).

The live harness holds ``RunLock``, an exclusive ``flock`` on the staging folder itself, for
the run's whole life: the kernel drops it when the harness dies however it dies, so
``run_is_live`` tells a running run from a dead one without trusting pids or clocks. The
folder is made under a ``.creating`` name and renamed to ``.partial`` only once locked, so no
sweeper ever sees an unlocked staging folder of a live run.

Before a rollback, ``snapshot_before_rollback`` freezes what an investigation needs into
``snapshots/before-rollback/`` (the target's status through the rollback path, the versions
the load saw, the target's logs so far), because a rollback may replace the very process or
container whose state and logs show what went wrong.
"""

from __future__ import annotations

import errno
import fcntl
import gzip
import json
import os
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from harness.errors import EvidenceError
from harness.observations import ObservationLog, State
from harness.redact import NO_SECRETS, Redactor, redactor_for_path, register
from harness.timeline import Timeline

if TYPE_CHECKING:
    from harness.control import HttpAnswer

__all__ = [
    "SNAPSHOT_DIR",
    "RunDir",
    "RunLock",
    "run_is_live",
    "snapshot_before_rollback",
    "write_atomic",
    "write_atomic_stream",
    "write_json",
]

SNAPSHOT_DIR = "snapshots"
_TARGET_LOGS = ("target.stdout.log", "target.stderr.log")
_RECENT_OBSERVATIONS = 500
_LOOK_BACK = 200_000
_ROWS_PER_CHUNK = 65_536


def write_atomic(path: Path, data: bytes, *, fsync: bool = True) -> None:
    """Write ``data`` to ``path`` so that a reader sees the old file or the whole new one
    (``fsync=False`` skips the flush to disk, for writes on a latency-critical thread).
    Inside a run folder, the run's secrets are redacted first (``harness.redact``)."""
    data = redactor_for_path(path).redact_bytes(data)
    write_atomic_stream(path, lambda f: f.write(data), fsync=fsync)


def write_atomic_stream(
    path: Path, produce: Callable[[BinaryIO], object], *, fsync: bool = True
) -> None:
    """Like ``write_atomic``, for content ``produce`` writes piece by piece (never all in
    memory at once)."""
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                produce(f)
                f.flush()
                if fsync:
                    os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise EvidenceError(f"cannot write {path}: {exc.strerror or exc}") from exc


def write_json(path: Path, value: Any, *, fsync: bool = True) -> None:
    """Write ``value`` as indented JSON, atomically (every string redacted in a run folder)."""
    value = redactor_for_path(path).redact_value(value)
    data = (json.dumps(value, indent=2, sort_keys=False) + "\n").encode()
    write_atomic(path, data, fsync=fsync)


class RunLock:
    """An exclusive ``flock`` on a run folder, held by whoever owns the run right now (its
    live harness, or a sweeper sealing it). It follows the folder through renames."""

    def __init__(self, fd: int) -> None:
        self._fd: int | None = fd

    @classmethod
    def take(cls, folder: Path) -> RunLock:
        """Lock ``folder`` without waiting; raises BlockingIOError when someone holds it and
        OSError when the file system cannot lock (never taken as "nobody holds it")."""
        # os.open makes the descriptor non-inheritable: targets and load children never
        # hold the lock, so it dies with the harness.
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BaseException:
            os.close(fd)
            raise
        return cls(fd)

    def release(self) -> None:
        """Let go (idempotent)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def run_is_live(folder: Path) -> bool:
    """Whether a live process holds ``folder``'s run lock. Conservative: a folder whose lock
    cannot be tested (vanished, unreadable, a file system without flock) counts as live."""
    try:
        lock = RunLock.take(folder)
    except BlockingIOError:
        return True
    except OSError as exc:
        return exc.errno != errno.ENOENT or folder.exists()
    lock.release()
    return False


class RunDir:
    """One run's evidence folder, staged (and locked) until sealed."""

    def __init__(
        self, results: Path, drill: str, stamp: str, run_id: str, *, redactor: Redactor = NO_SECRETS
    ) -> None:
        self.redactor = redactor
        """Hides the run's secrets in every file written into this folder."""
        self.name = f"{stamp}-{run_id}"
        self.parent = results / drill
        self.final = self.parent / self.name
        self.staging = self.parent / f".{self.name}.partial"
        self.sealed = False
        self.lock: RunLock | None = None

    def create(self) -> Path:
        """Make and lock the staging folder; raises EvidenceError when results/ is not
        writable or the folder cannot be locked."""
        creating = self.parent / f".{self.name}.creating"
        try:
            self.parent.mkdir(parents=True, exist_ok=True)
            creating.mkdir()
            try:
                self.lock = RunLock.take(creating)
            except OSError:
                # A file system without flock: the run goes on unlocked, and sweepers,
                # unable to test the lock either, leave its folder alone (run_is_live).
                self.lock = None
            os.rename(creating, self.staging)
        except OSError as exc:
            raise EvidenceError(
                f"cannot create the run folder under {self.parent}: {exc.strerror or exc}"
            ) from exc
        if not os.access(self.staging, os.W_OK):
            raise EvidenceError(f"run folder {self.staging} is not writable")
        register(self.staging, self.redactor)
        return self.staging

    def release(self) -> None:
        """Release the run's lock: from now on a sweeper may seal a folder left unsealed."""
        if self.lock is not None:
            self.lock.release()
            self.lock = None

    @property
    def path(self) -> Path:
        """Where the run's files are now (staging until sealed)."""
        return self.final if self.sealed else self.staging

    def write_observations(self, log: ObservationLog, zero_ns: int) -> Path:
        """Write every observation, compactly: gzip CSV, times in µs from the run's zero."""
        path = self.staging / "observations.csv.gz"
        rows = len(log)
        versions = [self.redactor.redact(v) for v in log.version_table()]  # the target names them

        def produce(raw: BinaryIO) -> None:
            # Streamed block by block, in chunks: a million rows as one string would cost
            # ~200 MB, and a spilled log is read back one block at a time.
            with gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=3, mtime=0) as out:
                out.write(
                    b"# times in microseconds since the run's zero (timeline.jsonl: zero_ns)\n"
                    b"start_us,end_us,status,state,harmful,version\n"
                )
                for block in log.blocks(0, rows):
                    start, end, status = block.start, block.end, block.status
                    state, harmful, version_index = block.state, block.harmful, block.version
                    for first in range(0, len(block), _ROWS_PER_CHUNK):
                        out.write(
                            "".join(
                                f"{(start[i] - zero_ns) // 1000},{(end[i] - zero_ns) // 1000},"
                                f"{status[i]},{state[i]},{harmful[i]},"
                                f"{versions[version_index[i]]}\n"
                                for i in range(first, min(first + _ROWS_PER_CHUNK, len(block)))
                            ).encode()
                        )

        write_atomic_stream(path, produce)
        return path

    def files(self) -> Iterable[Path]:
        """Every file in the run folder, sorted."""
        return sorted(p for p in self.path.rglob("*") if p.is_file())

    def seal(self) -> Path:
        """Make the run visible under its final name (one rename)."""
        try:
            dir_fd = os.open(self.staging, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
            os.replace(self.staging, self.final)
        except OSError as exc:
            raise EvidenceError(f"cannot seal {self.staging}: {exc.strerror or exc}") from exc
        self.sealed = True
        register(self.final, self.redactor)
        return self.final


StatusProbe = Callable[[], "HttpAnswer"]
"""Asks the target for its status through a control path's own status call."""


def snapshot_before_rollback(
    *,
    timeline: Timeline,
    log: ObservationLog,
    via: str,
    status: StatusProbe | None,
    timeout_s: float,
    clock: Callable[[], int] = time.monotonic_ns,
) -> Path:
    """Freeze the target's status, recent versions and logs before a rollback is issued.

    Runs on the engine's tick thread, so it is bounded: the status probe runs on its own
    thread and is given at most ``timeout_s`` (the control path's own timeout); everything
    else is local copying, not flushed to disk here (the files are small and the rollback
    waits on them). Returns the snapshot folder, next to the run's timeline.
    """
    started = clock()
    run_folder = timeline.path.parent
    base = run_folder / SNAPSHOT_DIR
    folder = base / "before-rollback"
    n = 2
    while folder.exists():
        folder = base / f"before-rollback-{n}"
        n += 1
    folder.mkdir(parents=True)
    probe: dict[str, Any] = {"via": via}
    thread = None
    if status is None:
        probe["outcome"] = "not_available"
        probe["detail"] = f"control path {via!r} declares no status call"
    else:
        thread = threading.Thread(
            target=_probe, args=(status, probe), daemon=True, name="snapshot-status"
        )
        thread.start()
    # The logs and the load's view are copied while the probe is in flight.
    copied = {}
    for name in _TARGET_LOGS:
        source = run_folder / name
        if source.is_file():
            data = source.read_bytes()  # what the target had written up to now
            write_atomic(folder / name, data, fsync=False)
            copied[name] = len(data)
    write_json(folder / "load-view.json", _load_view(log, clock()), fsync=False)
    if thread is not None:
        thread.join(max(0.0, timeout_s - (clock() - started) / 1e9))
        if thread.is_alive():
            probe = {
                "via": via,
                "outcome": "timed_out",
                "detail": f"no status within {timeout_s:g}s",
            }
    write_json(folder / "status.json", dict(probe), fsync=False)
    took_ns = clock() - started
    write_json(
        folder / "snapshot.json",
        {
            "taken_before": "rollback",
            "started_t_s": round((started - timeline.zero_ns) / 1e9, 6),
            "took_ms": round(took_ns / 1e6, 3),
            "status_outcome": probe.get("outcome"),
            "target_log_bytes": copied,
            "files": sorted(p.name for p in folder.iterdir() if not p.name.startswith(".")),
        },
        fsync=False,
    )
    timeline.event(
        "snapshot_taken",
        t_ns=started,
        folder=folder.relative_to(run_folder).as_posix(),
        took_ms=round(took_ns / 1e6, 3),
        status=probe.get("outcome"),
        via=via,
    )
    return folder


def _probe(status: StatusProbe, into: dict[str, Any]) -> None:
    try:
        answer = status()
    except Exception as exc:  # the snapshot records a failing status; it never stops a drill
        into.update(outcome="failed", detail=f"{type(exc).__name__}: {exc}", body_text="")
        return
    # The answer is already bounded and redacted by the control path that fetched it.
    into["outcome"] = answer.outcome.value
    into["detail"] = answer.detail
    into["http_status"] = answer.status
    into["headers"] = dict(answer.headers)
    into["elapsed_ms"] = round(answer.elapsed_ns / 1e6, 3)
    try:
        into["body"] = json.loads(answer.body)
    except ValueError:
        into["body_text"] = answer.body


def _load_view(log: ObservationLog, now_ns: int) -> dict[str, Any]:
    """What the load saw just before the snapshot: states and versions of recent answers,
    and the version of the last answer served at all."""
    n = len(log)
    since = max(0, n - _RECENT_OBSERVATIONS)
    start, _end, _status, state, harmful = log.columns(since)
    names, index = log.versions(since)
    last_served = None
    back = max(0, n - _LOOK_BACK)
    old_states = log.columns(back)[3]
    old_names, old_index = log.versions(back)
    for i in range(len(old_states) - 1, -1, -1):
        if old_states[i] == State.SERVING and old_names[old_index[i]]:
            last_served = old_names[old_index[i]]
            break
    return {
        "observations_so_far": n,
        "recent": len(start),
        "recent_window_s": round((now_ns - start[0]) / 1e9, 6) if len(start) else None,
        "states": dict(Counter(State(s).name.lower() for s in state)),
        "versions": dict(Counter(names[i] or "(none)" for i in index)),
        "harmful": sum(harmful),
        "last_version_served": last_served,
    }
