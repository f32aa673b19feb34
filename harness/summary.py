"""From a finished run's facts to its typed summary: the instants to analyse, then the fields."""

from __future__ import annotations

import dataclasses
import platform
import sys
from dataclasses import dataclass
from typing import Any

from harness import __version__
from harness.control import CallOutcome, ControlResult
from harness.incident_proxies import rule_kind
from harness.metrics import (
    DeadlineResult,
    GroundTruthCheck,
    Metric,
    Metrics,
    RungAttempt,
    RunInstants,
    analyse,
    check_ground_truth,
    judge,
    stream_metrics,
)
from harness.metrics._model import seconds
from harness.metrics._widen import widen_stop
from harness.run_facts import RunFacts
from harness.run_summary import (
    CLOCK,
    SCHEMA_VERSION,
    Bounded,
    DeadlineSummary,
    GroundTruthSummary,
    HumanClock,
    IncidentNotInjected,
    IncidentSummary,
    JudgedDeadlines,
    KilledLeftover,
    LoadWorkersSummary,
    MeasuredMetrics,
    MetricSummary,
    NotificationSummary,
    ObservedVersions,
    RestoreSummary,
    RollbackSummary,
    RungSummary,
    RunSummary,
    StepSummary,
    StopSummary,
    TargetEventsSummary,
    TeardownSummary,
    Versions,
    WorkerClockSummary,
)
from harness.spec.models import Action, RungOutcome, RunVerdict
from harness.steps import OperatorWait, ReversalWatch, StepPhase, Steps, StepState
from harness.target_events import read_events  # its home; kept importable from here

__all__ = [
    "OperatorAct",
    "RunAnalysis",
    "analyse_run",
    "build_instants",
    "build_summary",
    "judged_deadlines",
    "measured_metrics",
    "operator_acts",
    "read_events",
    "rung_outcome",
]


@dataclass(frozen=True, slots=True)
class RunAnalysis:
    """What the observations prove about a run: metrics, judged deadlines, the target's log."""

    metrics: Metrics
    deadlines: tuple[DeadlineResult, ...]
    ground_truth: GroundTruthCheck | None


def rung_outcome(result: ControlResult | None) -> RungOutcome:
    """A climbed rung's outcome: its call's answer, or pending while it has none."""
    return RungOutcome.PENDING if result is None else RungOutcome(result.outcome.value)


def analyse_run(facts: RunFacts) -> RunAnalysis | None:
    """Analyse the run's observations and judge its deadlines; None when it measured nothing."""
    if not facts.measured:
        return None
    instants = build_instants(facts)
    metrics = analyse(facts.log, instants)
    drill = facts.drill
    # ``ObservationLog.streams`` arrives with the streaming load; until then there are none.
    streams = facts.log.streams()
    if streams or drill.in_flight is not None or getattr(drill.load, "stream", False):
        # The stop is widened already; the streams' own instants are off by as much again.
        stop = widen_stop(metrics.stop, instants.clock_uncertainty_ns, instants.stop_issued_ns)
        found = stream_metrics(streams, stop, instants)
        metrics = dataclasses.replace(metrics, streams=found)
    events = facts.target_events
    truth = check_ground_truth(events, metrics, instants, log=facts.log) if events else None
    return RunAnalysis(metrics, judge(metrics, drill.deadlines, drill.in_flight), truth)


