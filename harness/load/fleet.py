"""Distributed load on Locust's own master/worker mode: one master child and N worker children.

The master (``role: master``) runs Locust's MasterRunner bound to loopback on a port the kernel
chooses, announces it (``#M``) and sends no request. Each worker (``role: worker``) runs a
WorkerRunner that joins it, and streams its observations on its own stdout to its own
:class:`~harness.load.process.LoadProcess` reader, all into the one shared
:class:`~harness.observations.ObservationLog` (whose appends are serialised); the live
detector they all call is serialised here.

Clocks: before any user runs, the harness pings every worker over its stdin and keeps the
round trip with the shortest time (:mod:`harness.load.clock_offset`); the worker's instants
are then read onto the harness's clock, each within ``± u`` of the truth.
:attr:`LoadFleet.clock_uncertainty_ns` is the largest ``u`` over the workers, by which the
analysis widens every bound. Only then does the master get ``#G`` and deal out the users.
Workers started here share the harness's monotonic clock, so their offsets come out near
zero; the estimate is applied all the same, so what holds for a worker on another clock is
what every distributed run exercises.

Health: the fleet is as healthy as its least healthy member. A worker that dies closes its
stdout, which its reader sees at once; one that hangs misses its heartbeats
(:data:`~harness.load.process.STALL_AFTER_S`). Either way :meth:`LoadFleet.health` reports it,
naming the worker, and the run treats it as a failed load (everything after it unverified).

Spawn every child from a thread that lives as long as the load (``PR_SET_PDEATHSIG`` fires
when the spawning thread exits): :meth:`LoadFleet.start` spawns the master and
:meth:`LoadFleet.wait_ready` the workers, both on the caller's thread.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from harness.errors import LoadError
from harness.load.config import LoadConfig, LoadRole
from harness.load.process import (
    STALL_AFTER_S,
    LoadDied,
    LoadHealth,
    LoadProcess,
    LoadStartTimeout,
    LoadStatus,
)
from harness.load.warm import SpawnedLoadChild
from harness.observations import Observation, ObservationLog
from harness.spec.durations import to_ns

__all__ = ["LoadFleet", "WorkerClock"]

PINGS: Final = 10
"""Answered pings per worker before the load starts; the shortest round trip is kept."""
MAX_PINGS: Final = 50
"""... and up to this many while the best half round trip is above GOOD_ENOUGH_NS."""
GOOD_ENOUGH_NS: Final = 1_000_000

REPING_S: Final = 0.2
"""A ping unanswered this long is given up and another sent."""
_REPING_NS: Final = to_ns(REPING_S)

Emit = Callable[..., None]
"""``timeline.event``: the fleet records each worker's clock as the run's evidence."""


@dataclass(frozen=True, slots=True)
class WorkerClock:
    """One worker's clock as the harness measured it before the load started."""

    index: int
    pid: int | None
    offset_ns: int
    """Its clock minus the harness's (its instants were read back by this much)."""
    uncertainty_ns: int
    """Half the shortest round trip: each of its instants is within this of the truth."""
    samples: int
    skew_ns: int = 0
    """The test hook's deliberate skew of its clock (0 in real runs)."""
    observations: int = 0
    """Observations read from it (known once the fleet stopped)."""

    def to_event(self) -> dict[str, int | None]:
        """The timeline and summary form."""
        return {
            "index": self.index,
            "pid": self.pid,
            "offset_ns": self.offset_ns,
            "uncertainty_ns": self.uncertainty_ns,
            "samples": self.samples,
            "skew_ns": self.skew_ns,
            "observations": self.observations,
        }


