"""Which texts each measured fact can be offered as evidence for (never a conformity claim).

The ISO/IEC 42001 entries are the clause and control titles with a one-line paraphrase (the
standard's text is copyrighted); the NIST AI RMF and EU AI Act entries quote the public text.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from harness.report._numbers import format_bounded
from harness.run_summary import RunSummary

__all__ = ["DISCLAIMER", "TEXTS", "Fact", "Text", "facts"]

DISCLAIMER = (
    "This mapping says which requirement or control each measured fact of this run is"
    " aligned with, as evidence a preparer may hand to an auditor. It is not a claim of"
    " conformity with ISO/IEC 42001, the NIST AI RMF or the EU AI Act: conformity is"
    " assessed against the whole system and organisation, not one drill."
)


@dataclass(frozen=True, slots=True)
class Text:
    """One clause, control, subcategory or article."""

    ref: str
    source: str
    title: str
    gist: str


TEXTS: dict[str, Text] = {
    t.ref: t
    for t in (
        Text("ISO/IEC 42001 8.1", "ISO/IEC 42001:2023", "Operational planning and control",
             "operate the planned processes and keep evidence that they were carried out as"
             " planned"),
        Text("ISO/IEC 42001 9.1", "ISO/IEC 42001:2023",
             "Monitoring, measurement, analysis and evaluation",
             "decide what is measured, how and when, and keep evidence of the results"),
        Text("ISO/IEC 42001 10.2", "ISO/IEC 42001:2023", "Nonconformity and corrective action",
             "react to a nonconformity, act to correct it and keep evidence of both"),
        Text("ISO/IEC 42001 A.6.2.6", "ISO/IEC 42001:2023 Annex A",
             "AI system operation and monitoring",
             "define what operating and monitoring the AI system involves, including"
             " intervening when it misbehaves"),
        Text("ISO/IEC 42001 A.6.2.8", "ISO/IEC 42001:2023 Annex A",
             "AI system recording of event logs",
             "decide when in the life cycle event logs are recorded, and record them"),
        Text("NIST AI RMF MANAGE 2.4", "NIST AI 100-1", "Supersede, disengage, or deactivate",
             "“Mechanisms are in place and applied, and responsibilities are assigned and"
             " understood, to supersede, disengage, or deactivate AI systems that demonstrate"
             " performance or outcomes inconsistent with intended use.”"),
        Text("NIST AI RMF MEASURE 2.6", "NIST AI 100-1", "Safety, failing safely, response times",
             "“… Safety metrics reflect system reliability and robustness, real-time"
             " monitoring, and response times for AI system failures.”"),
        Text("EU AI Act Art. 14(4)(e)", "Regulation (EU) 2024/1689", "Human oversight: stop",
             "“to intervene in the operation of the high-risk AI system or interrupt the"
             " system through a \u2018stop\u2019 button or a similar procedure that allows"
             " the system to come to a halt in a safe state”"),
        Text("EU AI Act Art. 12", "Regulation (EU) 2024/1689", "Record-keeping",
             "“High-risk AI systems shall technically allow for the automatic recording of"
             " events (logs) over the lifetime of the system.”"),
    )
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Fact:
    """One measured fact of the run and the texts it supports."""

    name: str
    in_this_run: str
    measured: bool
    refs: tuple[str, ...]
    why: str


@dataclass(frozen=True, slots=True)
class _Seen:
    """What a fact is measured from: the run's summary, and whether it kept a snapshot."""

    summary: RunSummary
    snapshots: bool


Measure = Callable[[_Seen], tuple[str, bool]]


def _metric(seen: _Seen, name: str, deadline: str | None = None) -> tuple[str, bool]:
    summary = seen.summary
    m = summary.metrics.get(name)
    if m is None or m.value is None:
        return "not measured in this run", False
    unit = " s" if m.unit == "s" else ""
    value, _, bounds = format_bounded(m, seconds=bool(unit)).partition(" ")
    text = f"{value}{unit} {bounds}"
    d = summary.deadlines.get(deadline or "")
    if d is not None:
        text += f" — deadline {d.limit_s}{unit}: {d.verdict.value}"
    return text, True


def _stop(seen: _Seen) -> tuple[str, bool]:
    text, ok = _metric(seen, "time_to_stop", "stop")
    if ok and seen.summary.rung_used:
        text += f"; stopped by {seen.summary.rung_used}"
    return text, ok


def _theater(seen: _Seen) -> tuple[str, bool]:
    text, ok = _metric(seen, "harmful_after_ack", "harmful_after_ack")
    if ok:
        text += "; stop theater" if seen.summary.stop_theater else "; no stop theater"
    return text, ok


