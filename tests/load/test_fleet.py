"""Locust's master/worker mode end to end: real master and worker children, real HTTP to a
real server, both workers' observations in one log on the harness's clock."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from harness.load.config import LoadConfig
from harness.load.fleet import LoadFleet
from harness.load.process import LoadStatus
from harness.observations import Observation, ObservationLog

pytestmark = pytest.mark.slow

READY_TIMEOUT_S = 60.0
MS = 1_000_000
SKEWS = (250 * MS, -400 * MS)

Wait = Callable[..., bool]


@pytest.fixture
def fleet_of(
    drill_load_config: Callable[..., LoadConfig], drill_log: ObservationLog, tmp_path: Path
) -> Iterator[Callable[..., LoadFleet]]:
    """Start a ready fleet of two workers (keyword arguments go to LoadFleet); stopped after."""
    started: list[LoadFleet] = []

    def start(**kw: object) -> LoadFleet:
        fleet = LoadFleet(
            config=drill_load_config(users=4, workers=2),
            log=drill_log,
            stderr_path=tmp_path / "load.stderr.log",
            **kw,  # type: ignore[arg-type]
        )
        started.append(fleet)
        fleet.start()
        fleet.wait_ready(READY_TIMEOUT_S)
        return fleet

    yield start
    for fleet in started:
        fleet.stop()


def test_both_workers_stream_into_one_log(
    fleet_of: Callable[..., LoadFleet], drill_log: ObservationLog, drill_wait_for: Wait
) -> None:
    """Each worker contributes observations, the master none; the callback sees every one,
    and every count adds up after a clean stop."""
    seen: list[Observation] = []
    fleet = fleet_of(on_observation=seen.append)
    assert fleet.users_spawned == 4
    assert [w.users_spawned for w in fleet.workers] == [2, 2]
    assert drill_wait_for(lambda: all(w.observations_read >= 30 for w in fleet.workers), 20.0)
    assert fleet.health().status is LoadStatus.RUNNING
    assert fleet.observed_rate(0.5) > 50  # 4 users x 50 req/s
    assert fleet.stop() == 0
    assert fleet.health().status is LoadStatus.STOPPED
    assert fleet.master.observations_read == 0 and fleet.master.observations_announced == 0
    assert all(w.returncode == 0 for w in fleet.workers)
    counts = [w.observations_read for w in fleet.workers]
    assert fleet.observations_announced == fleet.observations_read == sum(counts) == len(drill_log)
    assert [c.observations for c in fleet.clocks] == counts
    assert sorted(o.to_line() for o in seen) == sorted(o.to_line() for o in drill_log)
    assert fleet.error is None and fleet.malformed_lines == 0


def test_skewed_workers_are_read_back_onto_the_harness_clock(
    fleet_of: Callable[..., LoadFleet], drill_log: ObservationLog, drill_wait_for: Wait
) -> None:
    """Workers whose clocks run +250 ms and -400 ms off: each offset is estimated within its
    uncertainty, and their observations land on the harness's clock, none in the future."""
    started = time.monotonic_ns()
    fleet = fleet_of(skews_ns=SKEWS)
    for clock, skew in zip(fleet.clocks, SKEWS, strict=True):
        assert abs(clock.offset_ns - skew) <= clock.uncertainty_ns, clock
        assert clock.samples >= 10 and clock.skew_ns == skew
        assert clock.uncertainty_ns < 50 * MS  # a loaded 2-core machine, loopback pipes
    assert fleet.clock_uncertainty_ns == max(c.uncertainty_ns for c in fleet.clocks)
    assert drill_wait_for(lambda: all(w.observations_read >= 20 for w in fleet.workers), 20.0)
    now = time.monotonic_ns()
    u = fleet.clock_uncertainty_ns
    rows = list(drill_log)
    assert all(started - u <= o.start_ns <= o.end_ns <= now + u for o in rows)


def test_a_killed_worker_is_dead_within_a_second(fleet_of: Callable[..., LoadFleet]) -> None:
    """SIGKILL one worker: the fleet reports DEAD, naming it, within 1 s of the kill."""
    fleet = fleet_of()
    victim = fleet.workers[1]
    assert victim.pid is not None and fleet.health().status is LoadStatus.RUNNING
    killed = time.monotonic_ns()
    os.kill(victim.pid, signal.SIGKILL)
    while (health := fleet.health()).status is LoadStatus.RUNNING:
        assert time.monotonic_ns() - killed < 5_000_000_000, "the loss was never noticed"
        time.sleep(0.005)
    noticed = time.monotonic_ns() - killed
    assert health.status is LoadStatus.DEAD
    assert health.detail.startswith(f"worker 1 (pid {victim.pid})"), health.detail
    assert noticed < 1_000_000_000, noticed


def test_a_frozen_worker_stalls_within_a_second(fleet_of: Callable[..., LoadFleet]) -> None:
    """SIGSTOP one worker: its missing heartbeats make the fleet STALLED within about 1 s."""
    fleet = fleet_of()
    victim = fleet.workers[0]
    assert victim.pid is not None
    frozen = time.monotonic_ns()
    os.kill(victim.pid, signal.SIGSTOP)
    try:
        while (health := fleet.health()).status is LoadStatus.RUNNING:
            assert time.monotonic_ns() - frozen < 5_000_000_000, "the stall was never noticed"
            time.sleep(0.005)
        noticed = time.monotonic_ns() - frozen
    finally:
        os.kill(victim.pid, signal.SIGCONT)
    assert health.status is LoadStatus.STALLED and health.detail.startswith("worker 0")
    # Stalled once no heartbeat came for 1 s; the last one came before the freeze.
    assert noticed < 1_100_000_000, noticed
