"""The human part of a run's clock, set out for the report: who was told and how that went,
who acted and through which path, when it took effect (with bounds), against which deadline;
and what that shows for the texts on human oversight.

Two kinds of wait have a person in them. An operator stop (``stop: {by: operator}``) is read
from ``summary.human_clock`` (seconds from the incident) and the timeline; a complaint
(``contest:``) from its step, ``time_to_reversal`` and the ``reversal`` deadline. Both are
drawn on one axis, seconds from the incident (or, without one, from the harm detected or the
complaint). Every status here comes from the run's own deadline verdicts: a claim is never
stated as met unless the verdict is ``met``, the harness's fallback did not run, and (for a
stop by a person) the person's action was seen.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

from markupsafe import Markup

from harness.metrics import DeadlineVerdict
from harness.report._clock_chart import ClockPicture, clock_svg
from harness.report._data import RunData
from harness.run_summary import DeadlineSummary, HumanClock, MetricSummary, RunSummary, StepSummary
from harness.spec.models import Action
from harness.steps import StepPhase

__all__ = [
    "ClaimRow",
    "ClaimStatus",
    "ClockInstant",
    "ClockKind",
    "HumanClockView",
    "Notice",
    "human_claims",
    "human_clock_lines",
    "human_clocks",
]

_DETAIL = 200
"""Characters of a notifier's or complaint channel's answer shown (timeline.jsonl has it all)."""


class ClockKind(enum.StrEnum):
    """Which wait on a person a clock is."""

    OPERATOR_STOP = "operator stop"
    CONTEST = "complaint"


class ClaimStatus(enum.StrEnum):
    """What the run's own verdicts let the report say about one claim."""

    MET = "met"
    MISSED = "missed"
    UNVERIFIED = "unverified"
    NOT_TESTED = "not tested"


@dataclass(frozen=True, slots=True)
class ClockInstant:
    """One step of the human clock, in seconds from the clock's start (None: not seen)."""

    key: str
    label: str
    since_s: float | None
    lower_s: float | None = None
    upper_s: float | None = None
    note: str = ""
    left_s: float | None = None
    """Seconds left before the deadline at this instant (by its upper bound when bounded;
    negative: after the deadline); None before the deadline's clock started, or without one."""


@dataclass(frozen=True, slots=True)
class Notice:
    """One notification sent to a person, or the complaint an affected user filed."""

    notifier: str
    outcome: str
    detail: str
    sent_s: float | None


@dataclass(frozen=True, slots=True)
class HumanClockView:
    """One wait on a person as the report shows it."""

    kind: ClockKind
    start: str
    """What the clock counts from: 'the incident', 'the harm detected', 'the complaint', ..."""
    start_t_s: float | None
    """That instant in run time (seconds since the run's zero), when the run says."""
    instants: tuple[ClockInstant, ...]
    by: str | None
    via: str | None
    notices: tuple[Notice, ...]
    fallback_used: bool
    fallback_ladder: tuple[str, ...]
    fallback_interrupted: bool
    """The fallback was started by an interruption (Ctrl-C, ``govdrill halt``), not a deadline."""
    deadline: str | None
    deadline_limit_s: float | None
    deadline_from: str
    deadline_at_s: float | None
    """When the deadline passed, in seconds from the clock's start."""
    deadline_verdict: DeadlineVerdict | None
    deadline_reason: str
    picture: Markup

    def instant(self, key: str) -> ClockInstant | None:
        """The instant called ``key``, if this clock has one."""
        return next((i for i in self.instants if i.key == key), None)


@dataclass(frozen=True, slots=True)
class ClaimRow:
    """One text or claim, and what this run shows about it."""

    claim: str
    source: str
    topic: str
    """What the text is about, in our own words (the report quotes no passage)."""
    status: ClaimStatus
    sentence: str
    """One sentence: what the evidence shows and what it does not."""


def human_clocks(run: RunData) -> list[HumanClockView]:
    """The run's waits on a person: its operator stop, then its first complaint."""
    out = []
    if run.summary.human_clock is not None:
        out.append(_operator(run, run.summary.human_clock))
    complaint = next(
        (s for s in run.summary.steps if s.action is Action.CONTEST and s.fired_t_s is not None),
        None,
    )
    if complaint is not None:
        out.append(_contest(run, complaint))
    return out


