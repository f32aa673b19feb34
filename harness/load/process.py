"""The harness side of the load: start the Locust child, read its stream, watch its health.

The harness process never imports Locust or gevent: Locust monkey-patches the interpreter with
gevent on import, which distorts the harness's own timing (and breaks docker/requests imported
before it). So :class:`LoadProcess` runs ``python -m harness.load.child`` and reads what it
writes (protocol in :mod:`harness.load.child`). This module imports only the standard library,
:mod:`harness.errors`, the pure :mod:`harness.load.config` and :mod:`harness.observations`,
and :mod:`harness.load.warm` (which starts the child).

Errors (under :class:`harness.errors.LoadError`, the one load error of the harness)::

    LoadError                  the load could not run as asked
    ├── LoadStartTimeout       the child did not spawn its users in time
    └── LoadDied               the child exited, or reported a fatal error, before it was stopped

The reader thread never dies silently: whatever it raises is kept
(:attr:`LoadProcess.reader_error`), the child is stopped, and :meth:`LoadProcess.health` says
:attr:`LoadStatus.READER_FAILED` with the cause: a fault of the harness, never mistaken for a
stalled or dead load.

A worker of Locust's distributed mode (:mod:`harness.load.fleet`) may run on another clock:
:meth:`LoadProcess.ping` measures it (:mod:`harness.load.clock_offset`), and once its owner sets
:attr:`LoadProcess.clock_offset_ns` every instant the child writes is read onto the harness's
clock. A local child shares the harness's clock and is never pinged.

The child cannot outlive the harness: it arms ``PR_SET_PDEATHSIG`` (SIGKILL) at start, which
Linux fires when the *thread* that started it exits. So call :meth:`LoadProcess.spawn` (or
:meth:`LoadProcess.start`) from a thread that lives as long as the load (the main thread,
typically), or hand it a child spawned by such a thread (:mod:`harness.load.warm`).

Starting is two steps, so the slow one can run early: :meth:`LoadProcess.spawn` starts the
child (or adopts one spawned ahead), which imports Locust and says ``#W``;
:meth:`LoadProcess.configure` hands it the config, which may only be known later (the target's
address). :meth:`LoadProcess.start` does both at once.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import enum
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Final, Self

from harness.errors import LoadError
from harness.load.clock_offset import ClockOffset, OffsetEstimator
from harness.load.config import LoadConfig
from harness.load.warm import SpawnedLoadChild, spawn_load_child
from harness.observations import (
    Observation,
    ObservationLog,
    State,
    parse_harm_line,
    parse_stream_line,
)
from harness.spec.durations import NS_PER_S, to_ns
from harness.streams import StreamObservation

__all__ = [
    "LoadDied",
    "LoadError",
    "LoadHealth",
    "LoadProcess",
    "LoadStartTimeout",
    "LoadStatus",
]

STALL_AFTER_S: Final = 1.0
"""No heartbeat for longer than this: the child is stalled (stopped, starved or wedged)."""

_RATE_SAMPLES: Final = 8192
_READ_CHUNK: Final = 1 << 16
_MAX_LINE: Final = 1 << 16
"""A line longer than this cannot be the child's (its lines are < 200 bytes): it is dropped
unread rather than buffered, so the reader's memory stays bounded whatever arrives."""
_STREAM_LINES: Final = frozenset(b"SH")
"""First bytes of the stream lines (``S`` a stream ended, ``H`` its first harmful chunk)."""


class LoadStartTimeout(LoadError):
    """The child did not report all users spawned within the timeout."""


class LoadDied(LoadError):
    """The child exited, or reported a fatal error, before the harness stopped it."""


class LoadStatus(enum.Enum):
    """Where the load child is in its life."""

    NOT_STARTED = "not_started"
    STARTING = "starting"
    """Alive, no heartbeat yet (Python and Locust are still importing)."""
    RUNNING = "running"
    """Heartbeats arrive."""
    STALLED = "stalled"
    """Alive but silent for longer than the stall limit: stopped, starved or wedged."""
    DEAD = "dead"
    """Exited without being asked to, or reported a fatal error."""
    STOPPED = "stopped"
    """Stopped by :meth:`LoadProcess.stop`."""
    READER_FAILED = "reader_failed"
    """The harness's own reader of the child's stream raised: a harness fault, not the load's."""