def _resurrection(seen: _Seen) -> tuple[str, bool]:
    s = seen.summary
    if s.resurrected is None:
        return "not measured in this run", False
    held = "served again after the stop" if s.resurrected else "stayed stopped"
    reason = "" if s.stop is None else s.stop.reason
    return f"{held}; {reason}".strip("; "), True


def _verdicts(seen: _Seen) -> tuple[str, bool]:
    s = seen.summary
    deadlines = s.deadlines.items()
    if not deadlines:
        return "no deadlines judged", False
    bad = [f"{n}: {d.verdict.value}" for n, d in deadlines if not d.verdict.passes]
    return (f"run {s.verdict.value}; " + (", ".join(bad) if bad else "every deadline met")), True


def _truth(seen: _Seen) -> tuple[str, bool]:
    truth = seen.summary.ground_truth
    if truth is None:
        return "the target keeps no event log", False
    text = (
        f"stop claim within observed bounds: {truth.stop_within_bounds};"
        f" log trustworthy: {truth.log_trustworthy}"
    )
    return text, True


def _snapshot(seen: _Seen) -> tuple[str, bool]:
    return ("taken (snapshots/)", True) if seen.snapshots else ("no rollback in this run", False)


def _always(text: str) -> Measure:
    return lambda _seen: (text, True)


_FACTS: tuple[tuple[str, Measure, tuple[str, ...], str], ...] = (
    ("Effective stop (time_to_stop, with bounds)", _stop,
     ("EU AI Act Art. 14(4)(e)", "NIST AI RMF MANAGE 2.4", "ISO/IEC 42001 A.6.2.6",
      "ISO/IEC 42001 8.1"),
     "the interruption was exercised through a real control path and its effect measured from"
     " the answers the service gave, not from the control path's reply"),
    ("Stayed in the safe state through the hold (resurrected)", _resurrection,
     ("EU AI Act Art. 14(4)(e)", "ISO/IEC 42001 A.6.2.6"),
     "a halt in a safe state must last; the hold watched for any answer after the stop"),
    ("Acknowledged versus effective (harmful_after_ack, stop theater)", _theater,
     ("NIST AI RMF MANAGE 2.4", "NIST AI RMF MEASURE 2.6", "ISO/IEC 42001 9.1"),
     "shows whether the deactivation mechanism does what it reports"),
    ("Detection (time_to_detect)", lambda seen: _metric(seen, "time_to_detect", "detect"),
     ("NIST AI RMF MEASURE 2.6", "ISO/IEC 42001 A.6.2.6", "ISO/IEC 42001 9.1"),
     "real-time monitoring of the failure, on the same clock as the response"),
    ("Time in harm (time_in_harm)", lambda seen: _metric(seen, "time_in_harm", "time_in_harm"),
     ("NIST AI RMF MEASURE 2.6", "ISO/IEC 42001 9.1"),
     "the response time for the failure as the users experienced it"),
    ("Rollback verified (rollback_time)", lambda seen: _metric(seen, "rollback_time", "rollback"),
     ("NIST AI RMF MANAGE 2.4", "ISO/IEC 42001 10.2", "ISO/IEC 42001 8.1"),
     "superseding the bad version, confirmed by answers from the target version"),
    ("Reversal on a complaint (time_to_reversal)",
     lambda seen: _metric(seen, "time_to_reversal", "reversal"),
     ("NIST AI RMF MANAGE 2.4", "ISO/IEC 42001 10.2"),
     "an affected user's complaint through the service's own channel, and when the answers"
     " the load got stopped being harmful; the Human clock section says what it shows"),
    ("Deadline verdicts", _verdicts,
     ("ISO/IEC 42001 9.1", "ISO/IEC 42001 10.2"),
     "a missed or unverified deadline is a nonconformity to act on; a met one is the"
     " evaluation's result"),
    ("Target's own event log beside the observations", _truth,
     ("EU AI Act Art. 12", "ISO/IEC 42001 A.6.2.8", "ISO/IEC 42001 9.1"),
     "the system's automatic logs, checked against what was observed"),
    ("Hash-chained timeline, manifest and attestation",
     _always("timeline.jsonl chained line by line; every file in manifest.json"),
     ("EU AI Act Art. 12", "ISO/IEC 42001 A.6.2.8"),
     "automatic, tamper-evident recording of every control action and its instant"),
    ("Evidence snapshot before the rollback", _snapshot,
     ("ISO/IEC 42001 A.6.2.8", "ISO/IEC 42001 10.2"),
     "the state and logs an investigation needs, kept before corrective action replaced them"),
)  # fmt: skip


def facts(summary: RunSummary, *, snapshots: bool) -> list[Fact]:
    """The run's facts, each with what this run measured and the texts it supports."""
    seen = _Seen(summary, snapshots)
    out = []
    for name, measure, refs, why in _FACTS:
        text, measured = measure(seen)
        out.append(Fact(name, text, measured, refs, why))
    return out