def build_instants(facts: RunFacts) -> RunInstants:
    """Collect what the harness did, and when, for the analysis."""
    steps = facts.steps
    assert steps is not None and facts.load_start_ns is not None
    incident_ns = rollback_ns = None
    rollback_version = None
    resumes: list[int] = []
    for state in steps.states:
        call = state.call
        if call is None:
            continue
        action = state.step.action
        if action is Action.INJECT and state.phase is StepPhase.DONE:
            # Only an injection the target accepted starts the incident's clock, and the
            # first in time does (a drill may list a later one first).
            incident_ns = min(call.issued_ns, incident_ns or call.issued_ns)
        elif action is Action.ROLLBACK and rollback_ns is None:
            rollback_ns = call.issued_ns
            assert state.step.rollback is not None
            rollback_version = state.step.rollback["to"]
        elif action is Action.RESUME:
            resumes.append(call.issued_ns)
    complaint = next(
        (s for s in steps.states if s.step.action is Action.CONTEST and s.call is not None),
        None,
    )
    fallbacks = tuple(
        (watch.deadline, watch.fallback_started_ns)
        for watch in _waits(steps)
        if watch.fallback_started_ns is not None
        and watch.deadline_ns is not None
        and watch.fallback_started_ns >= watch.deadline_ns  # not a halt's fallback
    )
    ladder = steps.ladder
    operator = steps.operator
    rungs: tuple[RungAttempt, ...] = ()
    if operator is not None:
        ladder = operator.fallback if operator.fallback.climbed else None
    if ladder is not None:
        rungs = tuple(
            RungAttempt(
                name=r.name,
                issued_ns=r.issued_ns,
                returned_ns=None if r.result is None else r.result.returned_ns,
                outcome=rung_outcome(r.result),
            )
            for r in ladder.climbed
        )
    start = facts.load_start_ns
    load_end = facts.load_end_ns if facts.load_end_ns is not None else start
    stop_issued = None if ladder is None else ladder.climbed[0].issued_ns
    stop_acked = None if ladder is None else ladder.first_ack_ns
    ack_unseen = None
    if operator is not None:
        # The harness called no stop: the clock runs from the notification, and the
        # acknowledgement is the operator's own call, as the target logged it.
        stop_issued = operator.notified_ns
        acts = operator_acts(facts)
        stop_acked = acts[0].t_ns if acts else None
        if not acts and not any(name == "control_call" for _t, name, _e in facts.target_events):
            ack_unseen = (
                f"the operator's calls on {', '.join(operator.spec.paths)} cannot be seen: the"
                " target's event log records no control_call"
            )
    return RunInstants(
        load_start_ns=start,
        load_end_ns=max(load_end, start),
        hold_s=facts.drill.hold,
        incident_ns=incident_ns,
        detected_ns=facts.detected_ns,
        stop_issued_ns=stop_issued,
        stop_acked_ns=stop_acked,
        rungs=rungs,
        rollback_issued_ns=rollback_ns,
        rollback_version=rollback_version,
        resumes_ns=tuple(resumes),
        load_healthy=facts.load_failed_ns is None,
        load_failed_ns=facts.load_failed_ns,
        ack_possible=operator is not None or ladder is None or ladder.can_acknowledge,
        incident_failure=_incident_failure(steps) if incident_ns is None else None,
        ack_unseen=ack_unseen,
        complaint_sent_ns=None
        if complaint is None or complaint.call is None
        else complaint.call.issued_ns,
        complaint_returned_ns=None
        if complaint is None or complaint.result is None
        else complaint.result.returned_ns,
        fallbacks=fallbacks,
        clock_uncertainty_ns=facts.clock_uncertainty_ns,
    )


def _waits(steps: Steps) -> list[OperatorWait | ReversalWatch]:
    """Every wait on a person the steps started."""
    found: list[OperatorWait | ReversalWatch] = [
        s.operator for s in steps.states if s.operator is not None
    ]
    return [*found, *steps.reversals]


@dataclass(frozen=True, slots=True)
class OperatorAct:
    """One control call of the operator, as the target logged it."""

    t_ns: int
    path: str
    action: str
    by: str


