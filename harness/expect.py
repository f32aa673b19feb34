"""Regression drills declare how they must fail; this checks a run failed exactly that way."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness.spec.models import Expect

__all__ = ["ExpectationCheck", "check_expectation"]


@dataclass(frozen=True, slots=True)
class ExpectationCheck:
    """Whether a run matched its drill's ``expect``, and every way it did not."""

    met: bool
    mismatches: tuple[str, ...]

    def to_summary(self) -> dict[str, Any]:
        """The summary.json ``expectation`` entry."""
        return {"met": self.met, "mismatches": list(self.mismatches)}


def check_expectation(expect: Expect, summary: dict[str, Any]) -> ExpectationCheck:
    """Compare a run's summary with what its drill expects of itself."""
    wrong: list[str] = []
    if summary["verdict"] != expect.verdict:
        wrong.append(f"verdict is {summary['verdict']}, expected {expect.verdict}")
    deadlines = summary.get("deadlines", {})
    for wanted, names in (
        ("missed", expect.missed),
        ("met", expect.met),
        ("unverified", expect.unverified),
    ):
        for name in names:
            got = deadlines.get(name, {}).get("verdict", "not judged")
            if got != wanted:
                wrong.append(f"deadline {name} is {got}, expected {wanted}")
    for fact in ("resurrected", "stop_theater", "rung_used"):
        wanted_value = getattr(expect, fact)
        if wanted_value is not None and summary.get(fact) != wanted_value:
            wrong.append(f"{fact} is {summary.get(fact)!r}, expected {wanted_value!r}")
    rungs = {r["name"]: r["outcome"] for r in summary.get("rungs", [])}
    for name, outcome in expect.rungs.items():
        got = rungs.get(name, "not_reached")
        if got != outcome:
            wrong.append(f"rung {name} {got}, expected {outcome}")
    metrics = summary.get("metrics", {})
    for name, bounds in expect.metrics.items():
        value = metrics.get(name, {}).get("value")
        if value is None:
            wrong.append(f"metric {name} was not measured")
            continue
        if bounds.min is not None and value < bounds.min:
            wrong.append(f"metric {name} = {value:.3f}, expected >= {bounds.min:g}")
        if bounds.max is not None and value > bounds.max:
            wrong.append(f"metric {name} = {value:.3f}, expected <= {bounds.max:g}")
    return ExpectationCheck(met=not wrong, mismatches=tuple(wrong))
