"""Load children started before their drill needs them, and the invocation's one spare.

A load child's start is mostly Locust's import (gevent's monkey-patching), so the child does
it first and only then reads its config, saying ``#W`` in between (:mod:`harness.load.child`).
That lets the harness start it before the target's address is known: while the target starts,
or, for the next drill of a suite, during the current one.

:func:`spawn_load_child` starts one such child (:class:`SpawnedLoadChild`); a
:class:`~harness.load.process.LoadProcess` adopts it, reads its stream and hands it its config.
:class:`LoadPool` serves the children of one invocation (``govdrill run a.yaml b.yaml``, a
pytest session): :meth:`LoadPool.take` gives the spare if it is still alive, else a fresh
child, and :meth:`LoadPool.refill` starts the next spare. Every drill still gets its own
process: a child serves one load and exits, so no gevent state passes from drill to drill.

Lifetime. A child arms ``PR_SET_PDEATHSIG`` (SIGKILL), which Linux fires when the *thread*
that spawned it exits, so the pool spawns spares only from the thread that made it (the main
thread: it outlives every load); from another thread it spawns only a child that thread's own
drill uses at once. The child also checks, before it imports anything, that its parent is
still the pid in ``GOVDRILL_LOAD_PARENT``: the window between the fork and the death signal.
:meth:`LoadPool.close` kills the spare at the end of the invocation.

Labels. A child is labelled (:func:`harness.sandbox.reaper.labels`) for the run that will
adopt it: the pool picks that run's id when it spawns the child (run ids are random tokens)
and the run takes its id from the child. So the sweep of a dead run finds its load child
however early it was spawned. Before that run registers, no sweep knows the id; the death
signal and the parent check cover that time.

Stderr. A child's stderr is a pipe relayed by a thread: held in memory (at most
:data:`HELD_STDERR` bytes) until the run names its file, then appended to it, so a spare never
writes a file outside a run folder.
"""

from __future__ import annotations

import contextlib
import enum
import os
import secrets
import subprocess
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import IO, Final, Self

from harness.child_process import spawn_harness_child
from harness.sandbox import reaper

__all__ = [
    "HELD_STDERR",
    "PARENT_ENV",
    "LoadPool",
    "LoadSource",
    "SpawnedLoadChild",
    "new_run_id",
    "spawn_load_child",
]

PARENT_ENV: Final = "GOVDRILL_LOAD_PARENT"
"""The environment variable naming the harness's pid to a load child from its start: a child
spawned ahead of its run checks it before it has any config."""
HELD_STDERR: Final = 1 << 20
"""The most stderr bytes kept for a child whose run has not named its file yet."""
_READ_CHUNK: Final = 1 << 16


def new_run_id() -> str:
    """A fresh run id (eight hex digits)."""
    return secrets.token_hex(4)


class LoadSource(enum.Enum):
    """Where a run's load child came from."""

    FRESH = "fresh"
    """Spawned when the run began."""
    SPARE = "spare"
    """Spawned ahead by the invocation's pool: during the drill before, or (the first drill of
    ``govdrill run``) while the command was still loading its drills."""
    RESPAWNED = "respawned"
    """Spawned when the run began because the spare had died."""


class _StderrRelay:
    """Copies a child's stderr pipe to a file named later; until then holds a capped copy."""

    def __init__(self, pipe: IO[bytes], name: str) -> None:
        self._pipe = pipe
        self._lock = threading.Lock()
        self._file: IO[bytes] | None = None
        self._held = bytearray()
        self._dropped = 0
        self._ended = False
        self._thread = threading.Thread(target=self._relay, name=name, daemon=True)
        self._thread.start()

    def to(self, path: Path) -> None:
        """Append what was held, and from now on everything, to ``path``."""
        path.parent.mkdir(parents=True, exist_ok=True)
        out = open(path, "ab")  # noqa: SIM115 - closed by the relay thread or below
        with self._lock:
            if self._file is not None:
                out.close()
                raise RuntimeError("this child's stderr already goes to a file")
            out.write(self._held)
            if self._dropped:
                out.write(f"[govdrill: {self._dropped} earlier bytes of stderr dropped]\n".encode())
            out.flush()
            self._held = bytearray()
            if self._ended:
                out.close()
            self._file = out

    def join(self, timeout_s: float) -> None:
        """Wait until the pipe is drained (the child exited) and the file is closed."""
        self._thread.join(timeout_s)

    def _relay(self) -> None:
        fd = self._pipe.fileno()
        try:
            while True:
                try:
                    chunk = os.read(fd, _READ_CHUNK)
                except OSError:
                    break
                if not chunk:
                    break
                with self._lock:
                    out = self._file
                    if out is not None:
                        with contextlib.suppress(OSError):  # a full disk loses stderr only
                            out.write(chunk)
                            out.flush()
                        continue
                    room = HELD_STDERR - len(self._held)
                    self._held += chunk[:room]
                    self._dropped += max(0, len(chunk) - room)
        finally:
            with self._lock:
                self._ended = True
                if self._file is not None:
                    self._file.close()
            self._pipe.close()