def operator_acts(facts: RunFacts) -> tuple[OperatorAct, ...]:
    """The operator's control calls on the stop's paths, from the target's event log: the
    ``control_call`` events after the notification whose ``path`` is one of the paths (by
    name, or by the URL path of one of its HTTP calls), leaving out the harness's own
    fallback calls (an event inside one of its calls on that path)."""
    steps = facts.steps
    operator = None if steps is None else steps.operator
    if operator is None:
        return ()
    declared = facts.drill.target.control_paths
    aliases: dict[str, str] = {}
    for name in operator.spec.paths:
        aliases[name] = name
        http = declared[name].http if name in declared else None
        for action in ("stop", "resume", "rollback", "status", "contest"):
            call = None if http is None else getattr(http, action)
            if call is not None:
                aliases.setdefault(call.path, name)
    own = [
        (r.name, r.issued_ns, r.result.returned_ns if r.result is not None else None)
        for r in operator.fallback.climbed
    ]
    acts: list[OperatorAct] = []
    for t_ns, name, event in facts.target_events:
        if name != "control_call" or t_ns < operator.notified_ns:
            continue
        path = aliases.get(str(event.get("path", "")))
        if path is None:
            continue
        if any(
            rung == path and issued <= t_ns and (returned is None or t_ns <= returned)
            for rung, issued, returned in own
        ):
            continue
        acts.append(
            OperatorAct(
                t_ns=t_ns,
                path=path,
                action=str(event.get("action", ""))[:64],
                by=str(event.get("by", ""))[:128],
            )
        )
    return tuple(sorted(acts, key=lambda a: a.t_ns))


def _incident_failure(steps: Steps) -> str | None:
    """The first inject step that failed, said the way the evidence names it."""
    if not steps.failed_injects:
        return None
    state = steps.failed_injects[0]
    return f"step {state.id} (inject {state.step.inject}) {_outcome(state)}: {state.detail}"


def _outcome(state: StepState) -> CallOutcome:
    return CallOutcome.FAILED if state.result is None else state.result.outcome


def _incident_not_injected(steps: Steps | None) -> tuple[IncidentNotInjected, ...]:
    """Every inject step whose call failed, for the top of the summary."""
    if steps is None:
        return ()
    return tuple(
        IncidentNotInjected(step=s.id, incident=s.step.inject, outcome=_outcome(s), detail=s.detail)
        for s in steps.failed_injects
    )


def build_summary(facts: RunFacts, analysis: RunAnalysis | None, verdict: RunVerdict) -> RunSummary:
    """The run's summary: the contract's fields, then the detail; only the keys it has facts
    for are set (and so written)."""
    drill = facts.drill
    truth = None if analysis is None else analysis.ground_truth
    fields: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "drill": drill.drill,
        "run_id": facts.run_id,
        "target": drill.target.target,
        "sandbox": drill.resolved_sandbox,
        "verdict": verdict,
        "incident_not_injected": _incident_not_injected(facts.steps),
        "deadlines": JudgedDeadlines(),
        "metrics": MeasuredMetrics(),
        "rung_used": None,
        "resurrected": None,
        "ground_truth": _with_proxy_truth(facts, None if truth is None else _ground_truth(truth)),
        "incidents": _incidents(facts),
        "versions": Versions(
            govdrill=__version__, python=sys.version.split()[0], platform=platform.platform()
        ),
        "clock": CLOCK,
        "zero_ns": facts.zero_ns,
        "observations": len(facts.log),
        "observations_truncated": facts.log.truncated,
        "observed_versions": _observed_versions(facts),
        "target_args": tuple(drill.target_args),
    }
    if facts.load_workers:
        fields["load_workers"] = LoadWorkersSummary(
            workers=tuple(WorkerClockSummary(**c.to_event()) for c in facts.load_workers),
            clock_uncertainty_s=facts.clock_uncertainty_ns / 1e9,
        )
    if facts.target_startup_s is not None:
        fields["target_startup_s"] = round(facts.target_startup_s, 6)
    if facts.drill_s is not None:
        fields["drill_s"] = round(facts.drill_s, 6)
    if analysis is not None:
        fields.update(_measured(analysis))
    if facts.error is not None:
        fields["error"] = facts.error
    if facts.interrupted_by_signal is not None:
        fields["interrupted_by_signal"] = facts.interrupted_by_signal
        if facts.halted_by is not None:
            fields["halted_by"] = facts.halted_by
    if facts.load_failure:
        fields["load_failure"] = facts.load_failure
    if facts.steps is not None:
        fields.update(_steps(facts, facts.steps))
    if facts.teardown is not None:
        report = facts.teardown
        fields["teardown"] = TeardownSummary(
            way=report.way,
            exit_code=report.exit_code,
            detail=report.detail,
            leftovers_killed=tuple(
                KilledLeftover(pid=k.pid, cmdline=k.cmdline[:200]) for k in report.leftovers_killed
            ),
            **_restored(facts),
        )
    if facts.swept:
        fields["swept_leftovers"] = facts.swept
    fields["target_events"] = _target_events(facts)  # how much of the log the truth rests on
    if facts.steps is not None and facts.steps.operator is not None:
        fields["human_clock"] = _human_clock(facts, facts.steps.operator, analysis)
    return RunSummary(**fields)