def _origin(run: RunData) -> tuple[str, float | None]:
    """What the summary's human clock counts from, and its run time when the summary says."""
    inject = next(
        (s for s in run.summary.steps
         if s.action is Action.INJECT and s.phase is StepPhase.DONE and s.fired_t_s is not None),
        None,
    )  # fmt: skip
    if inject is not None:
        return "the incident", inject.fired_t_s
    detected = run.event("harm_detected")
    if detected is not None:
        return "the harm detected", _number(detected.get("t_s"))
    return "", None


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _fallback(run: RunData, deadline: str | None) -> tuple[float | None, tuple[str, ...], bool]:
    """When the fallback for ``deadline`` started (run time), its ladder, and whether an
    interruption started it, from the timeline (an interrupted run's names no deadline)."""
    for event in run.events:
        if event.get("event") != "fallback_started":
            continue
        if event.get("deadline") not in (deadline, None):
            continue
        ladder = event.get("ladder")
        names = tuple(str(x) for x in ladder) if isinstance(ladder, list) else ()
        return _number(event.get("t_s")), names, event.get("deadline") is None
    return None, (), False


def _left(deadline_at: float | None, started: float | None, at: float | None) -> float | None:
    if deadline_at is None or started is None or at is None or at < started:
        return None
    return deadline_at - at


def _operator(run: RunData, hc: HumanClock) -> HumanClockView:
    word, origin_t = _origin(run)
    waiting = run.event("operator_waiting")
    start_t: float | None = None
    if waiting is not None and hc.notified_s is not None and _number(waiting.get("t_s")):
        # The summary's instants are from its own origin; the timeline places the
        # notification in run time, so the origin's run time is exact this way.
        start_t = float(waiting["t_s"]) - hc.notified_s
    elif origin_t is not None:
        start_t = origin_t
    if not word:
        word = "the notification"

    def since(t_s: float | None) -> float | None:
        return None if t_s is None or start_t is None else round(t_s - start_t, 6)

    deadline_at = None
    if hc.notified_s is not None and hc.deadline_s is not None:
        deadline_at = hc.notified_s + hc.deadline_s
    verdict = None if hc.deadline is None else run.summary.deadlines.get(hc.deadline)
    fallback_t, ladder, interrupted = (
        _fallback(run, hc.deadline) if hc.fallback_used else (None, (), False)
    )
    if not ladder and waiting is not None and isinstance(waiting.get("fallback"), list):
        ladder = tuple(str(x) for x in waiting["fallback"])
    answer = run.event("operator_prompt_answer")

    def left(at: float | None) -> float | None:
        return _left(deadline_at, hc.notified_s, at)

    ok = sum(1 for n in hc.notifications if n.outcome.value == "ok")
    instants = [ClockInstant("start", word, 0.0)]
    detected = run.event("harm_detected")
    if word == "the incident" and detected is not None:
        instants.append(ClockInstant("detected", "harm detected", since(_number(detected["t_s"]))))
    instants.append(
        ClockInstant(
            "notified", "notified", hc.notified_s,
            note=f"{len(hc.notifications)} notification(s), {ok} delivered",
            left_s=left(hc.notified_s),
        )
    )  # fmt: skip
    if hc.acknowledged_s is None:
        ack_note = "no prompt answered and no control call seen"
    elif hc.acknowledged_s == hc.acted_s:
        ack_note = "the operator's first control call, in the target's own log"
    else:
        who = "" if answer is None else f" by {answer.get('who', '')}"
        ack_note = f"the terminal prompt answered{who}"
    instants.append(
        ClockInstant("acknowledged", "acknowledged", hc.acknowledged_s, note=ack_note,
                     left_s=left(hc.acknowledged_s))
    )  # fmt: skip
    acted_note = (
        f"{hc.by or 'someone'} through {hc.via or 'a control path'}"
        if hc.acted_s is not None
        else "no control call by a person seen on the paths it was told to use"
    )
    instants.append(
        ClockInstant("acted", "acted", hc.acted_s, note=acted_note, left_s=left(hc.acted_s))
    )
    if fallback_t is not None:
        instants.append(
            ClockInstant(
                "fallback", "fallback started", since(fallback_t),
                note="the harness's own ladder: " + " → ".join(ladder),
                left_s=left(since(fallback_t)),
            )
        )  # fmt: skip
    eff = hc.effective
    instants.append(
        ClockInstant(
            "effective", "effective", eff.value, eff.lower, eff.upper,
            note=_effective_note(
                eff.value, eff.lower, "stop",
                "the harness's fallback" if hc.fallback_used else "the person's action",
            ),
            left_s=left(eff.upper if eff.upper is not None else eff.value),
        )
    )  # fmt: skip
    notices = tuple(
        Notice(n.notifier, n.outcome.value, n.detail[:_DETAIL], n.sent_t_s)
        for n in hc.notifications
    )
    return _view(
        ClockKind.OPERATOR_STOP, word, start_t, instants,
        by=hc.by, via=hc.via, notices=notices, fallback_used=hc.fallback_used, ladder=ladder,
        interrupted=interrupted,
        deadline=hc.deadline, limit=hc.deadline_s, deadline_from="the notification",
        deadline_start=hc.notified_s, deadline_at=deadline_at, judged=verdict,
    )  # fmt: skip