class SpawnedLoadChild:
    """One load child from its spawn until a :class:`~harness.load.process.LoadProcess` adopts
    it (or it is discarded): importing Locust, then waiting for its config on stdin."""

    def __init__(
        self,
        proc: subprocess.Popen[bytes],
        *,
        run_id: str,
        spawned_ns: int,
        source: LoadSource = LoadSource.FRESH,
    ) -> None:
        assert proc.stderr is not None
        self.proc = proc
        self.run_id = run_id
        """The run this child is labelled for."""
        self.spawned_ns = spawned_ns
        """When it was spawned, on the clock of whoever spawned it."""
        self.source = source
        self.adopted = False
        self._stderr = _StderrRelay(proc.stderr, f"load-stderr-{proc.pid}")

    @property
    def pid(self) -> int:
        """The child's pid."""
        return self.proc.pid

    def alive(self) -> bool:
        """Whether the child still runs (a spare that died is never handed out)."""
        return self.proc.poll() is None

    def adopt(self, stderr_path: Path) -> subprocess.Popen[bytes]:
        """Hand the child to its load: its stderr goes to ``stderr_path`` from now on."""
        if self.adopted:
            raise RuntimeError(f"load child {self.pid} was already adopted")
        self.adopted = True
        self._stderr.to(stderr_path)
        return self.proc

    def join_stderr(self, timeout_s: float) -> None:
        """Wait until the exited child's stderr is all in its file."""
        self._stderr.join(timeout_s)

    def discard(self) -> None:
        """Kill the child unless a load adopted it (that load stops it); idempotent."""
        if self.adopted:
            return
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()
        self.proc.wait()
        for pipe in (self.proc.stdin, self.proc.stdout):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()
        self._stderr.join(5.0)


def spawn_load_child(
    *,
    labels: Mapping[str, str],
    clock: Callable[[], int] = time.monotonic_ns,
    source: LoadSource = LoadSource.FRESH,
    extra_env: Mapping[str, str] | None = None,
) -> SpawnedLoadChild:
    """Start ``python -m harness.load.child`` with ``labels`` (and ``extra_env`` added to its
    environment); it imports Locust at once.

    Call it from a thread that lives as long as the child's load (see the module docstring).
    """
    proc = spawn_harness_child(
        "harness.load.child",
        labels=labels,
        stderr_path=None,
        extra_env={**(extra_env or {}), "PYTHONUNBUFFERED": "1", PARENT_ENV: str(os.getpid())},
    )
    return SpawnedLoadChild(
        proc, run_id=labels.get(reaper.RUN_ID, ""), spawned_ns=clock(), source=source
    )


class LoadPool:
    """The load children of one invocation, with at most one spare waiting at a time.

    ``spares`` is how many spares it may start over its life (``govdrill run`` with N drills:
    N - 1); None: as many as asked for (a pytest session does not know how many drills follow).
    """

    def __init__(
        self, *, spares: int | None = None, clock: Callable[[], int] = time.monotonic_ns
    ) -> None:
        self._spares_left = spares
        self._clock = clock
        self._owner = threading.current_thread()
        self._lock = threading.Lock()
        self._spare: SpawnedLoadChild | None = None
        self._closed = False
        self.dead_spares = 0
        """Spares found dead when taken, and replaced."""

    def take(self) -> SpawnedLoadChild:
        """A child for the run about to start: the spare if it is alive, else a fresh one
        (spawned by the calling thread, which must live as long as that run's load)."""
        with self._lock:
            spare, self._spare = self._spare, None
        source = LoadSource.FRESH
        if spare is not None:
            if spare.alive():
                return spare
            spare.discard()
            self.dead_spares += 1
            source = LoadSource.RESPAWNED
        return _spawn_for_new_run(self._clock, source)

    def refill(self) -> None:
        """Start the next spare now, unless one waits, none is wanted any more, or the calling
        thread is not the pool's own (a child dies with the thread that spawned it)."""
        with self._lock:
            if self._closed or self._spare is not None or self._spares_left == 0:
                return
            if threading.current_thread() is not self._owner:
                return
            if self._spares_left is not None:
                self._spares_left -= 1
            self._spare = _spawn_for_new_run(self._clock, LoadSource.SPARE)

    @property
    def spare(self) -> SpawnedLoadChild | None:
        """The spare waiting now, if any."""
        return self._spare

    def close(self) -> None:
        """Kill the spare; the pool starts none after this. Idempotent."""
        with self._lock:
            self._closed = True
            spare, self._spare = self._spare, None
        if spare is not None:
            spare.discard()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _spawn_for_new_run(clock: Callable[[], int], source: LoadSource) -> SpawnedLoadChild:
    return spawn_load_child(labels=reaper.labels(new_run_id()), clock=clock, source=source)