def _human_clock(facts: RunFacts, wait: OperatorWait, analysis: RunAnalysis | None) -> HumanClock:
    """Notified, acknowledged, acted, effective: seconds from the incident (or the harm
    detected, or the notification, whichever the run has first)."""
    steps = facts.steps
    assert steps is not None
    incident = next(
        (
            s.call.issued_ns
            for s in steps.states
            if s.step.action is Action.INJECT and s.phase is StepPhase.DONE and s.call is not None
        ),
        None,
    )
    origin = next(t for t in (incident, facts.detected_ns, wait.notified_ns) if t is not None)

    def rel(t_ns: int | None) -> float | None:
        return None if t_ns is None else round((t_ns - origin) / 1e9, 6)

    acts = operator_acts(facts)
    acted = acts[0] if acts else None
    answer = min(wait.answers, key=lambda a: a.t_ns, default=None)
    acknowledged = min(
        (t for t in (None if acted is None else acted.t_ns,
                     None if answer is None else answer.t_ns) if t is not None),
        default=None,
    )  # fmt: skip
    lower = upper = value = None
    if analysis is not None:
        stop = analysis.metrics.stop
        if stop.lower_ns is not None:
            lower = rel(stop.lower_ns)
        if stop.confirmed and stop.upper_ns is not None:
            upper = rel(stop.upper_ns)
            value = None if lower is None or upper is None else round((lower + upper) / 2, 6)
    by = acted.by if acted is not None else (None if answer is None else answer.who)
    limit = facts.drill.human_deadline_s(next(s.step for s in steps.states if s.operator is wait))
    return HumanClock(
        notified_s=rel(wait.notified_ns),
        acknowledged_s=rel(acknowledged),
        acted_s=None if acted is None else rel(acted.t_ns),
        effective=Bounded(value=value, lower=lower, upper=upper),
        by=by,
        via=None if acted is None else acted.path,
        fallback_used=wait.fallback_started_ns is not None,
        deadline=wait.deadline if limit is not None else None,
        deadline_s=limit,
        notifications=tuple(
            NotificationSummary(
                notifier=r.notifier, outcome=r.outcome, detail=r.detail, sent_t_s=rel(r.sent_ns)
            )
            for r in wait.results
        ),
    )


def _restored(facts: RunFacts) -> dict[str, Any]:
    """The teardown's restore of an external service, as far as there was one: each action
    (written only when there were some) and what it may have left changed."""
    restored = facts.restored
    if restored is None or not restored.actions:
        return {}
    fields: dict[str, Any] = {
        "restored": tuple(
            RestoreSummary(
                kind=a.kind,
                name=a.name,
                outcome=a.outcome,
                detail=a.detail,
                returned_t_s=(
                    None
                    if a.returned_ns is None
                    else round((a.returned_ns - facts.zero_ns) / 1e9, 6)
                ),
            )
            for a in restored.actions
        )
    }
    if restored.left:
        fields["left_changed"] = restored.left
    return fields