def _effective_note(value: float | None, lower: float | None, what: str, agent: str) -> str:
    if value is None:
        if lower is not None:
            return f"the {what} was not seen to take effect and hold: only a lower bound"
        return f"the {what} was not seen to take effect and hold"
    return f"as the load saw it, between these bounds; brought about by {agent}"


def _contest(run: RunData, step: StepSummary) -> HumanClockView:
    s = run.summary
    word, origin_t = _origin(run)
    sent = step.fired_t_s
    if origin_t is None or word != "the incident":
        word, origin_t = "the complaint", sent
    assert sent is not None and origin_t is not None

    def since(t_s: float | None) -> float | None:
        return None if t_s is None else round(t_s - origin_t, 6)

    filed = run.event("contest_filed", step=step.id) or run.event("contest_filed")
    via = "" if filed is None else str(filed.get("via", ""))
    judged = s.deadlines.get("reversal")
    limit = None if judged is None else float(judged.limit_s)
    sent_s = since(sent)
    deadline_at = None if limit is None or sent_s is None else sent_s + limit
    reversal = run.event("reversal_confirmed")
    fallback_t, ladder, interrupted = _fallback(run, "reversal")
    fallback_used = fallback_t is not None or (
        reversal is not None and reversal.get("by") == "fallback"
    )

    def left(at: float | None) -> float | None:
        return _left(deadline_at, sent_s, at)

    instants = [ClockInstant("start", word, 0.0)]
    detected = run.event("harm_detected")
    if word == "the incident" and detected is not None:
        instants.append(ClockInstant("detected", "harm detected", since(_number(detected["t_s"]))))
    outcome = "—" if step.outcome is None else step.outcome.value
    instants.append(
        ClockInstant(
            "complained", "complaint filed", sent_s, sent_s, since(step.settled_t_s),
            note=f"via {via or 'its channel'}: {outcome}, sent and answered between these bounds",
            left_s=left(sent_s),
        )
    )  # fmt: skip
    if fallback_t is not None:
        instants.append(
            ClockInstant(
                "fallback", "fallback started", since(fallback_t),
                note="the harness's own ladder: " + " → ".join(ladder),
                left_s=left(since(fallback_t)),
            )
        )  # fmt: skip
    metric = s.metrics.get("time_to_reversal")
    value, lower, upper = _after(sent_s, metric)
    instants.append(
        ClockInstant(
            "effective", "reversed", value, lower, upper,
            note=_effective_note(
                value, lower, "reversal",
                "the harness's fallback" if fallback_used else "the service, on the complaint",
            ),
            left_s=left(upper if upper is not None else value),
        )
    )  # fmt: skip
    if reversal is None:
        by = None
    elif fallback_used:
        by = "the harness's fallback ladder"
    else:
        by = "the service, on the complaint"
    notices = (Notice(f"complaint via {via}", outcome, step.detail[:_DETAIL], sent_s),)
    return _view(
        ClockKind.CONTEST, word, origin_t, instants,
        by=by, via=via or None, notices=notices, fallback_used=fallback_used, ladder=ladder,
        interrupted=interrupted,
        deadline="reversal" if judged is not None else None, limit=limit,
        deadline_from="the complaint", deadline_start=sent_s, deadline_at=deadline_at,
        judged=judged,
    )  # fmt: skip


def _after(base: float | None, metric: MetricSummary | None) -> tuple[float | None, ...]:
    """A metric counted from ``base`` as instants: the reversal lies in
    ``[sent + lower, sent + upper]`` (time_to_reversal bounds it from the complaint's call,
    sent at ``sent`` and answered a little later, so these bounds are true if not tightest)."""
    if base is None or metric is None:
        return None, None, None
    return tuple(None if v is None else round(base + float(v), 6)
                 for v in (metric.value, metric.lower, metric.upper))  # fmt: skip


