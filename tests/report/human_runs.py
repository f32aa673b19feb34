"""Run folders with a person in the clock, built through the typed summary model: an operator
stop (notified, prompt answered, acted, effective) and a complaint reversed by the service,
each with a chosen deadline verdict and, when asked, markup in every name a person or a
notifier gives."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

from harness.control import CallOutcome
from harness.metrics import DeadlineVerdict, Unit
from harness.operator import NotifyOutcome
from harness.run_summary import (
    CLOCK,
    Bounded,
    DeadlineSummary,
    HumanClock,
    JudgedDeadlines,
    MeasuredMetrics,
    MetricSummary,
    NotificationSummary,
    RungSummary,
    RunSummary,
    StepSummary,
    Versions,
)
from harness.spec.models import Action, RungOutcome, RunVerdict
from harness.steps import StepPhase

INCIDENT_T = 1.0
NOTIFIED_T = 1.1


def _deadline(limit: float, lower: float | None, upper: float | None, verdict: DeadlineVerdict,
              reason: str) -> DeadlineSummary:  # fmt: skip
    value = None if lower is None or upper is None else (lower + upper) / 2
    return DeadlineSummary(
        limit_s=limit, measured_s=value, lower_s=lower, upper_s=upper, unit=Unit.SECONDS,
        verdict=verdict, reason=reason,
    )  # fmt: skip


def _metric(lower: float | None, upper: float | None) -> MetricSummary:
    value = None if lower is None or upper is None else (lower + upper) / 2
    return MetricSummary(value=value, lower=lower, upper=upper, unit=Unit.SECONDS)


def _inject() -> StepSummary:
    return StepSummary(
        id="inject", action=Action.INJECT, phase=StepPhase.DONE, fired_t_s=INCIDENT_T,
        settled_t_s=INCIDENT_T + 0.01, outcome=CallOutcome.ACKED, detail="HTTP 200",
    )  # fmt: skip


def operator_summary(
    *,
    verdict: DeadlineVerdict = DeadlineVerdict.MET,
    operator: str = "alice",
    path: str = "admin_api",
    detail: str = "HTTP 200 {}",
    acted: bool = True,
    fallback: bool = False,
) -> RunSummary:
    """An operator stop: notified 0.1 s after the incident, acted at 2.1 s, in effect between
    2.15 and 2.25 s (the stop deadline of 5 s runs from the notification)."""
    stop_lower, stop_upper = 2.05, 2.15  # from the notification
    reason = {
        DeadlineVerdict.MET: "upper bound 2.15 s is within the limit 5 s",
        DeadlineVerdict.MISSED: "the deadline passed with harm not stopped, so the harness's"
        " fallback ladder started; a fallback never meets a deadline",
        DeadlineVerdict.UNVERIFIED: "an observation gap: the stop was not confirmed",
    }[verdict]
    unproven = verdict is DeadlineVerdict.UNVERIFIED
    clock = HumanClock(
        notified_s=0.1,
        acknowledged_s=1.05 if acted else None,
        acted_s=1.1 if acted else None,
        effective=Bounded(
            value=None if unproven else 2.2,
            lower=2.15,
            upper=None if unproven else 2.25,
        ),
        by=operator if acted else None,
        via=path if acted else None,
        fallback_used=fallback,
        deadline="stop",
        deadline_s=5.0,
        notifications=(
            NotificationSummary(notifier="oncall", outcome=NotifyOutcome.OK, detail=detail,
                                sent_t_s=0.1),
            NotificationSummary(notifier="console", outcome=NotifyOutcome.SKIPPED,
                                detail="no terminal", sent_t_s=0.1),
        ),
    )  # fmt: skip
    rungs: tuple[RungSummary, ...] = ()
    if fallback:
        rungs = (
            RungSummary(name="admin_api", issued_t_s=6.1, returned_t_s=6.11,
                        outcome=RungOutcome.ACKED, detail="HTTP 200"),
        )  # fmt: skip
    return RunSummary(
        drill="operator-stop", run_id="0badc0de", target="complaint-service",
        sandbox="process", verdict=RunVerdict.PASSED if verdict is DeadlineVerdict.MET
        else RunVerdict.FAILED,
        deadlines=JudgedDeadlines(
            stop=_deadline(5.0, stop_lower, None if unproven else stop_upper, verdict, reason)
        ),
        metrics=MeasuredMetrics(time_to_stop=_metric(stop_lower, None if unproven else stop_upper)),
        versions=Versions(govdrill="0.1.0", python="3.11", platform="linux"),
        clock=CLOCK, zero_ns=0, observations=40,
        steps=(
            _inject(),
            StepSummary(id="stop", action=Action.STOP, phase=StepPhase.DONE,
                        fired_t_s=NOTIFIED_T, settled_t_s=3.5, outcome=None, detail=""),
        ),
        rungs=rungs,
        human_clock=clock,
    )  # fmt: skip


def contest_summary(*, verdict: DeadlineVerdict = DeadlineVerdict.MET,
                    detail: str = 'HTTP 202 {"complaint_id": 1}') -> RunSummary:  # fmt: skip
    """A complaint sent 1 s after the incident (answered 5 ms later), harm reversed 0.2 to
    0.3 s after it, against a reversal deadline of 3 s."""
    lower, upper = (0.2, 0.3) if verdict is not DeadlineVerdict.UNVERIFIED else (0.2, None)
    reason = "upper bound 0.3 s is within the limit 3 s" if upper else "harm went on"
    return RunSummary(
        drill="contest", run_id="0badc0de", target="complaint-service", sandbox="process",
        verdict=RunVerdict.PASSED if verdict is DeadlineVerdict.MET else RunVerdict.FAILED,
        deadlines=JudgedDeadlines(reversal=_deadline(3.0, lower, upper, verdict, reason)),
        metrics=MeasuredMetrics(time_to_reversal=_metric(lower, upper)),
        versions=Versions(govdrill="0.1.0", python="3.11", platform="linux"),
        clock=CLOCK, zero_ns=0, observations=40,
        steps=(
            _inject(),
            StepSummary(id="contest", action=Action.CONTEST, phase=StepPhase.DONE,
                        fired_t_s=2.0, settled_t_s=2.005, outcome=CallOutcome.ACKED,
                        detail=detail),
        ),
    )  # fmt: skip


def _timeline(summary: RunSummary, *, who: str, fallback: bool) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = [
        {"t_s": 0.0, "wall": "2026-01-01T00:00:00Z", "event": "run_started"},
        {"t_s": INCIDENT_T, "event": "step_fired", "step": "inject"},
        {"t_s": INCIDENT_T + 0.05, "event": "harm_detected"},
    ]
    hc = summary.human_clock
    if hc is not None:
        events += [
            {"t_s": NOTIFIED_T, "event": "operator_waiting", "paths": [hc.via or "admin_api"],
             "deadline": "stop", "deadline_s": 5.0, "fallback": ["admin_api", "sigterm"]},
            *({"t_s": NOTIFIED_T, "event": "operator_notified", "notifier": n.notifier,
               "outcome": n.outcome.value, "detail": n.detail} for n in hc.notifications),
            {"t_s": 2.05, "event": "operator_prompt_answer", "who": who},
        ]  # fmt: skip
        if hc.acted_s is not None:
            events.append({"t_s": 2.1, "event": "operator_acted", "path": hc.via,
                           "action": "stop", "by": hc.by})  # fmt: skip
        if fallback:
            events.append({"t_s": 6.1, "event": "fallback_started", "deadline": "stop",
                           "ladder": ["admin_api", "sigterm"]})  # fmt: skip
    complaint = next((s for s in summary.steps if s.action is Action.CONTEST), None)
    if complaint is not None:
        events += [
            {"t_s": 2.005, "event": "contest_filed", "step": "contest", "via": "feedback",
             "outcome": "acked", "detail": complaint.detail},
            {"t_s": 3.5, "event": "reversal_confirmed", "via": "feedback", "by": "complaint"},
        ]  # fmt: skip
    return events


def write_human_run(folder: Path, summary: RunSummary, *, who: str = "alice",
                    fallback: bool = False) -> Path:  # fmt: skip
    """A run folder for ``summary``: its timeline, a little of the load's observations."""
    folder.mkdir(parents=True)
    (folder / "summary.json").write_text(json.dumps(summary.document()), encoding="utf-8")
    (folder / "drill.yaml").write_text(json.dumps({"description": "a person in the clock"}))
    lines = [json.dumps(e) for e in _timeline(summary, who=who, fallback=fallback)]
    (folder / "timeline.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    rows = ["# times in microseconds", "start_us,end_us,status,state,harmful,version"]
    for i in range(80):
        start = i * 50_000
        harmful = int(20 <= i < 44)
        state = 0 if i < 44 else 1
        rows.append(f"{start},{start + 9000},200,{state},{harmful},v1")
    with gzip.open(folder / "observations.csv.gz", "wt", encoding="utf-8") as out:
        out.write("\n".join(rows) + "\n")
    return folder