class LoadFleet:
    """A Locust master and ``config.workers`` workers, read as one load (the engine's view).

    It offers what the engine uses of a :class:`LoadProcess` (``start``, ``wait_ready``,
    ``stop``, ``health``, ``observed_rate`` and the counters), plus the workers' clocks.
    """

    def __init__(
        self,
        *,
        config: LoadConfig,
        log: ObservationLog,
        stderr_path: Path,
        on_observation: Callable[[Observation], None] | None = None,
        clock: Callable[[], int] = time.monotonic_ns,
        stall_after_s: float = STALL_AFTER_S,
        labels: Mapping[str, str] | None = None,
        skews_ns: tuple[int, ...] = (),
        emit: Emit | None = None,
        pings: int = PINGS,
        master_child: SpawnedLoadChild | None = None,
    ) -> None:
        if config.workers < 2:
            raise LoadError(f"a fleet needs at least 2 workers, got {config.workers}")
        if skews_ns and len(skews_ns) != config.workers:
            raise LoadError(f"{len(skews_ns)} clock skews for {config.workers} workers")
        self.config = config
        self.log = log
        self._stderr_path = stderr_path
        self._clock = clock
        self._stall_after_s = stall_after_s
        self._labels = dict(labels or {})
        self._skews = skews_ns or (0,) * config.workers
        self._emit = emit
        self._pings = pings
        self._callback = _serialised(on_observation)
        self.ready = threading.Event()
        """Set when every worker's clock is measured and the master spawned every user."""
        self.master = LoadProcess(
            config=config.model_copy(update={"role": LoadRole.MASTER}),
            log=log,
            stderr_path=_member_path(stderr_path, "master"),
            clock=clock,
            stall_after_s=stall_after_s,
            labels=self._labels,
            extra_env={"GOVDRILL_LOAD_ROLE": "master"},
            child=master_child,  # the run's child, spawned ahead: already importing Locust
        )
        self.workers: list[LoadProcess] = []
        self.clocks: tuple[WorkerClock, ...] = ()
        """Each worker's measured clock, once :meth:`wait_ready` measured them."""
        self.clock_uncertainty_ns = 0
        """The largest half round trip over the workers: every bound widens by it."""
        self._stopping = False

    # ------------------------------------------------------------------ lifecycle

    @property
    def members(self) -> list[LoadProcess]:
        """The master, then the workers started so far."""
        return [self.master, *self.workers]

    @property
    def pid(self) -> int | None:
        """The master's pid once started."""
        return self.master.pid

    @property
    def returncode(self) -> int | None:
        """The master's exit code once it exited."""
        return self.master.returncode

    @property
    def warm_ns(self) -> int | None:
        """When the last member had Locust imported (``#W``), on its own clock; None until
        every member said so."""
        stamps = [m.warm_ns for m in self.members]
        return None if None in stamps else max(s for s in stamps if s is not None)

    def start(self) -> None:
        """Spawn the master and every worker at once (each imports Locust meanwhile) and hand
        the master its config; the workers get theirs in :meth:`wait_ready`, once it listens."""
        self.master.spawn()
        for index in range(self.config.workers):
            worker = LoadProcess(
                log=self.log,
                stderr_path=_member_path(self._stderr_path, f"worker-{index}"),
                on_observation=self._callback,
                clock=self._clock,
                stall_after_s=self._stall_after_s,
                labels=self._labels,
                extra_env={"GOVDRILL_LOAD_ROLE": f"worker-{index}"},
            )
            self.workers.append(worker)
            worker.spawn()
        self.master.configure()

    def wait_ready(self, timeout_s: float) -> None:
        """Start the workers, measure their clocks, then start the load and wait for every
        user; raise :class:`LoadError` if that cannot happen within ``timeout_s``."""
        deadline = time.monotonic_ns() + to_ns(timeout_s)
        port = self._wait_master_port(deadline)
        for index, worker in enumerate(self.workers):
            worker.configure(
                self.config.model_copy(
                    update={
                        "role": LoadRole.WORKER,
                        "master_port": port,
                        "worker_index": index,
                        "clock_skew_ns": self._skews[index],
                    }
                )
            )
        clocks = [
            self._measure(index, worker, deadline) for index, worker in enumerate(self.workers)
        ]
        self.clocks = tuple(clocks)
        self.clock_uncertainty_ns = max(c.uncertainty_ns for c in clocks)
        if self._emit is not None:
            self._emit(
                "load_workers",
                # Their observation counts are known only at the end (summary.json).
                workers=[{**c.to_event(), "observations": None} for c in clocks],
                clock_uncertainty_ns=self.clock_uncertainty_ns,
                master_pid=self.master.pid,
                master_port=port,
            )
        if not self.master.send_go():
            raise LoadDied(self._died("master", self.master))
        for name, member in self._named():
            self._wait_member_ready(name, member, deadline)
        self.ready.set()

    def _wait_master_port(self, deadline: int) -> int:
        master = self.master
        while not master.master_announced.wait(0.02):
            self._check_alive("master", master)
            if time.monotonic_ns() > deadline:
                raise LoadStartTimeout(
                    f"the Locust master did not listen in time ({master.stderr_path})"
                )
        port = master.master_port
        if port is None or not 0 < port < 65536:
            raise LoadDied(f"the Locust master announced no usable port ({master.stderr_path})")
        return port

    def _measure(self, index: int, worker: LoadProcess, deadline: int) -> WorkerClock:
        """Ping ``worker`` one ping at a time, so that no ping waits behind another, and keep
        the shortest round trip.

        First until it answers at all: a ping unanswered for :data:`REPING_S` is given up
        (the child may not read its stdin yet, or read it into a buffer with its config) and
        another sent; those answers come late, in a burst, and count for little. Then
        ``pings`` more, and on up to :data:`MAX_PINGS` while the best half round trip is
        still above :data:`GOOD_ENOUGH_NS` (a busy machine delays some of them).
        """
        answered = self._ping_once(index, worker, 0, deadline)
        while not answered:
            answered = self._ping_once(index, worker, 0, deadline)
        first = answered
        while True:
            answered = self._ping_once(index, worker, answered, deadline)
            estimate = worker.clock_estimate
            assert estimate is not None
            taken = answered - first
            if taken >= MAX_PINGS or (
                taken >= self._pings and estimate.uncertainty_ns <= GOOD_ENOUGH_NS
            ):
                return self._clock_of(index, worker)

    def _ping_once(self, index: int, worker: LoadProcess, answered: int, deadline: int) -> int:
        """Send one ping and wait for an answer (any) or :data:`REPING_S`; return the number
        of answers so far."""
        if not worker.ping():
            raise LoadDied(self._died(f"worker {index}", worker))
        sent = time.monotonic_ns()
        with worker.pong:
            while _samples(worker) <= answered and time.monotonic_ns() - sent < _REPING_NS:
                self._check_alive(f"worker {index}", worker)
                if time.monotonic_ns() > deadline:
                    raise LoadStartTimeout(
                        f"worker {index} did not answer its clock pings in time"
                        f" ({worker.stderr_path})"
                    )
                worker.pong.wait(0.02)
            return _samples(worker)

    def _clock_of(self, index: int, worker: LoadProcess) -> WorkerClock:
        estimate = worker.clock_estimate
        assert estimate is not None
        # Set before the master deals out any user: every observation is read with it.
        worker.clock_offset_ns = estimate.offset_ns
        return WorkerClock(
            index=index,
            pid=worker.pid,
            offset_ns=estimate.offset_ns,
            uncertainty_ns=estimate.uncertainty_ns,
            samples=estimate.samples,
            skew_ns=self._skews[index],
        )

    def _wait_member_ready(self, name: str, member: LoadProcess, deadline: int) -> None:
        while not member.ready.wait(0.02):
            self._check_alive(name, member)
            if time.monotonic_ns() > deadline:
                raise LoadStartTimeout(
                    f"{name} did not report its users spawned in time ({member.stderr_path})"
                )

    def _check_alive(self, name: str, member: LoadProcess) -> None:
        if not member.health().ok:
            raise LoadDied(self._died(name, member))

    def _died(self, name: str, member: LoadProcess) -> str:
        return (
            f"{name}: {member.error or f'exited (code {member.returncode})'} ({member.stderr_path})"
        )

    def _named(self) -> list[tuple[str, LoadProcess]]:
        return [("master", self.master)] + [(f"worker {i}", w) for i, w in enumerate(self.workers)]

    def stop(self, timeout_s: float = 5.0) -> int | None:
        """Stop the workers, then the master; return the master's exit code. Idempotent."""
        self._stopping = True
        for worker in self.workers:
            worker.stop(timeout_s)
        self.clocks = tuple(
            dataclasses.replace(c, observations=self.workers[c.index].observations_read)
            for c in self.clocks
        )
        return self.master.stop(timeout_s)

    def __enter__(self) -> LoadFleet:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ health and counters

    def health(self, now_ns: int | None = None) -> LoadHealth:
        """The least healthy member's status, naming it; RUNNING only when all run."""
        now = self._clock() if now_ns is None else now_ns
        named = [(name, member, member.health(now)) for name, member in self._named()]
        for status in (LoadStatus.READER_FAILED, LoadStatus.DEAD, LoadStatus.STALLED):
            for name, member, health in named:
                if health.status is status:
                    detail = f"{name} (pid {member.pid}): {health.detail}"
                    return LoadHealth(status, detail, health.since_heartbeat_s)
        if self._stopping or any(h.status is LoadStatus.STOPPED for _, _, h in named):
            return LoadHealth(LoadStatus.STOPPED, "stopped")
        if self.master.pid is None:
            return LoadHealth(LoadStatus.NOT_STARTED)
        running = all(h.status is LoadStatus.RUNNING for _, _, h in named)
        if running and len(self.workers) == self.config.workers:
            since = max(h.since_heartbeat_s or 0.0 for _, _, h in named)
            return LoadHealth(LoadStatus.RUNNING, "", since)
        return LoadHealth(LoadStatus.STARTING, "the Locust master and workers are starting")

    def observed_rate(self, window_s: float = 1.0, now_ns: int | None = None) -> float:
        """Observations per second over the last ``window_s``, summed over the workers."""
        now = self._clock() if now_ns is None else now_ns
        return sum(w.observed_rate(window_s, now) for w in self.workers)

    @property
    def reader_error(self) -> BaseException | None:
        """The first member reader's failure, if any."""
        return next((m.reader_error for m in self.members if m.reader_error is not None), None)

    @property
    def callback_error(self) -> BaseException | None:
        """The first failure of the live detector on a worker's reader, if any."""
        return next((w.callback_error for w in self.workers if w.callback_error is not None), None)

    @property
    def error(self) -> str | None:
        """The first member's failure, naming it."""
        for name, member in self._named():
            if member.error is not None:
                return f"{name}: {member.error}"
        return None

    @property
    def users_spawned(self) -> int:
        """The users the master dealt out, as it reported them."""
        return self.master.users_spawned

    @property
    def observations_read(self) -> int:
        """Observations read from every worker."""
        return sum(w.observations_read for w in self.workers)

    @property
    def observations_announced(self) -> int | None:
        """The workers' final counts summed, once every worker announced its own."""
        counts = [w.observations_announced for w in self.workers]
        if not counts or any(c is None for c in counts):
            return None
        return sum(c for c in counts if c is not None)

    @property
    def malformed_lines(self) -> int:
        """Lines no member's reader could parse."""
        return sum(m.malformed_lines for m in self.members)

    @property
    def streams_read(self) -> int:
        """Streams read from every worker."""
        return sum(w.streams_read for w in self.workers)


def _samples(worker: LoadProcess) -> int:
    """Pings the worker has answered so far (read under its ``pong`` lock)."""
    estimate = worker.clock_estimate
    return 0 if estimate is None else estimate.samples


def _member_path(stderr_path: Path, member: str) -> Path:
    """``load.stderr.log`` becomes ``load-master.stderr.log``, ``load-worker-0.stderr.log``."""
    name = stderr_path.name
    stem, dot, rest = name.partition(".")
    return stderr_path.with_name(f"{stem}-{member}{dot}{rest}")


def _serialised(
    callback: Callable[[Observation], None] | None,
) -> Callable[[Observation], None] | None:
    """The live detector called under one lock: each worker's reader thread calls it."""
    if callback is None:
        return None
    lock = threading.Lock()

    def call(obs: Observation) -> None:
        with lock:
            callback(obs)

    return call
