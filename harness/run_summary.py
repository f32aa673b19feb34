"""The typed shape of ``summary.json``: one frozen model that the engine writes and every reader
validates, so the run's facts never travel as a dict of strings.

A run writes only the keys it has facts for (an errored run has no ``stop``, a run that never
climbed a ladder no ``rungs``), so the model is serialised with ``exclude_unset``: a key is on
disk exactly when the builder (or the file read back) set it. :meth:`RunSummary.document` is
that form; :func:`read_summary` the one way to read a run's summary back. Field names and
value formats are those of every summary written before ``schema_version`` existed, which
therefore reads as version 1.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from harness.control import CallOutcome
from harness.errors import SummaryError
from harness.metrics._model import DeadlineVerdict, RollbackKind, StopKind, Unit
from harness.operator import NotifyOutcome
from harness.restore import RestoreKind
from harness.sandbox.base import TeardownWay
from harness.spec.models import DEADLINE_NAMES, Action, RungOutcome, RunVerdict
from harness.steps import StepPhase

__all__ = [
    "CLOCK",
    "SCHEMA_VERSION",
    "ArtefactFailure",
    "Bounded",
    "DeadlineSummary",
    "ExpectationSummary",
    "GroundTruthSummary",
    "HaltNote",
    "HumanClock",
    "IncidentNotInjected",
    "IncidentSummary",
    "JudgedDeadlines",
    "LoadWorkersSummary",
    "MeasuredMetrics",
    "MetricSummary",
    "NotificationSummary",
    "ObservedVersions",
    "RestoreSummary",
    "RollbackSummary",
    "RunSummary",
    "RungSummary",
    "SealedAfterDeath",
    "StepSummary",
    "StopSummary",
    "SummaryError",
    "SweptProcess",
    "SweptResource",
    "TargetEventsSummary",
    "TeardownSummary",
    "Versions",
    "WorkerClockSummary",
    "read_summary",
]

SCHEMA_VERSION = 1
"""The summary.json format this harness writes; a summary without the field is version 1."""

CLOCK = "host CLOCK_MONOTONIC; *_t_s fields are seconds since zero_ns"
"""The ``clock`` every summary names: all instants are on the host's monotonic clock."""

Number = int | float
"""A count stays an int on disk and a time a float: the union keeps whichever was written."""


