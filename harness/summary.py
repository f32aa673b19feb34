"""From a finished run to summary.json: the instants to analyse and the contract's fields."""

from __future__ import annotations

import platform
import sys
from typing import TYPE_CHECKING, Any

from harness import __version__
from harness.control import CallOutcome
from harness.metrics import (
    DeadlineResult,
    Deadlines,
    GroundTruthCheck,
    Metrics,
    RungAttempt,
    RungOutcome,
    RunInstants,
)
from harness.spec.models import Action, Drill, RunVerdict
from harness.steps import StepPhase, Steps, StepState
from harness.target_events import read_events  # its home; kept importable from here

if TYPE_CHECKING:
    from harness.engine import _Run

__all__ = ["build_instants", "build_summary", "metric_deadlines", "read_events"]

_RUNG_OUTCOME = {
    CallOutcome.ACKED: RungOutcome.ACKED,
    CallOutcome.FAILED: RungOutcome.FAILED,
    CallOutcome.TIMED_OUT: RungOutcome.TIMED_OUT,
}


def metric_deadlines(drill: Drill) -> Deadlines:
    """The drill's deadlines in the analysis's terms."""
    d = drill.deadlines
    return Deadlines(
        detect_s=d.detect,
        ack_s=d.ack,
        stop_s=d.stop,
        time_in_harm_s=d.time_in_harm,
        harmful_after_stop=d.harmful_after_stop,
        harmful_after_ack=d.harmful_after_ack,
        rollback_s=d.rollback,
    )


def build_instants(run: _Run) -> RunInstants:
    """Collect what the harness did, and when, for the analysis."""
    steps = run.steps
    assert steps is not None and run.load_start_ns is not None
    incident_ns = rollback_ns = None
    rollback_version = None
    resumes: list[int] = []
    for state in steps.states:
        call = state.call
        if call is None:
            continue
        action = state.step.action
        if action is Action.INJECT and incident_ns is None and state.phase is StepPhase.DONE:
            # Only an injection the target accepted starts the incident's clock.
            incident_ns = call.issued_ns
        elif action is Action.ROLLBACK and rollback_ns is None:
            rollback_ns = call.issued_ns
            assert state.step.rollback is not None
            rollback_version = state.step.rollback["to"]
        elif action is Action.RESUME:
            resumes.append(call.issued_ns)
    ladder = steps.ladder
    rungs: tuple[RungAttempt, ...] = ()
    if ladder is not None:
        rungs = tuple(
            RungAttempt(
                name=r.name,
                issued_ns=r.issued_ns,
                returned_ns=None if r.result is None else r.result.returned_ns,
                outcome=RungOutcome.SKIPPED
                if r.result is None
                else _RUNG_OUTCOME[r.result.outcome],
            )
            for r in ladder.climbed
        )
    load_end = run.load_end_ns if run.load_end_ns is not None else run.load_start_ns
    return RunInstants(
        load_start_ns=run.load_start_ns,
        load_end_ns=max(load_end, run.load_start_ns),
        hold_s=run.drill.hold,
        incident_ns=incident_ns,
        detected_ns=steps_detected(run),
        stop_issued_ns=None if ladder is None else ladder.climbed[0].issued_ns,
        stop_acked_ns=None if ladder is None else ladder.first_ack_ns,
        rungs=rungs,
        rollback_issued_ns=rollback_ns,
        rollback_version=rollback_version,
        resumes_ns=tuple(resumes),
        load_healthy=run.load_failed_ns is None,
        load_failed_ns=run.load_failed_ns,
        ack_possible=ladder is None or ladder.can_acknowledge,
        incident_failure=_incident_failure(steps) if incident_ns is None else None,
    )


def _incident_failure(steps: Steps) -> str | None:
    """The first inject step that failed, said the way the evidence names it."""
    if not steps.failed_injects:
        return None
    state = steps.failed_injects[0]
    return f"step {state.id} (inject {state.step.inject}) {_outcome(state)}: {state.detail}"


def _outcome(state: StepState) -> str:
    return "failed" if state.result is None else state.result.outcome.value