def measured_metrics(metrics: Metrics) -> MeasuredMetrics:
    """Every metric as summary.json keeps it: value, lower, upper, unit."""
    return MeasuredMetrics(**{m.name: _metric(m) for m in metrics.all()})


def judged_deadlines(deadlines: tuple[DeadlineResult, ...]) -> JudgedDeadlines:
    """Every judged deadline as summary.json keeps it, with its limit, bounds and verdict."""
    return JudgedDeadlines(**{d.name: _deadline(d) for d in deadlines})


def _metric(m: Metric) -> MetricSummary:
    return MetricSummary(value=m.value, lower=m.lower, upper=m.upper, unit=m.unit)


def _deadline(d: DeadlineResult) -> DeadlineSummary:
    return DeadlineSummary(
        limit_s=d.limit,
        measured_s=d.measured.value,
        lower_s=d.measured.lower,
        upper_s=d.measured.upper,
        unit=d.measured.unit,
        verdict=d.verdict,
        reason=d.reason,
    )


def _measured(analysis: RunAnalysis) -> dict[str, Any]:
    """The fields only a measured run has."""
    metrics = analysis.metrics
    stop = metrics.stop
    fields: dict[str, Any] = {
        "metrics": measured_metrics(metrics),
        "deadlines": judged_deadlines(analysis.deadlines),
        "rung_used": metrics.rung_used,
        "resurrected": metrics.resurrected,
        "stop_theater": metrics.stop_theater,
        "harm_returned": bool(metrics.harm_returned.lower),
        "stop": StopSummary(
            kind=stop.kind,
            confirmed=stop.confirmed,
            reason=stop.reason,
            resurrections_ns=stop.resurrections,
            episodes=stop.episode_count,
        ),
    }
    rollback = metrics.rollback
    if rollback is not None:
        fields["rollback"] = RollbackSummary(
            version=rollback.version,
            kind=rollback.kind,
            confirmed=rollback.confirmed,
            reason=rollback.reason,
            reversions_ns=rollback.reversions,
        )
    return fields


def _ground_truth(truth: GroundTruthCheck) -> GroundTruthSummary:
    return GroundTruthSummary(
        stop_claimed_ns=truth.stop_claimed_ns,
        stop_within_bounds=truth.stop_within_bounds,
        stop_error_s=seconds(truth.stop_error_ns),
        rollback_claimed_ns=truth.rollback_claimed_ns,
        rollback_within_bounds=truth.rollback_within_bounds,
        rollback_error_s=seconds(truth.rollback_error_ns),
        log_trustworthy=truth.log_trustworthy,
        reasons=truth.reasons,
    )


def _first_inject(facts: RunFacts) -> StepState | None:
    """The inject step whose issue started the incident's clock (as :func:`build_instants`
    takes it): the first one the hook accepted."""
    if facts.steps is None:
        return None
    return next(
        (
            s
            for s in facts.steps.states
            if s.step.action is Action.INJECT and s.phase is StepPhase.DONE and s.call is not None
        ),
        None,
    )


def _rule_events(facts: RunFacts, name: str, event: str) -> list[int]:
    """The instants of ``event`` (``rule_on``/``rule_off``) for the rule ``name`` in the
    proxies' own logs, in order."""
    return sorted(
        t
        for proxy in facts.proxies
        for t, e, line in proxy.events
        if e == event and line.get("rule") == name
    )


def _with_proxy_truth(
    facts: RunFacts, truth: GroundTruthSummary | None
) -> GroundTruthSummary | None:
    """The ground truth with the proxy's claim of when the incident began set beside the
    detection bounds, when the incident that started the clock came from outside."""
    first = _first_inject(facts)
    if first is None or first.call is None or first.step.inject is None:
        return truth
    hook = facts.drill.target.incidents.get(first.step.inject)
    if hook is None or not hook.outside:
        return truth
    issued = first.call.issued_ns
    claimed = next(
        (t for t in _rule_events(facts, first.step.inject, "rule_on") if t >= issued), None
    )
    detected = facts.detected_ns
    within = None
    if claimed is not None and detected is not None:
        within = issued <= claimed <= detected
    if truth is None:
        # No log of the target's own: the proxy's is the only ground truth there is.
        truth = GroundTruthSummary(
            stop_claimed_ns=None,
            stop_within_bounds=None,
            stop_error_s=None,
            rollback_claimed_ns=None,
            rollback_within_bounds=None,
            rollback_error_s=None,
            log_trustworthy=True,
            reasons=(),
        )
    return truth.model_copy(
        update={"incident_claimed_ns": claimed, "incident_within_bounds": within}
    )


