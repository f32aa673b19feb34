"""The one place that decides how a drill's load runs: one Locust child, or a master and workers.

``load.workers: 1`` (the default) is one :class:`~harness.load.process.LoadProcess`, exactly as
before; more is a :class:`~harness.load.fleet.LoadFleet` on Locust's master/worker mode.

Test hook: ``GOVDRILL_TEST_CLOCK_SKEWS`` (comma-separated nanoseconds, one per worker) makes
each worker add that skew to every instant it writes, so a test can give workers clocks that
are off by a known amount; the fleet records the skews in the timeline (``load_workers``).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Final

from harness.errors import LoadError
from harness.load.config import LoadConfig
from harness.load.fleet import Emit, LoadFleet
from harness.load.process import LoadProcess
from harness.load.warm import SpawnedLoadChild
from harness.observations import Observation, ObservationLog

__all__ = ["SKEWS_ENV", "Load", "make_load"]

SKEWS_ENV: Final = "GOVDRILL_TEST_CLOCK_SKEWS"

Load = LoadProcess | LoadFleet
"""What the engine drives: both offer start, wait_ready, health, observed_rate and stop."""


def make_load(
    *,
    config: LoadConfig,
    log: ObservationLog,
    stderr_path: Path,
    on_observation: Callable[[Observation], None] | None = None,
    clock: Callable[[], int] = time.monotonic_ns,
    labels: Mapping[str, str] | None = None,
    emit: Emit | None = None,
    child: SpawnedLoadChild | None = None,
) -> Load:
    """One load child for ``config.workers == 1``, else a Locust master and its workers;
    ``child``, spawned ahead of the run, is the single child or the master."""
    if config.workers == 1:
        return LoadProcess(
            config=config,
            log=log,
            stderr_path=stderr_path,
            on_observation=on_observation,
            clock=clock,
            labels=labels,
            child=child,
        )
    return LoadFleet(
        config=config,
        log=log,
        stderr_path=stderr_path,
        on_observation=on_observation,
        clock=clock,
        labels=labels,
        skews_ns=_test_skews(config.workers),
        emit=emit,
        master_child=child,
    )


def _test_skews(workers: int) -> tuple[int, ...]:
    text = os.environ.get(SKEWS_ENV, "").strip()
    if not text:
        return ()
    try:
        skews = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise LoadError(f"{SKEWS_ENV}={text!r}: not comma-separated nanoseconds") from None
    if len(skews) != workers:
        raise LoadError(f"{SKEWS_ENV} gives {len(skews)} skews for {workers} workers")
    return skews
