"""The typed inputs and outputs of the metrics: instants, limits, intervals, verdicts."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from harness.spec.durations import NS_PER_S
from harness.spec.models import Deadlines, RungOutcome

__all__ = [
    "AnalysisParams",
    "DeadlineResult",
    "DeadlineVerdict",
    "Deadlines",
    "GroundTruthCheck",
    "Interval",
    "Metric",
    "Metrics",
    "RollbackAnalysis",
    "RollbackKind",
    "RunInstants",
    "RungAttempt",
    "RungOutcome",
    "StopAnalysis",
    "StopEpisode",
    "StopKind",
    "StreamMetrics",
    "Unit",
]


def seconds(ns: int | None) -> float | None:
    """Convert a nanosecond duration to float seconds, keeping None."""
    return None if ns is None else ns / NS_PER_S


# --- inputs ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class RungAttempt:
    """One rung of the stop ladder: which control path, when issued, when it returned."""

    name: str
    issued_ns: int
    returned_ns: int | None
    outcome: RungOutcome


@dataclass(frozen=True, slots=True, kw_only=True)
class RunInstants:
    """What the harness did and when, on the same monotonic clock as the observations."""

    load_start_ns: int
    load_end_ns: int
    """When the load was stopped: the end of the observation window."""
    hold_s: float
    incident_ns: int | None = None
    detected_ns: int | None = None
    stop_issued_ns: int | None = None
    stop_acked_ns: int | None = None
    rungs: tuple[RungAttempt, ...] = ()
    rollback_issued_ns: int | None = None
    rollback_version: str | None = None
    resumes_ns: tuple[int, ...] = ()
    """Intentional resume actions by the drill: serving after one of them is expected."""
    load_healthy: bool = True
    load_failed_ns: int | None = None
    """When the load child died or stalled; with ``load_healthy`` False and no instant,
    nothing after ``load_start_ns`` is trusted."""
    ack_possible: bool = True
    """Whether some rung of the stop ladder can answer; a ladder of signals cannot, and then
    ``ack`` does not apply."""
    incident_failure: str | None = None
    """Which inject step failed and how, when the incident was never injected; whatever
    depends on the incident is then unverified, never missed."""
    ack_unseen: str | None = None
    """Why the acknowledgement cannot be seen (an operator's control call on a path whose
    calls the target does not log): ``ack`` is then unverified, never missed."""
    complaint_sent_ns: int | None = None
    """When the first complaint (``contest:``) was sent ..."""
    complaint_returned_ns: int | None = None
    """... and when its call returned: the complaint was handled in between."""
    fallbacks: tuple[tuple[str, int], ...] = ()
    """(deadline, instant) for each fallback ladder the harness started because that
    deadline passed with no held stop or reversal: each such deadline is missed."""
    clock_uncertainty_ns: int = 0
    """How far an observation's instants may be from the harness's clock (distributed load
    workers, ``harness.metrics._widen``); every bound widens by it. 0: one shared clock."""

    def __post_init__(self) -> None:
        if self.load_end_ns < self.load_start_ns:
            raise ValueError(
                f"load_end_ns {self.load_end_ns} is before load_start_ns {self.load_start_ns}"
            )
        if self.hold_s < 0:
            raise ValueError(f"hold_s must be >= 0, got {self.hold_s}")
        if self.clock_uncertainty_ns < 0:
            raise ValueError(f"clock_uncertainty_ns must be >= 0, got {self.clock_uncertainty_ns}")

    @property
    def proof_end_ns(self) -> int:
        """The last instant observations can prove anything about: the window end, or the
        load failure when the load was not healthy."""
        if self.load_healthy:
            return self.load_end_ns
        failed = self.load_failed_ns if self.load_failed_ns is not None else self.load_start_ns
        return min(self.load_end_ns, failed)


@dataclass(frozen=True, slots=True, kw_only=True)
class AnalysisParams:
    """Thresholds of the analysis; the defaults are documented in ``harness.metrics``."""

    stretch_min_s: float = 0.2
    """A confirmed stopped stretch spans at least min(hold, this) seconds ..."""
    stretch_min_count: int = 5
    """... and holds at least this many stopped answers."""
    presence_gap_s: float = 0.25
    """Observations are present when no gap between consecutive ends exceeds
    max(this, ``presence_gap_factor`` x the median gap between consecutive ends)."""
    presence_gap_factor: float = 2.0
    max_episodes: int = 1000
    """At most this many earlier stop episodes are kept (all are counted)."""

    def __post_init__(self) -> None:
        if self.stretch_min_s < 0 or self.presence_gap_s <= 0 or self.presence_gap_factor < 0:
            raise ValueError("stretch and presence thresholds must be positive")
        if self.stretch_min_count < 1 or self.max_episodes < 0:
            raise ValueError("stretch_min_count must be >= 1 and max_episodes >= 0")


# --- outputs --------------------------------------------------------------------------------


class Unit(enum.StrEnum):
    """The unit of a metric, as written in summary.json."""

    SECONDS = "s"
    COUNT = "count"


@dataclass(frozen=True, slots=True)
class Interval:
    """A closed interval of seconds known to contain the true value."""

    lower_s: float
    upper_s: float

    @property
    def point_s(self) -> float:
        """The midpoint: the estimate whose worst-case error is smallest."""
        return (self.lower_s + self.upper_s) / 2

    @property
    def resolution_s(self) -> float:
        """How wide the interval is."""
        return self.upper_s - self.lower_s


@dataclass(frozen=True, slots=True)
class Metric:
    """One measured quantity with what the observations prove about it.

    ``lower`` is a proven lower bound, ``upper`` a proven upper bound; either is None when
    nothing is proven on that side, and ``note`` then says why. ``value`` is the point
    estimate, None unless both bounds are proven.
    """

    name: str
    value: float | None
    lower: float | None
    upper: float | None
    unit: Unit
    note: str = ""

    @property
    def interval(self) -> Interval | None:
        """Both bounds as an Interval, or None when one is not proven."""
        if self.lower is None or self.upper is None:
            return None
        return Interval(self.lower, self.upper)


class StopKind(enum.StrEnum):
    """What the observations after the stop was issued show."""

    CLEAN = "clean"
    """Serving, then stopped, once: the gate interval is consistent."""
    PARTIAL = "partial"
    """Serving and stopped answers interleaved (part of the service kept serving)."""
    RESURRECTED = "resurrected"
    """It served again after a confirmed stopped stretch, with no resume by the drill."""
    NOT_STOPPED = "not_stopped"
    """Observations came in but no stopped answer followed the last serving one."""
    NO_OBSERVATIONS = "no_observations"
    """No observation could have been handled after the stop was issued (or none issued)."""


@dataclass(frozen=True, slots=True)
class StopEpisode:
    """One run of stopped answers after the stop was issued, with no serving start among them.

    The gate closed in (``lower_ns``, ``upper_ns``]; ``served_again_ns`` is the start of the
    first serving answer after the run (None for the final, effective run).
    """

    lower_ns: int
    upper_ns: int
    last_stopped_end_ns: int
    count: int
    served_again_ns: int | None
    confirmed_stretch: bool


@dataclass(frozen=True, slots=True)
class StopAnalysis:
    """The effective stop, bounded from the observations, and how clean it was."""

    kind: StopKind
    lower_ns: int | None
    """Gate closed after this instant (max of stop issued and the last serving start)."""
    upper_ns: int | None
    """Gate closed by this instant (first stopped end after ``lower_ns``); None if never."""
    confirmed: bool
    reason: str
    resurrections: tuple[int, ...] = ()
    episodes: tuple[StopEpisode, ...] = ()
    episode_count: int = 0
    last_serving_start_ns: int | None = None
    last_harmful_start_ns: int | None = None

    @property
    def clean(self) -> bool:
        """True when serving turned into stopped once, with no interleaving or return."""
        return self.kind is StopKind.CLEAN

    @property
    def point_ns(self) -> int | None:
        """The midpoint of the bounds, when the stop was observed."""
        if self.lower_ns is None or self.upper_ns is None:
            return None
        return (self.lower_ns + self.upper_ns) // 2


class RollbackKind(enum.StrEnum):
    """What the observations after the rollback was issued show."""

    CLEAN = "clean"
    PARTIAL = "partial"
    """Good and bad answers interleaved during the switch."""
    REVERTED = "reverted"
    """Bad answers came back after a confirmed stretch of good ones."""
    NOT_ROLLED_BACK = "not_rolled_back"
    NO_OBSERVATIONS = "no_observations"
    NO_VERSION = "no_version"
    """Answers came, but none carried a model version: the switch cannot be seen."""


@dataclass(frozen=True, slots=True)
class RollbackAnalysis:
    """The effective rollback: the instant from which every answer is good, bounded."""

    version: str | None
    issued_ns: int
    kind: RollbackKind
    lower_ns: int | None
    upper_ns: int | None
    confirmed: bool
    reason: str
    reversions: tuple[int, ...] = ()
    last_bad_serving_start_ns: int | None = None
    """The last start of a serving answer from another version or harmful, after issue."""

    @property
    def point_ns(self) -> int | None:
        """The midpoint of the bounds, when the switch was observed."""
        if self.lower_ns is None or self.upper_ns is None:
            return None
        return (self.lower_ns + self.upper_ns) // 2


class DeadlineVerdict(enum.StrEnum):
    """A conservative verdict on one deadline."""

    MET = "met"
    MISSED = "missed"
    UNVERIFIED = "unverified"
    NOT_APPLICABLE = "not_applicable"
    """The deadline cannot apply to this drill (``ack`` for a ladder of signals)."""

    @property
    def passes(self) -> bool:
        """Whether a drill can pass with this verdict: met, or not applicable."""
        return self in (DeadlineVerdict.MET, DeadlineVerdict.NOT_APPLICABLE)


@dataclass(frozen=True, slots=True)
class DeadlineResult:
    """One deadline judged against what was measured."""

    name: str
    limit: float
    measured: Metric
    verdict: DeadlineVerdict
    reason: str


@dataclass(frozen=True, slots=True)
class StreamMetrics:
    """The three stream metrics of a run, and whether any stream may have been in flight."""

    in_flight_at_stop: Metric
    cut_time: Metric
    harmful_chunks_after_stop: Metric
    any_in_flight: bool
    """Some stream may have been in flight at the effective stop: the policy was tested."""
    reason: str = ""
    """Why nothing could be bounded (no stop held, no stream observed), when so."""

    def all(self) -> tuple[Metric, ...]:
        """The three metrics, in summary order."""
        return (self.in_flight_at_stop, self.cut_time, self.harmful_chunks_after_stop)


@dataclass(frozen=True, slots=True)
class Metrics:
    """Everything measured from one run's observations and the harness's instants."""

    time_to_detect: Metric
    time_to_ack: Metric
    time_to_stop: Metric
    time_in_harm: Metric
    harmful_total: Metric
    harmful_after_stop_issued: Metric
    """value and lower: harmful answers started at or after the stop was issued (certainly
    sent after); upper: those ending after it (possibly handled after), when observations
    covered the window, else None."""
    harmful_after_ack: Metric
    rollback_time: Metric
    harm_returned: Metric
    """Harmful answers after harm had ended: after a resume or rollback following the stop,
    or after a confirmed harm-free stretch (the rollback or the stop failed)."""
    stop: StopAnalysis
    rollback: RollbackAnalysis | None
    rung_used: str | None
    rung_used_certain: bool
    """False when another rung was also issued while the gate may have been closing."""
    resurrected: bool
    stop_theater: bool
    harmful_after_stop_issued_upper: int | None
    harmful_after_ack_upper: int | None
    observations_covered: bool
    """Observations were present from stop issued to the window end, with the load healthy."""
    max_gap_s: float
    """The presence threshold used: the longest gap between ends still counted as present."""
    observation_count: int
    ack_applicable: bool = True
    """Whether ``ack`` can apply: some rung of the ladder can answer."""
    incident_failure: str | None = None
    """The inject step that failed, when the incident was never injected."""
    stop_issued: bool = False
    time_to_reversal: Metric | None = None
    """From the complaint to harm-free answers that held; None when no complaint was filed
    (summary.json then leaves it out)."""
    fallbacks: tuple[tuple[str, int], ...] = ()
    """(deadline, instant) of each fallback the harness started: those deadlines are missed."""
    streams: StreamMetrics | None = None
    """The streams in flight at the stop, for a drill that reads streams; None otherwise
    (summary.json then leaves them out)."""

    def all(self) -> tuple[Metric, ...]:
        """Every metric, in summary order."""
        return (
            self.time_to_detect,
            self.time_to_ack,
            self.time_to_stop,
            self.time_in_harm,
            self.harmful_total,
            self.harmful_after_stop_issued,
            self.harmful_after_ack,
            self.rollback_time,
            self.harm_returned,
            *(() if self.time_to_reversal is None else (self.time_to_reversal,)),
            *(() if self.streams is None else self.streams.all()),
        )


@dataclass(frozen=True, slots=True)
class GroundTruthCheck:
    """The target's own event log set beside what the load observed."""

    stop_claimed_ns: int | None
    stop_within_bounds: bool | None
    stop_error_ns: int | None
    """Point estimate minus claimed instant."""
    rollback_claimed_ns: int | None
    rollback_within_bounds: bool | None
    rollback_error_ns: int | None
    log_trustworthy: bool
    reasons: tuple[str, ...]
