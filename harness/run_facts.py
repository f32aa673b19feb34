"""What a finished run hands to its analysis: the facts, frozen once the target is torn down.

The engine fills a :class:`RunFacts` at the end of a run from its own mutable state, and the
summary is built from it alone, so nothing downstream depends on the engine's private state.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.incident_proxies import ProxyEvidence
from harness.load.fleet import WorkerClock
from harness.observations import ObservationLog
from harness.restore import Restored
from harness.run_summary import HaltNote, SweptProcess, SweptResource
from harness.sandbox.base import TeardownReport
from harness.spec.models import Drill
from harness.steps import Steps
from harness.target_events import TargetEvents

__all__ = ["RunFacts"]


@dataclass(frozen=True, slots=True, kw_only=True)
class RunFacts:
    """One run's facts on the host's monotonic clock, as the engine recorded them."""

    drill: Drill
    run_id: str
    zero_ns: int
    log: ObservationLog
    """Every observation of the load (complete: the load has stopped)."""
    steps: Steps | None
    """The drill's steps as they ended; None when the run never reached them."""
    detected_ns: int | None
    load_start_ns: int | None
    load_end_ns: int | None
    load_failed_ns: int | None
    load_failure: str
    teardown: TeardownReport | None
    restored: Restored | None = None
    """What teardown put back in a service the harness does not own (external only)."""
    swept: tuple[SweptProcess | SweptResource, ...]
    """Leftovers of dead harnesses this run removed before it started."""
    error: str | None
    """The harness's own failure, already redacted."""
    interrupted_by_signal: int | None
    halted_by: HaltNote | None
    target_events: TargetEvents
    target_starting_ns: int | None = None
    """When the harness asked the sandbox to start the target."""
    target_ready_ns: int | None = None
    """When the target passed its readiness check (None: it never did)."""
    proxies: tuple[ProxyEvidence, ...] = ()
    """The fault proxies of incidents injected from outside, as they were closed."""
    load_workers: tuple[WorkerClock, ...] = ()
    """Each Locust worker's measured clock (``load.workers`` > 1); empty for one load child."""
    clock_uncertainty_ns: int = 0
    """How far a worker's instant may be from the harness's clock (the largest half round
    trip over the workers): every bound is widened by it. 0 for one local load child."""

    @property
    def target_startup_s(self) -> float | None:
        """The target's start-up in seconds, when it became ready."""
        if self.target_starting_ns is None or self.target_ready_ns is None:
            return None
        return (self.target_ready_ns - self.target_starting_ns) / 1e9

    @property
    def drill_s(self) -> float | None:
        """How long the drill ran with load, start-up excluded (None: the load never ran)."""
        if self.load_start_ns is None or self.load_end_ns is None:
            return None
        return (self.load_end_ns - self.load_start_ns) / 1e9

    @property
    def measured(self) -> bool:
        """Whether the load ran with the steps: without both there is nothing to analyse."""
        return self.steps is not None and self.load_start_ns is not None
