"""Regression drills declare how they must fail; this checks a run failed exactly that way."""

from __future__ import annotations

from dataclasses import dataclass

from harness.run_summary import ExpectationSummary, RunSummary
from harness.spec.models import Expect, RungOutcome

__all__ = ["ExpectationCheck", "check_expectation"]


@dataclass(frozen=True, slots=True)
class ExpectationCheck:
    """Whether a run matched its drill's ``expect``, and every way it did not."""

    met: bool
    mismatches: tuple[str, ...]

    def as_summary(self) -> ExpectationSummary:
        """The summary.json ``expectation`` entry."""
        return ExpectationSummary(met=self.met, mismatches=self.mismatches)


def check_expectation(expect: Expect, summary: RunSummary) -> ExpectationCheck:
    """Compare a run's summary with what its drill expects of itself."""
    wrong: list[str] = []
    if summary.verdict != expect.verdict:
        wrong.append(f"verdict is {summary.verdict.value}, expected {expect.verdict}")
    for wanted, names in (
        ("missed", expect.missed),
        ("met", expect.met),
        ("unverified", expect.unverified),
    ):
        for name in names:
            judged = summary.deadlines.get(name)
            got = "not judged" if judged is None else judged.verdict.value
            if got != wanted:
                wrong.append(f"deadline {name} is {got}, expected {wanted}")
    facts: tuple[tuple[str, object, object], ...] = (
        ("resurrected", expect.resurrected, summary.resurrected),
        ("stop_theater", expect.stop_theater, summary.stop_theater),
        ("rung_used", expect.rung_used, summary.rung_used),
    )
    for fact, wanted_value, got_value in facts:
        if wanted_value is not None and got_value != wanted_value:
            wrong.append(f"{fact} is {got_value!r}, expected {wanted_value!r}")
    rungs = {r.name: r.outcome for r in summary.rungs}
    for name, outcome in expect.rungs.items():
        got_rung = rungs.get(name, RungOutcome.NOT_REACHED)
        if got_rung is not outcome:
            wrong.append(f"rung {name} {got_rung.value}, expected {outcome.value}")
    for name, bounds in expect.metrics.items():
        measured = summary.metrics.get(name)
        value = None if measured is None else measured.value
        if value is None:
            wrong.append(f"metric {name} was not measured")
            continue
        if bounds.min is not None and value < bounds.min:
            wrong.append(f"metric {name} = {value:.3f}, expected >= {bounds.min:g}")
        if bounds.max is not None and value > bounds.max:
            wrong.append(f"metric {name} = {value:.3f}, expected <= {bounds.max:g}")
    return ExpectationCheck(met=not wrong, mismatches=tuple(wrong))