def _view(
    kind: ClockKind,
    start: str,
    start_t: float | None,
    instants: list[ClockInstant],
    *,
    by: str | None,
    via: str | None,
    notices: tuple[Notice, ...],
    fallback_used: bool,
    ladder: tuple[str, ...],
    interrupted: bool,
    deadline: str | None,
    limit: float | None,
    deadline_from: str,
    deadline_start: float | None,
    deadline_at: float | None,
    judged: DeadlineSummary | None,
) -> HumanClockView:
    picture = clock_svg(
        ClockPicture(
            title=f"The human clock: {kind.value}",
            axis=f"seconds from {start}",
            instants=tuple((i.label, i.since_s, i.lower_s, i.upper_s, i.key) for i in instants),
            deadline=None if deadline is None or limit is None else f"{deadline} deadline",
            deadline_start_s=deadline_start,
            deadline_at_s=deadline_at,
        )
    )
    return HumanClockView(
        kind=kind,
        start=start,
        start_t_s=start_t,
        instants=tuple(instants),
        by=by,
        via=via,
        notices=notices,
        fallback_used=fallback_used,
        fallback_ladder=ladder,
        fallback_interrupted=interrupted,
        deadline=deadline,
        deadline_limit_s=limit,
        deadline_from=deadline_from,
        deadline_at_s=deadline_at,
        deadline_verdict=None if judged is None else judged.verdict,
        deadline_reason="" if judged is None else judged.reason,
        picture=picture,
    )


def _judged(clock: HumanClockView) -> tuple[ClaimStatus, str]:
    """The status the clock's own deadline verdict allows, and one sentence on it."""
    what = "stop" if clock.kind is ClockKind.OPERATOR_STOP else "reversal"
    verdict = clock.deadline_verdict
    if verdict is None or clock.deadline_limit_s is None:
        return ClaimStatus.UNVERIFIED, (
            f"The drill declared no deadline for the {what}, so the run judged no time"
            " against it; nothing is claimed."
        )
    limit = f"{clock.deadline_limit_s:g} s"
    ladder = " → ".join(clock.fallback_ladder) or "its own stop ladder"
    if clock.fallback_used and not clock.fallback_interrupted:
        return ClaimStatus.MISSED, (
            f"The {clock.deadline} deadline of {limit} passed without the {what} in effect, so"
            f" the harness's fallback ({ladder}) ended the harm: the harm did not run on, but"
            f" {_human_path(clock)} did not work in time in this run."
        )
    if verdict is DeadlineVerdict.MISSED:
        return ClaimStatus.MISSED, (
            f"The {what} came later than the {clock.deadline} deadline of {limit}"
            f" ({clock.deadline_reason}): this run shows the time was not kept, whatever a"
            " document says."
        )
    if verdict is not DeadlineVerdict.MET:
        return ClaimStatus.UNVERIFIED, (
            f"The run could not prove whether the {what} came within {limit}"
            f" ({clock.deadline_reason}), so nothing is claimed either way."
        )
    if clock.fallback_used:  # started by an interruption, not by the deadline
        return ClaimStatus.UNVERIFIED, (
            f"The run was interrupted and the harness's fallback ended the harm, so it does not"
            f" show that {_human_path(clock)} brings the {what} about."
        )
    if clock.kind is ClockKind.CONTEST:
        return ClaimStatus.MET, (
            f"Within the reversal deadline of {limit}, by the upper bound of what the load"
            f" observed, a complaint through {clock.via or 'its channel'} ended the harm"
            " without the harness stepping in: this shows the channel worked for this complaint"
            " and this defect, not for every user or every kind of harm."
        )
    acted = clock.instant("acted")
    if acted is None or acted.since_s is None:
        return ClaimStatus.UNVERIFIED, (
            f"The stop took effect within {limit}, but no control call by a person was seen in"
            " the target's log, so the run does not show that a person brought it about."
        )
    return ClaimStatus.MET, (
        f"Within the {clock.deadline} deadline of {limit}, by the upper bound of what the load"
        f" observed, {clock.by or 'a person'} stopped the service through"
        f" {clock.via or 'a declared path'} after being notified: this shows a person could"
        " interrupt it in time in this drill, not that every operator, shift or incident would."
    )


def _human_path(clock: HumanClockView) -> str:
    if clock.kind is ClockKind.CONTEST:
        return "the complaint channel"
    return "the path with a person in it"


def _worst(statuses: Iterable[ClaimStatus]) -> ClaimStatus:
    found = set(statuses)
    for status in (ClaimStatus.MISSED, ClaimStatus.UNVERIFIED, ClaimStatus.MET):
        if status in found:
            return status
    return ClaimStatus.NOT_TESTED


