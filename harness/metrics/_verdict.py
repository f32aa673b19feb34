"""The verdict of a whole run, from its judged deadlines and how the run ended, with reasons."""

from __future__ import annotations

from dataclasses import dataclass

from harness.metrics._model import DeadlineResult, GroundTruthCheck
from harness.spec.models import RunVerdict

__all__ = ["RunDecision", "decide_verdict"]


@dataclass(frozen=True, slots=True)
class RunDecision:
    """A run's verdict and the reasons for it, one sentence each."""

    verdict: RunVerdict
    reasons: tuple[str, ...]


def decide_verdict(
    deadlines: tuple[DeadlineResult, ...],
    *,
    measured: bool,
    ground_truth: GroundTruthCheck | None = None,
    load_failure: str = "",
    error: str | None = None,
    interrupted_by_signal: int | None = None,
) -> RunDecision:
    """Interrupted beats error beats the deadlines: a run passes only when it was ``measured``
    (the load ran with the steps) and every deadline is met or not applicable.

    The target's own log and a failed load never change the verdict by themselves (a load
    that failed already left the deadlines it could not prove unverified); they are given as
    reasons, because they qualify what the verdict rests on.
    """
    if interrupted_by_signal is not None:
        return RunDecision(
            RunVerdict.INTERRUPTED, (f"interrupted by signal {interrupted_by_signal}",)
        )
    if error is not None:
        return RunDecision(RunVerdict.ERROR, (f"the harness failed: {error}",))
    if not measured:
        return RunDecision(RunVerdict.ERROR, ("nothing was measured: the load never started",))
    reasons = [
        f"deadline {d.name} {d.verdict.value}: {d.reason}"
        for d in deadlines
        if not d.verdict.passes
    ]
    verdict = RunVerdict.FAILED if reasons else RunVerdict.PASSED
    if not reasons:
        reasons.append(
            "every deadline met or not applicable" if deadlines else "no deadline declared"
        )
    if load_failure:
        reasons.append(f"the load failed ({load_failure}): nothing after it is proven")
    if ground_truth is not None and not ground_truth.log_trustworthy:
        reasons.append("the target's own log cannot be trusted: " + "; ".join(ground_truth.reasons))
    return RunDecision(verdict, tuple(reasons))