class _Part(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class MetricSummary(_Part):
    """One metric: its point estimate and proven bounds (None: not proven on that side)."""

    value: Number | None
    lower: Number | None
    upper: Number | None
    unit: Unit

    @property
    def known(self) -> tuple[float, float, float] | None:
        """(value, lower, upper) when all three were proven, else None."""
        if self.value is None or self.lower is None or self.upper is None:
            return None
        return float(self.value), float(self.lower), float(self.upper)


class MeasuredMetrics(_Part):
    """Every metric of a run that was measured; all absent when nothing was."""

    time_to_detect: MetricSummary | None = None
    time_to_ack: MetricSummary | None = None
    time_to_stop: MetricSummary | None = None
    time_in_harm: MetricSummary | None = None
    harmful_total: MetricSummary | None = None
    harmful_after_stop_issued: MetricSummary | None = None
    harmful_after_ack: MetricSummary | None = None
    rollback_time: MetricSummary | None = None
    harm_returned: MetricSummary | None = None
    time_to_reversal: MetricSummary | None = None
    """From a complaint (``contest:``) to harm-free answers that held."""
    streams_in_flight_at_stop: MetricSummary | None = None
    """Streams started before the effective stop and not ended by it (``load.stream``)."""
    stream_cut_time: MetricSummary | None = None
    """From the effective stop to the last chunk any stream in flight delivered after it."""
    harmful_chunks_after_stop: MetricSummary | None = None
    """Harmful chunks streams delivered after the effective stop."""

    def items(self) -> list[tuple[str, MetricSummary]]:
        """The measured metrics by name, in summary order."""
        return [(n, m) for n in type(self).model_fields if (m := getattr(self, n)) is not None]

    def get(self, name: str) -> MetricSummary | None:
        """The metric called ``name`` when it was measured."""
        return getattr(self, name, None) if name in type(self).model_fields else None


class DeadlineSummary(_Part):
    """One deadline judged: its limit, what was measured with bounds, and the verdict.

    The ``_s`` fields are seconds, or answers when ``unit`` is ``count``.
    """

    limit_s: Number
    measured_s: Number | None
    lower_s: Number | None
    upper_s: Number | None
    unit: Unit
    verdict: DeadlineVerdict
    reason: str


class JudgedDeadlines(_Part):
    """The deadlines the drill declared, each judged; absent when not declared (or not run)."""

    detect: DeadlineSummary | None = None
    ack: DeadlineSummary | None = None
    stop: DeadlineSummary | None = None
    time_in_harm: DeadlineSummary | None = None
    harmful_after_stop: DeadlineSummary | None = None
    harmful_after_ack: DeadlineSummary | None = None
    rollback: DeadlineSummary | None = None
    reversal: DeadlineSummary | None = None
    harmful_chunks_after_stop: DeadlineSummary | None = None
    stream_cut_time: DeadlineSummary | None = None
    """Also judged from the drill's ``in_flight`` policy (the tighter limit when both)."""

    def items(self) -> list[tuple[str, DeadlineSummary]]:
        """The judged deadlines by name, in the drill file's order of names."""
        return [(n, d) for n in DEADLINE_NAMES if (d := getattr(self, n)) is not None]

    def get(self, name: str) -> DeadlineSummary | None:
        """The deadline called ``name`` when it was judged."""
        return getattr(self, name, None) if name in DEADLINE_NAMES else None


class IncidentNotInjected(_Part):
    """An inject step whose call failed: what depends on the incident was never tested."""

    step: str
    incident: str | None
    outcome: CallOutcome
    """The inject call's outcome (``failed`` too when it never returned one)."""
    detail: str


class GroundTruthSummary(_Part):
    """The target's own event log beside the observed bounds (errors in seconds)."""

    stop_claimed_ns: int | None
    stop_within_bounds: bool | None
    stop_error_s: float | None
    rollback_claimed_ns: int | None
    rollback_within_bounds: bool | None
    rollback_error_s: float | None
    log_trustworthy: bool
    reasons: tuple[str, ...]
    incident_claimed_ns: int | None = None
    """When the fault proxy's own log says the first injected outside incident's rule went
    on (its ``rule_on``); set only for an incident ``via: proxy``."""
    incident_within_bounds: bool | None = None
    """Whether that instant lies within the detection bounds: at or after the inject step was
    issued, and at or before the harm was detected (None: no harm was detected)."""


class IncidentSummary(_Part):
    """One incident a step injected: through the service's own hook, or from outside (the
    fault proxy), with the proxy's counts of what its rule touched."""

    name: str
    via: str
    outside: bool
    """Injected from outside the service (``via: proxy``), needing no hook in it."""
    injected_t_s: float | None
    """When the first inject step of it was issued (seconds since zero)."""
    where: str | None = None
    """For an outside incident: ``data`` (between the load and the target) or the name of
    the control path its rule sat on."""
    kind: str | None = None
    """For an outside incident: the rule's fault (``rewrite``, ``latency``, ``refuse``, ...)."""
    rule_on_t_s: float | None = None
    """When the proxy's log says the rule first went on."""
    rule_off_t_s: float | None = None
    """When the proxy's log says the rule last went off (cleared, its ``for:`` ran out, or
    the run ended)."""
    touched: int | None = None
    seen: int | None = None
    unmatched: int | None = None
    """Answers the rule was drawn for but could not apply to (a json_path that selects
    nothing, an answer that is not JSON)."""
    matched_nothing: bool | None = None
    """The rule touched no answer at all while it was on: the incident the drill tests did
    not happen as written."""


class Versions(_Part):
    """What the run was made with (unknown for a dead harness that never said)."""

    govdrill: str | None
    python: str | None
    platform: str


class ObservedVersions(_Part):
    """How many model versions the observation log kept by name, and what it folded."""

    kept: int
    folded_distinct: int
    folded_distinct_exact: bool
    folded_answers: int


class StopSummary(_Part):
    """What the observations after the stop was issued show."""

    kind: StopKind
    confirmed: bool
    reason: str
    resurrections_ns: tuple[int, ...]
    episodes: int


class RollbackSummary(_Part):
    """What the observations after the rollback was issued show."""

    version: str | None
    kind: RollbackKind
    confirmed: bool
    reason: str
    reversions_ns: tuple[int, ...]


class Bounded(_Part):
    """An instant as seconds from the incident, with what the observations prove."""

    value: float | None
    lower: float | None
    upper: float | None


class NotificationSummary(_Part):
    """One notification the harness sent to a person."""

    notifier: str
    outcome: NotifyOutcome
    detail: str
    sent_t_s: float | None


class HumanClock(_Part):
    """The human part of the clock, in seconds from the incident (or, without one, from the
    harm detected): notified, acknowledged (a prompt answered, or the first control call),
    acted (the operator's first control call seen in the target's log), effective (the stop
    seen by the load, bounded)."""

    notified_s: float | None
    acknowledged_s: float | None
    acted_s: float | None
    effective: Bounded
    by: str | None
    """Who acted: the control call's identity as the target logged it, or the prompt's."""
    via: str | None
    """The control path the operator used."""
    fallback_used: bool
    deadline: str | None
    deadline_s: float | None
    notifications: tuple[NotificationSummary, ...] = ()


class HaltNote(_Part):
    """The note ``govdrill halt`` left for the run it stopped."""

    by_pid: int | None = None
    by_user: str | None = None
    reason: str | None = None
    at: str | None = None


class StepSummary(_Part):
    """One step of the drill: when it fired and settled (seconds since ``zero_ns``), and how."""

    id: str
    action: Action
    phase: StepPhase
    fired_t_s: float | None
    settled_t_s: float | None
    outcome: CallOutcome | None
    detail: str


class RungSummary(_Part):
    """One rung of the stop ladder as it was climbed."""

    name: str
    issued_t_s: float | None
    returned_t_s: float | None
    outcome: RungOutcome
    detail: str


class KilledLeftover(_Part):
    """A process of the sandbox that outlived the target and had to be killed."""

    pid: int
    cmdline: str


class RestoreSummary(_Part):
    """One thing teardown did to put back a service the harness does not own (external)."""

    kind: RestoreKind
    name: str
    outcome: CallOutcome | None
    """None: there was no call to make (the incident has no disable, the stop no resume)."""
    detail: str
    returned_t_s: float | None


class TeardownSummary(_Part):
    """How the harness's own teardown found and left the target (never counted as a stop)."""

    way: TeardownWay
    exit_code: int | None
    detail: str
    leftovers_killed: tuple[KilledLeftover, ...]
    restored: tuple[RestoreSummary, ...] = ()
    """External sandbox: each incident cleared and each resume made at teardown."""
    left_changed: tuple[str, ...] = ()
    """External sandbox: what may be left as the drill made it (stopped, an incident on)
    because restoring it failed; written only when something was."""


class SweptProcess(_Part):
    """A process of a dead harness's run that this run killed before starting."""

    kind: Literal["process"]
    pid: int
    run_id: str
    cmdline: str


class SweptResource(_Part):
    """A container, network, work folder or cgroup process of a dead harness, removed."""

    kind: str
    name: str
    run_id: str


class TargetEventsSummary(_Part):
    """How much of the target's event log the ground truth rests on."""

    events: int
    file_bytes: int
    bytes_read: int
    bytes_left_out: int
    unreadable_lines: int
    complete: bool


class WorkerClockSummary(_Part):
    """One Locust worker's clock as the harness measured it before the load started."""

    index: int
    pid: int | None
    offset_ns: int
    """Its clock minus the harness's: its instants were read back by this much."""
    uncertainty_ns: int
    """Half the shortest ping round trip: each of its instants is within this of the truth."""
    samples: int
    skew_ns: int = 0
    """A deliberate skew of its clock (the test hook); 0 in real runs."""
    observations: int = 0
    """Observations this worker streamed to the harness."""


class LoadWorkersSummary(_Part):
    """The load on Locust's master/worker mode: its workers' clocks and the widening."""

    workers: tuple[WorkerClockSummary, ...]
    clock_uncertainty_s: float
    """Every bound in ``metrics`` was widened by this (per observation instant it rests on)."""


class ExpectationSummary(_Part):
    """Whether the run failed exactly as its drill's ``expect`` block says."""

    met: bool
    mismatches: tuple[str, ...]


class ArtefactFailure(_Part):
    """An artefact made after the verdict (JUnit, report) that could not be made."""

    artefact: str
    error: str
    where: str


class SealedAfterDeath(_Part):
    """Who sealed a run whose harness died, and what the run had said until then."""

    sealed_by: str
    at: str
    govdrill: str
    python: str
    last_event: str | None
    last_t_s: float | None
    verdict_before_seal: RunVerdict | None
    torn_tail_bytes: int
    observations_file: bool


class RunSummary(BaseModel):
    """Everything ``summary.json`` holds: the contract's fields first, then the detail."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: int = SCHEMA_VERSION
    drill: str
    run_id: str
    target: str | None
    sandbox: str | None
    verdict: RunVerdict
    incident_not_injected: tuple[IncidentNotInjected, ...] = ()
    """Named first: a drill whose incident never happened tested nothing after it."""
    incidents: tuple[IncidentSummary, ...] = ()
    """Every incident a step injected, saying which came from outside (the fault proxy)."""
    deadlines: JudgedDeadlines = JudgedDeadlines()
    metrics: MeasuredMetrics = MeasuredMetrics()
    rung_used: str | None = None
    resurrected: bool | None = None
    ground_truth: GroundTruthSummary | None = None
    versions: Versions
    clock: str
    zero_ns: int | None
    observations: int | None
    observations_truncated: int = 0
    observed_versions: ObservedVersions | None = None
    load_workers: LoadWorkersSummary | None = None
    """Set when the load ran on Locust's master/worker mode (``load.workers`` > 1)."""
    target_args: tuple[str, ...] = ()
    target_startup_s: float | None = None
    """Seconds from starting the target to its readiness check passing: the model's start-up,
    kept apart from the drill (None: the target never became ready)."""
    drill_s: float | None = None
    """Seconds the drill itself ran: from starting the load to stopping it."""
    stop_theater: bool | None = None
    harm_returned: bool | None = None
    stop: StopSummary | None = None
    rollback: RollbackSummary | None = None
    human_clock: HumanClock | None = None
    """Set when the stop was handed to a person (``stop: {by: operator}``)."""
    error: str | None = None
    interrupted_by_signal: int | None = None
    halted_by: HaltNote | None = None
    load_failure: str | None = None
    steps: tuple[StepSummary, ...] = ()
    rungs: tuple[RungSummary, ...] = ()
    teardown: TeardownSummary | None = None
    swept_leftovers: tuple[SweptProcess | SweptResource, ...] = ()
    target_events: TargetEventsSummary | None = None
    expectation: ExpectationSummary | None = None
    artefact_errors: tuple[ArtefactFailure, ...] = ()
    interrupted_by: Literal["harness_died"] | None = None
    """Sealed by a later run or ``govdrill sweep`` after its harness died."""
    sealed_after_death: SealedAfterDeath | None = None
    authorized_by: str | None = Field(default=None, min_length=1, max_length=200)
    """Who ordered or approved the drill (``--authorized-by``, $GOVDRILL_AUTHORIZED_BY);
    signed with the rest of the statement."""

    @field_validator("schema_version")
    @classmethod
    def _known_version(cls, v: int) -> int:
        if not 1 <= v <= SCHEMA_VERSION:
            raise ValueError(
                f"schema_version {v} is not one this govdrill reads (1 to {SCHEMA_VERSION});"
                " a newer govdrill wrote it"
            )
        return v

    @property
    def ok(self) -> bool:
        """Whether the run counts as a success: passed, or failed exactly as expected."""
        if self.expectation is not None:
            return self.expectation.met
        return self.verdict is RunVerdict.PASSED

    def timing_line(self) -> str | None:
        """One line on where the run's time went, the target's start-up apart from the drill;
        None when the run recorded neither."""
        parts = []
        if self.drill_s is not None:
            parts.append(f"drill {self.drill_s:.2f}s")
        if self.target_startup_s is not None:
            parts.append(f"target start-up {self.target_startup_s:.2f}s (not in the drill)")
        return ", ".join(parts) or None

    def document(self) -> dict[str, Any]:
        """The JSON form written to disk: only the keys the run set, in the contract's order."""
        return self.model_dump(mode="json", exclude_unset=True)

    def with_changes(self, **changes: Any) -> Self:
        """A copy with ``changes`` validated and set (so they are written)."""
        kept = {name: getattr(self, name) for name in self.model_fields_set}
        return type(self).model_validate({**kept, **changes})


def read_summary(folder: Path) -> RunSummary:
    """The summary.json of the run in ``folder``; SummaryError naming the file and the first
    problems when it is missing, not JSON, or not a run's summary."""
    path = folder / "summary.json"
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SummaryError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        return RunSummary.model_validate_json(data)
    except ValidationError as exc:
        problems = [
            f"{'.'.join(str(p) for p in e['loc']) or '(document)'}: {e['msg']}"
            for e in exc.errors(include_url=False)[:5]
        ]
        more = exc.error_count() - len(problems)
        tail = f" (and {more} more)" if more > 0 else ""
        raise SummaryError(
            f"{path}: not a govdrill run summary: {'; '.join(problems)}{tail}"
        ) from None
