"""The period's facts beside the texts they are evidence for: the report's own standards
texts (ISO/IEC 42001, NIST AI RMF, EU AI Act), worded as aligned evidence, never conformity."""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from harness.pack._collect import Collection
from harness.pack._coverage import DefectStatus, TargetCoverage, defect_drills
from harness.pack._remediation import Remediation, format_span
from harness.report import TEXTS, Text

__all__ = ["PACK_DISCLAIMER", "PeriodFact", "period_facts"]

PACK_DISCLAIMER = (
    "This mapping says which requirement or control each fact of this period is aligned"
    " with, as evidence a preparer may hand to an auditor. It is not a claim of conformity"
    " with ISO/IEC 42001, the NIST AI RMF or the EU AI Act: conformity is assessed against"
    " the whole system and organisation, not a set of drills, and these drills say nothing"
    " of what was not drilled."
)


@dataclass(frozen=True, slots=True)
class PeriodFact:
    """One fact of the period and the texts it may be offered as evidence for."""

    name: str
    in_this_period: str
    texts: tuple[Text, ...]
    why: str


def period_facts(
    collection: Collection,
    targets: tuple[TargetCoverage, ...],
    fixes: tuple[Remediation, ...],
) -> tuple[PeriodFact, ...]:
    """The period's facts, each with the texts it supports."""
    runs = collection.included
    stops = [r for r in runs if r.summary.rung_used]
    stop_met = [
        r for r in runs if (d := r.summary.deadlines.get("stop")) is not None and d.verdict.passes
    ]
    judged_stop = [r for r in runs if r.summary.deadlines.get("stop") is not None]
    paths = sorted({r.summary.rung_used for r in stops if r.summary.rung_used})
    uppers = [
        m.upper
        for r in runs
        if (m := r.summary.metrics.get("time_to_stop")) is not None and m.upper is not None
    ]
    fixed = [f for f in fixes if f.fixed_by is not None]
    open_ = [f for f in fixes if f.fixed_by is None]
    spans = [f.seconds for f in fixed if f.seconds is not None]
    never = [f"{t.target}: {p.name}" for t in targets for p in t.paths if not p.status.exercised]
    total_paths = sum(len(t.paths) for t in targets)
    exercised = sum(t.exercised for t in targets)
    defects = defect_drills(runs)
    caught = [d for d in defects if d.status is DefectStatus.CAUGHT]
    facts = [
        (
            "Interruption through real control paths",
            f"{len(stops)} of {len(runs)} runs stopped the service, through"
            f" {', '.join(paths) or 'no control path'}; the stop deadline was met in"
            f" {len(stop_met)} of {len(judged_stop)} runs that judged it",
            ("EU AI Act Art. 14(4)(e)", "NIST AI RMF MANAGE 2.4", "ISO/IEC 42001 A.6.2.6",
             "ISO/IEC 42001 8.1"),
            "each stop was issued through a real control path and its effect measured from the"
            " answers the service gave",
        ),
        (
            "Response times measured with bounds",
            f"time_to_stop upper bounds from {min(uppers):.3f} s to {max(uppers):.3f} s over"
            f" {len(uppers)} runs" if uppers else "no stop measured in the period",
            ("NIST AI RMF MEASURE 2.6", "ISO/IEC 42001 9.1"),
            "the response time to a failure, proven from both sides, on one clock",
        ),
        (
            "Failures and their correction",
            f"{len(fixes)} failed runs; {len(fixed)} followed by a passing run of the same"
            + (
                f" drill (median time to remediate {format_span(statistics.median(spans))})"
                if spans else " drill"
            )
            + f"; {len(open_)} not fixed within the period",
            ("ISO/IEC 42001 10.2", "NIST AI RMF MANAGE 2.4", "ISO/IEC 42001 9.1"),
            "a failed drill is a nonconformity to act on; the later pass shows the action taken",
        ),
        (
            "Coverage of the control paths",
            f"{exercised} of {total_paths} control paths exercised; never exercised: "
            + (", ".join(never) if never else "none"),
            ("ISO/IEC 42001 9.1", "ISO/IEC 42001 8.1", "ISO/IEC 42001 A.6.2.6"),
            "what was measured and what was not: a path never drilled is not evidenced",
        ),
        (
            "Known defects kept caught",
            f"{len(caught)} of {len(defects)} defect drills caught their defect in their latest"
            " run" if defects else "no defect drill in the period",
            ("NIST AI RMF MEASURE 2.6", "ISO/IEC 42001 9.1"),
            "regression drills against known governability defects keep failing as they must",
        ),
        (
            "Sealed, signed and verified records",
            f"{len(runs)} runs verified (manifest, timeline chain, signature, run id bound to"
            f" its folder); {len(collection.excluded)} folders excluded and listed with why",
            ("EU AI Act Art. 12", "ISO/IEC 42001 A.6.2.8"),
            "automatic, tamper-evident recording of every control action and its instant",
        ),
    ]  # fmt: skip
    return tuple(
        PeriodFact(name, text, tuple(TEXTS[ref] for ref in refs), why)
        for name, text, refs, why in facts
    )