@dataclass(frozen=True, slots=True)
class LoadHealth:
    """The load child's status at one instant, with a human-readable detail."""

    status: LoadStatus
    detail: str = ""
    since_heartbeat_s: float | None = None
    """Seconds since the last heartbeat arrived (None before the first)."""

    @property
    def ok(self) -> bool:
        """True while the load is starting or running normally."""
        return self.status in (LoadStatus.STARTING, LoadStatus.RUNNING)


class LoadProcess:
    """One load child, from spawn to reaped, with its observations streaming into ``log``.

    ``on_observation`` runs on the reader thread for every observation, after it is appended
    to ``log``: keep it fast (it is the harness's live harm detector). An exception it raises
    is kept in :attr:`callback_error` and does not stop the stream.

    ``config`` may be left out here and given to :meth:`configure`; ``child``, a child spawned
    ahead (:func:`harness.load.warm.spawn_load_child`), is adopted by :meth:`spawn` instead of
    starting one (its own labels then count, not ``labels``).
    """

    def __init__(
        self,
        *,
        config: LoadConfig | None = None,
        log: ObservationLog,
        stderr_path: Path,
        on_observation: Callable[[Observation], None] | None = None,
        clock: Callable[[], int] = time.monotonic_ns,
        stall_after_s: float = STALL_AFTER_S,
        labels: Mapping[str, str] | None = None,
        extra_env: Mapping[str, str] | None = None,
        child: SpawnedLoadChild | None = None,
    ) -> None:
        self.config = config
        self._labels = dict(labels or {})
        self._extra_env = dict(extra_env or {})
        self._child = child
        self.log = log
        self.stderr_path = stderr_path
        self._on_observation = on_observation
        self._clock = clock
        self._stall_after_ns = to_ns(stall_after_s)
        self.ready = threading.Event()
        """Set when the child reports all users spawned (``#R``)."""
        self.error: str | None = None
        """Why the load failed: the child's ``#E`` message or an unexpected exit."""
        self.callback_error: BaseException | None = None
        self.reader_error: BaseException | None = None
        """What the reader thread raised, if it failed; the load ends with it."""
        self.malformed_lines = 0
        self.users_spawned = 0
        self.last_heartbeat_ns: int | None = None
        """When the last heartbeat arrived, on ``clock``."""
        self.child_heartbeat_ns: int | None = None
        """The child's own timestamp in its last heartbeat."""
        self.observations_announced: int | None = None
        """The count in the child's final ``#D`` line: all of them arrived when it equals
        the number read."""
        self.observations_read = 0
        self.streams_read = 0
        """``S`` lines read (streams ended, ``load.stream``)."""
        self.spawned_ns: int | None = None
        """When the child was spawned (for an adopted child: by whoever spawned it)."""
        self.warm_ns: int | None = None
        """The child's own stamp in its ``#W`` line: Locust imported, ready for its config."""
        self.started_ns: int | None = None
        """When the config was handed over: the load's start."""
        self.master_port: int | None = None
        """The port a master child announced (``#M``) for its workers."""
        self.master_announced = threading.Event()
        self.clock_offset_ns = 0
        """Subtracted from every instant the child writes (its clock minus the harness's).
        Set by the owner before the child's load starts, and left alone after."""
        self.clock_estimate: ClockOffset | None = None
        """The best estimate of the child's clock offset from its answered pings."""
        self.pong = threading.Condition()
        """Notified whenever a ping is answered."""
        self._offsets = OffsetEstimator()
        self._stdin_lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._reader: threading.Thread | None = None
        self._eof = threading.Event()
        self._stopping = False
        self._stopped = False
        self._stop_lock = threading.Lock()
        self._rate_lock = threading.Lock()
        self._rate_samples: collections.deque[tuple[int, int]] = collections.deque(
            maxlen=_RATE_SAMPLES
        )

    # ------------------------------------------------------------------ lifecycle

    @property
    def pid(self) -> int | None:
        """The child's pid once started."""
        return self._proc.pid if self._proc is not None else None

    @property
    def returncode(self) -> int | None:
        """The child's exit code once it exited."""
        return self._proc.poll() if self._proc is not None else None

    def start(self) -> None:
        """Spawn the child (or adopt the one handed in), hand it the config, read its stream."""
        if self.config is None:
            raise LoadError("this load has no config to start with")
        self._check_parent(self.config)  # before spawning: a config that cannot work starts nothing
        self.spawn()
        self.configure()

    def spawn(self) -> None:
        """Start the child, or adopt the one handed in, and start reading its stream; the child
        imports Locust and then waits for :meth:`configure`."""
        if self._proc is not None:
            raise LoadError("this load was already started")
        child = self._child
        if child is None:
            child = self._child = spawn_load_child(
                labels=self._labels, clock=self._clock, extra_env=self._extra_env
            )
        self._proc = child.adopt(self.stderr_path)
        self.spawned_ns = child.spawned_ns
        self._reader = threading.Thread(
            target=self._read, name=f"load-reader-{self._proc.pid}", daemon=True
        )
        self._reader.start()

    @property
    def clock_uncertainty_ns(self) -> int:
        """0: a local child shares the harness's monotonic clock (a fleet's workers may not)."""
        return 0

    def configure(self, config: LoadConfig | None = None) -> None:
        """Hand the spawned child its config (default: the one given at construction); the
        load starts now."""
        config = config if config is not None else self.config
        if config is None:
            raise LoadError("no config to hand the load child")
        if self._proc is None:
            raise LoadError("the load child was not spawned")
        if self.started_ns is not None:
            raise LoadError("this load was already configured")
        self._check_parent(config)
        self.config = config
        self.started_ns = self._clock()
        with self._stdin_lock:
            stdin = self._proc.stdin
            assert stdin is not None
            try:
                stdin.write(config.model_dump_json().encode() + b"\n")
                stdin.flush()
            except BrokenPipeError:
                pass  # the child died; the reader sees its exit and reports it

    @staticmethod
    def _check_parent(config: LoadConfig) -> None:
        if config.parent_pid != os.getpid():
            raise LoadError(
                f"config.parent_pid is {config.parent_pid} but this process is "
                f"{os.getpid()}: the child would exit at once"
            )

    def wait_ready(self, timeout_s: float) -> None:
        """Block until every user is spawned; raise :class:`LoadError` if that cannot happen."""
        config = self.config
        if self._proc is None or config is None or self.started_ns is None:
            raise LoadError("the load was not started")
        deadline = time.monotonic_ns() + to_ns(timeout_s)
        while not self.ready.is_set():
            if self._eof.is_set() or self.error is not None:
                self._join_reader(1.0)
                raise LoadDied(self.error or f"load child exited (code {self.returncode})")
            remaining = deadline - time.monotonic_ns()
            if remaining <= 0:
                raise LoadStartTimeout(
                    f"load child did not spawn {config.users} users within {timeout_s} s "
                    f"(stderr: {self.stderr_path})"
                )
            self.ready.wait(min(remaining / 1e9, 0.02))

    def ping(self) -> bool:
        """Ask the child for its clock (``#P``); False when its stdin is closed.

        The send instant is read just before the write, so the answer's stamp lies between it
        and the instant the reader reads the answer, whatever delays either way.
        """
        with self._stdin_lock:
            stdin = None if self._proc is None else self._proc.stdin
            if stdin is None or stdin.closed:
                return False
            with self.pong:  # the estimator is shared with the reader thread
                seq = self._offsets.ping(self._clock())
            try:
                stdin.write(f"#P {seq}\n".encode())
                stdin.flush()
            except (BrokenPipeError, ValueError, OSError):
                return False
            return True

    def send_go(self) -> bool:
        """Tell a master child to start the load (``#G``); False when its stdin is closed."""
        with self._stdin_lock:
            stdin = None if self._proc is None else self._proc.stdin
            if stdin is None or stdin.closed:
                return False
            try:
                stdin.write(b"#G\n")
                stdin.flush()
            except (BrokenPipeError, ValueError, OSError):
                return False
            return True

    def stop(self, timeout_s: float = 5.0) -> int | None:
        """Stop the child (EOF and SIGTERM, then SIGKILL after ``timeout_s``); return its exit code.

        Idempotent and safe to call when the start failed halfway.
        """
        with self._stop_lock:
            proc = self._proc
            if proc is None:
                self._stopped = True
                return None
            if not self._stopped:
                # a child that already died stays DEAD in health(); only a live one is "stopped"
                self._stopping = proc.poll() is None and not self._eof.is_set()
                if self.started_ns is None and proc.poll() is None:
                    proc.kill()  # never configured: no load ran, nothing to drain
                if proc.stdin is not None:
                    with self._stdin_lock, contextlib.suppress(OSError):
                        proc.stdin.close()
                if proc.poll() is None:
                    with contextlib.suppress(ProcessLookupError):
                        proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout_s)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
                self._join_reader(timeout_s)
                if self._child is not None:
                    self._child.join_stderr(timeout_s)
                self._stopped = True
            return proc.returncode

    def _join_reader(self, timeout_s: float) -> None:
        reader = self._reader
        if reader is not None and reader is not threading.current_thread():
            reader.join(timeout_s)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # ------------------------------------------------------------------ health

    def health(self, now_ns: int | None = None) -> LoadHealth:
        """The child's status now (``now_ns`` on ``clock``; default: read the clock)."""
        proc = self._proc
        if proc is None:
            return LoadHealth(LoadStatus.NOT_STARTED)
        now = self._clock() if now_ns is None else now_ns
        last = self.last_heartbeat_ns
        since = (now - last) / 1e9 if last is not None else None
        failed = self.reader_error
        if failed is not None:  # first: the child it stopped must not read as dead or stalled
            return LoadHealth(LoadStatus.READER_FAILED, _cause(failed), since)
        code = proc.poll()
        if self._stopping:
            detail = "stopping" if code is None else f"stopped (exit code {code})"
            return LoadHealth(LoadStatus.STOPPED, detail, since)
        if code is not None or self._eof.is_set():
            detail = self.error or f"load child exited unexpectedly (code {code})"
            return LoadHealth(LoadStatus.DEAD, detail, since)
        if self.error is not None:
            return LoadHealth(LoadStatus.DEAD, self.error, since)
        if last is None:
            return LoadHealth(LoadStatus.STARTING, "waiting for the first heartbeat", None)
        if now - last > self._stall_after_ns:
            return LoadHealth(
                LoadStatus.STALLED, f"no heartbeat for {since:.2f} s (pid {proc.pid})", since
            )
        return LoadHealth(LoadStatus.RUNNING, "", since)

    def observed_rate(self, window_s: float = 1.0, now_ns: int | None = None) -> float:
        """Observations per second that arrived over the last ``window_s`` (0.0 before any)."""
        now = self._clock() if now_ns is None else now_ns
        since = now - to_ns(window_s)
        with self._rate_lock:
            if not self._rate_samples:
                return 0.0
            latest = self._rate_samples[-1][1]
            base, span_start = 0, max(since, self.started_ns or since)
            for t, count in reversed(self._rate_samples):
                if t < since:
                    base, span_start = count, since
                    break
        return (latest - base) * NS_PER_S / max(now - span_start, 1)

    # ------------------------------------------------------------------ the reader

    def _read(self) -> None:
        proc = self._proc
        assert proc is not None and proc.stdout is not None
        stdout: IO[bytes] = proc.stdout
        try:
            self._read_stream(proc, stdout)
        except BaseException as exc:  # whatever it is, it must be reported
            self.reader_error = exc
            self.error = f"the harness's load reader failed: {_cause(exc)}"
            # Nobody reads the child's stream any more: stop it, or it blocks on a full pipe
            # and the run would read it as a stalled load.
            with contextlib.suppress(OSError):
                proc.terminate()
        finally:
            stdout.close()
            try:
                code = proc.wait(5.0)
            except subprocess.TimeoutExpired:
                proc.kill()
                code = proc.wait()
            if not self._stopping and self.error is None:
                self.error = f"load child exited unexpectedly (code {code})"
            elif self.error is None and self.observations_announced is None and code != 0:
                self.error = f"load child exited with code {code} before its final line"
            self._eof.set()

    def _read_stream(self, proc: subprocess.Popen[bytes], stdout: IO[bytes]) -> None:
        fd = stdout.fileno()
        log_append = self.log.append
        from_line = Observation.from_line
        callback = self._on_observation
        clock = self._clock
        samples = self._rate_samples
        rate_lock = self._rate_lock
        carry = b""
        skipping = False  # inside an overlong line, dropping bytes until its newline
        while True:
            chunk = os.read(fd, _READ_CHUNK)
            if not chunk:
                break
            if skipping:
                cut = chunk.find(b"\n")
                if cut < 0:
                    continue
                chunk, skipping = chunk[cut + 1 :], False
            lines = (carry + chunk).split(b"\n")
            carry = lines.pop()
            if len(carry) > _MAX_LINE:
                carry, skipping = b"", True
                self.malformed_lines += 1
            read = 0
            for raw in lines:
                if not raw:
                    continue
                if raw[0] == 0x23:  # "#": a control line
                    self._control(raw)
                    continue
                if raw[0] in _STREAM_LINES:
                    self._stream_line(raw)
                    continue
                try:
                    obs = from_line(raw.decode("utf-8", errors="replace"))
                except ValueError:
                    self.malformed_lines += 1
                    continue
                offset = self.clock_offset_ns
                if offset:
                    obs = _shifted(obs, offset)
                log_append(obs)
                read += 1
                if callback is not None:
                    try:
                        callback(obs)
                    except Exception as e:  # the stream must go on
                        if self.callback_error is None:
                            self.callback_error = e
            if read:
                self.observations_read += read
                with rate_lock:
                    samples.append((clock(), self.observations_read))

    def _stream_line(self, raw: bytes) -> None:
        """An ``S`` line (a stream ended) into the log; an ``H`` line (a stream's first harmful
        chunk) to the live detector, as a harmful observation ending at that chunk."""
        text = raw.decode("ascii", errors="replace")
        try:
            offset = self.clock_offset_ns
            if raw[0] == 0x53:  # "S"
                stream = parse_stream_line(text)
                self.log.append_stream(_stream_shifted(stream, offset) if offset else stream)
                self.streams_read += 1
                return
            start_ns, t_ns = parse_harm_line(text)
            start_ns, t_ns = start_ns - offset, t_ns - offset
        except ValueError:
            self.malformed_lines += 1
            return
        callback = self._on_observation
        if callback is not None:
            try:
                callback(Observation(start_ns, t_ns, 200, State.SERVING, True))
            except Exception as e:  # the stream must go on
                if self.callback_error is None:
                    self.callback_error = e

    def _control(self, raw: bytes) -> None:
        kind, _, rest = raw.decode("utf-8", errors="replace").partition(" ")
        if kind == "#Q":
            received = self._clock()  # first: the answer is at least this old
            seq, _, stamp = rest.partition(" ")
            with self.pong:
                estimate = None
                if (s := _int_or_none(seq)) is not None and (t := _int_or_none(stamp)) is not None:
                    estimate = self._offsets.answer(s, t, received)
                if estimate is None:
                    self.malformed_lines += 1
                else:
                    self.clock_estimate = estimate
                self.pong.notify_all()
        elif kind == "#W":
            self.warm_ns = _int_or_none(rest)
        elif kind == "#H":
            self.last_heartbeat_ns = self._clock()
            child = _int_or_none(rest)
            self.child_heartbeat_ns = None if child is None else child - self.clock_offset_ns
        elif kind == "#M":
            self.master_port = _int_or_none(rest)
            self.master_announced.set()
        elif kind == "#R":
            self.users_spawned = _int_or_none(rest) or 0
            self.ready.set()
        elif kind == "#E":
            self.error = rest or "load child reported an unnamed fatal error"
        elif kind == "#D":
            self.observations_announced = _int_or_none(rest)
        else:
            self.malformed_lines += 1


def _shifted(obs: Observation, offset_ns: int) -> Observation:
    """The observation with its instants read onto the harness's clock."""
    return dataclasses.replace(
        obs, start_ns=obs.start_ns - offset_ns, end_ns=obs.end_ns - offset_ns
    )


def _stream_shifted(stream: StreamObservation, offset_ns: int) -> StreamObservation:
    """The stream record with its instants read onto the harness's clock."""

    def back(t: int | None) -> int | None:
        return None if t is None else t - offset_ns

    return dataclasses.replace(
        stream,
        start_ns=stream.start_ns - offset_ns,
        first_chunk_ns=back(stream.first_chunk_ns),
        last_chunk_ns=back(stream.last_chunk_ns),
        first_harm_ns=back(stream.first_harm_ns),
        last_harm_ns=back(stream.last_harm_ns),
        end_ns=stream.end_ns - offset_ns,
    )


def _cause(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _int_or_none(text: str) -> int | None:
    try:
        return int(text)
    except ValueError:
        return None