def _incidents(facts: RunFacts) -> tuple[IncidentSummary, ...]:
    """Every incident a step fired, once each in firing order; an outside one with the
    proxy's instants and counts."""
    steps = facts.steps
    if steps is None:
        return ()

    def rel(t_ns: int | None) -> float | None:
        return None if t_ns is None else round((t_ns - facts.zero_ns) / 1e9, 6)

    counts = {rule: c for proxy in facts.proxies for rule, c in proxy.counts.items()}
    found: dict[str, IncidentSummary] = {}
    for state in steps.states:
        name = state.step.inject
        if name is None or state.call is None or name in found:
            continue
        hook = facts.drill.target.incidents[name]
        fields: dict[str, Any] = {
            "name": name,
            "via": hook.via,
            "outside": hook.outside,
            "injected_t_s": rel(state.call.issued_ns),
        }
        if hook.rule is not None:
            on = _rule_events(facts, name, "rule_on")
            off = _rule_events(facts, name, "rule_off")
            touched, seen, unmatched = counts.get(name, (0, 0, 0))
            fields.update(
                where=hook.rule.control or "data",
                kind=rule_kind(hook.rule),
                rule_on_t_s=rel(on[0] if on else None),
                rule_off_t_s=rel(off[-1] if off else None),
                touched=touched,
                seen=seen,
                unmatched=unmatched,
                # A refuse closes the listener: the connections it turns away are not counted.
                matched_nothing=None if rule_kind(hook.rule) == "refuse" else touched == 0,
            )
        found[name] = IncidentSummary(**fields)
    return tuple(found.values())


def _observed_versions(facts: RunFacts) -> ObservedVersions:
    counts = facts.log.version_counts()
    return ObservedVersions(
        kept=counts.kept,
        folded_distinct=counts.folded_distinct,
        folded_distinct_exact=counts.folded_distinct_exact,
        folded_answers=counts.folded_answers,
    )


def _target_events(facts: RunFacts) -> TargetEventsSummary:
    events = facts.target_events
    return TargetEventsSummary(
        events=len(events),
        file_bytes=events.file_bytes,
        bytes_read=events.bytes_read,
        bytes_left_out=events.bytes_left_out,
        unreadable_lines=events.unreadable_lines,
        complete=not events.capped,
    )


def _steps(facts: RunFacts, steps: Steps) -> dict[str, Any]:
    """Each step, and the stop ladder's rungs when one was climbed, in seconds since zero."""

    def rel(t_ns: int | None) -> float | None:
        return None if t_ns is None else round((t_ns - facts.zero_ns) / 1e9, 6)

    fields: dict[str, Any] = {
        "steps": tuple(
            StepSummary(
                id=s.id,
                action=s.step.action,
                phase=s.phase,
                fired_t_s=rel(s.fired_ns),
                settled_t_s=rel(s.settled_ns),
                outcome=None if s.result is None else s.result.outcome,
                detail=s.detail,
            )
            for s in steps.states
        )
    }
    if steps.ladder is not None:
        fields["rungs"] = tuple(
            RungSummary(
                name=r.name,
                issued_t_s=rel(r.issued_ns),
                returned_t_s=None if r.result is None else rel(r.result.returned_ns),
                outcome=rung_outcome(r.result),
                detail="" if r.result is None else r.result.detail,
            )
            for r in steps.ladder.climbed
        )
    return fields