def incident_not_injected(steps: Steps | None) -> list[dict[str, Any]]:
    """Every inject step whose call failed, for the top of the summary."""
    if steps is None:
        return []
    return [
        {
            "step": s.id,
            "incident": s.step.inject,
            "outcome": _outcome(s),
            "detail": s.detail,
        }
        for s in steps.failed_injects
    ]


def steps_detected(run: _Run) -> int | None:
    """When the harness first saw harm."""
    detector = run.detector
    return None if detector is None else detector.detected_ns


def _rel(run: _Run, t_ns: int | None) -> float | None:
    return None if t_ns is None else round((t_ns - run.zero_ns) / 1e9, 6)


def build_summary(
    run: _Run,
    metrics: Metrics | None,
    deadlines: tuple[DeadlineResult, ...],
    ground_truth: GroundTruthCheck | None,
) -> dict[str, Any]:
    """The summary.json document (the contract's fields, then the detail)."""
    drill = run.drill
    if run.interrupted is not None:
        verdict = RunVerdict.INTERRUPTED
    elif run.error is not None or metrics is None:
        verdict = RunVerdict.ERROR
    elif all(d.verdict.passes for d in deadlines):
        verdict = RunVerdict.PASSED
    else:
        verdict = RunVerdict.FAILED
    summary: dict[str, Any] = {
        "drill": drill.drill,
        "run_id": run.run_id,
        "target": drill.target.target,
        "sandbox": drill.resolved_sandbox,
        "verdict": verdict.value,
        # Named first: a drill whose incident never happened tested nothing after it.
        "incident_not_injected": incident_not_injected(run.steps),
        "deadlines": {},
        "metrics": {},
        "rung_used": None,
        "resurrected": None,
        "ground_truth": None if ground_truth is None else ground_truth.to_summary(),
        "versions": {
            "govdrill": __version__,
            "python": sys.version.split()[0],
            "platform": platform.platform(),
        },
        "clock": "host CLOCK_MONOTONIC; *_t_s fields are seconds since zero_ns",
        "zero_ns": run.zero_ns,
        "observations": len(run.log),
        "observations_truncated": run.log.truncated,
        "observed_versions": run.log.version_counts().to_summary(),
        "target_args": list(drill.target_args),
    }
    if metrics is not None:
        summary.update(metrics.to_summary(deadlines))
    if run.error is not None:
        summary["error"] = str(run.error)
    if run.interrupted is not None:
        summary["interrupted_by_signal"] = run.interrupted.signum
        if run.halted_by is not None:
            summary["halted_by"] = run.halted_by
    if run.load_failure:
        summary["load_failure"] = run.load_failure
    steps = run.steps
    if steps is not None:
        summary["steps"] = [
            {
                "id": s.id,
                "action": s.step.action.value,
                "phase": s.phase.value,
                "fired_t_s": _rel(run, s.fired_ns),
                "settled_t_s": _rel(run, s.settled_ns),
                "outcome": None if s.result is None else s.result.outcome.value,
                "detail": s.detail,
            }
            for s in steps.states
        ]
        if steps.ladder is not None:
            summary["rungs"] = [
                {
                    "name": r.name,
                    "issued_t_s": _rel(run, r.issued_ns),
                    "returned_t_s": None if r.result is None else _rel(run, r.result.returned_ns),
                    "outcome": "pending" if r.result is None else r.result.outcome.value,
                    "detail": "" if r.result is None else r.result.detail,
                }
                for r in steps.ladder.climbed
            ]
    if run.teardown is not None:
        summary["teardown"] = {
            "way": run.teardown.way.value,
            "exit_code": run.teardown.exit_code,
            "detail": run.teardown.detail,
            "leftovers_killed": [k.to_summary() for k in run.teardown.leftovers_killed],
        }
    if run.swept or run.swept_resources:
        summary["swept_leftovers"] = [
            {"kind": "process", "pid": s.pid, "run_id": s.run_id, "cmdline": s.cmdline[:200]}
            for s in run.swept
        ] + run.swept_resources
    return summary