def human_claims(clocks: list[HumanClockView]) -> list[ClaimRow]:
    """What the run's human clocks show for EU AI Act Art. 14(4)(e), NIST AI RMF MANAGE 2.4
    and "users can compel reversal within the declared time" (empty without a clock)."""
    if not clocks:
        return []
    stop = next((c for c in clocks if c.kind is ClockKind.OPERATOR_STOP), None)
    contest = next((c for c in clocks if c.kind is ClockKind.CONTEST), None)
    stop_status, stop_sentence = (
        _judged(stop)
        if stop is not None
        else (ClaimStatus.NOT_TESTED,
              "This run handed no stop to a person (no stop: {by: operator}); a complaint by an"
              " affected user is not an overseer's intervention, so the run shows nothing here.")
    )  # fmt: skip
    reversal_status, reversal_sentence = (
        _judged(contest)
        if contest is not None
        else (ClaimStatus.NOT_TESTED,
              "No affected user filed a complaint in this run (no contest: step), so it shows"
              " nothing about users compelling a reversal.")
    )  # fmt: skip
    judged = [_judged(c) for c in clocks]
    manage_status = _worst(status for status, _ in judged)
    manage_sentence = " ".join(sentence for _, sentence in judged)
    return [
        ClaimRow(
            "EU AI Act Art. 14(4)(e)",
            "Regulation (EU) 2024/1689",
            "human oversight: a person assigned to oversee the system can intervene in it or"
            " interrupt it",
            stop_status,
            stop_sentence,
        ),
        ClaimRow(
            "NIST AI RMF MANAGE 2.4",
            "NIST AI 100-1",
            "mechanisms, applied by people who know it is their job, to supersede, disengage or"
            " deactivate a system that behaves outside its intended use",
            manage_status,
            manage_sentence,
        ),
        ClaimRow(
            "Users can compel reversal within the declared time",
            "this drill's reversal deadline",
            "an affected user's complaint through the service's own channel reverses the harm"
            " before the declared deadline",
            reversal_status,
            reversal_sentence,
        ),
    ]


def human_clock_lines(summary: RunSummary) -> list[str]:
    """The human clock as the CLI prints it after a run: one line for an operator stop, one
    for a complaint (none without either)."""
    lines = []
    hc = summary.human_clock
    if hc is not None:
        lines.append(_operator_line(hc, summary))
    complaint = next((s for s in summary.steps if s.action is Action.CONTEST), None)
    if complaint is not None:
        lines.append(_complaint_line(complaint, summary))
    return lines


def _at(value: float | None) -> str:
    return "not seen" if value is None else f"+{value:.3f}s"


def _deadline_tail(name: str | None, limit: float | None, judged: DeadlineSummary | None) -> str:
    if name is None or limit is None:
        return "no deadline declared"
    verdict = "not judged" if judged is None else judged.verdict.value
    return f"{name} deadline {limit:g}s: {verdict}"


def _operator_line(hc: HumanClock, summary: RunSummary) -> str:
    eff = hc.effective
    bounds = "" if eff.value is None else f" [{_num(eff.lower)}, {_num(eff.upper)}]"
    who = ""
    if hc.acted_s is not None:  # names from the target's log: no terminal control codes
        who = f" by {_printable(hc.by or 'someone')} via {_printable(hc.via or '?')}"
    judged = None if hc.deadline is None else summary.deadlines.get(hc.deadline)
    tail = _deadline_tail(hc.deadline, hc.deadline_s, judged)
    fallback = "; FALLBACK: the harness's own ladder stopped it" if hc.fallback_used else ""
    return (
        f"human clock (from the incident): notified {_at(hc.notified_s)}, acknowledged"
        f" {_at(hc.acknowledged_s)}, acted {_at(hc.acted_s)}{who}, effective"
        f" {_at(eff.value)}{bounds}; {tail}{fallback}"
    )


def _complaint_line(step: StepSummary, summary: RunSummary) -> str:
    m = summary.metrics.get("time_to_reversal")
    if m is None or m.value is None:
        measured = "not reversed" if m is None or m.lower is None else f"over {m.lower:.3f}s"
    else:
        measured = f"{m.value:.3f}s [{_num(m.lower)}, {_num(m.upper)}]"
    judged = summary.deadlines.get("reversal")
    tail = _deadline_tail(
        "reversal" if judged is not None else None,
        None if judged is None else float(judged.limit_s),
        judged,
    )
    outcome = "not answered" if step.outcome is None else step.outcome.value
    return f"complaint ({_printable(step.id)}): {outcome}; time to reversal {measured}; {tail}"


def _printable(text: str) -> str:
    """``text`` with control characters (escape sequences a target could send) as ``?``."""
    return "".join(c if c.isprintable() else "?" for c in text)[:_DETAIL]


def _num(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"
