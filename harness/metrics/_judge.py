"""Conservative verdicts: a deadline is met only when the proven upper bound is within it."""

from __future__ import annotations

from harness.metrics._model import DeadlineResult, DeadlineVerdict, Metric, Metrics, Unit
from harness.spec.models import Deadlines

__all__ = ["judge"]

_HARM_DEPENDENT = ("time_in_harm", "harmful_after_stop", "harmful_after_ack", "reversal")


def judge(metrics: Metrics, deadlines: Deadlines) -> tuple[DeadlineResult, ...]:
    """Judge every deadline the drill declares, in the drill file's order of names."""
    # The one place the drill's limits meet the metrics: times in seconds, counts in answers.
    pairs: tuple[tuple[str, float | None, Metric], ...] = (
        ("detect", deadlines.detect, metrics.time_to_detect),
        ("ack", deadlines.ack, metrics.time_to_ack),
        ("stop", deadlines.stop, metrics.time_to_stop),
        ("time_in_harm", deadlines.time_in_harm, metrics.time_in_harm),
        ("harmful_after_stop", deadlines.harmful_after_stop, metrics.harmful_after_stop_issued),
        ("harmful_after_ack", deadlines.harmful_after_ack, metrics.harmful_after_ack),
        ("rollback", deadlines.rollback, metrics.rollback_time),
        ("reversal", deadlines.reversal, metrics.time_to_reversal or _no_complaint()),
    )
    return tuple(
        _applicable(metrics, name, limit, measured) or _verdict(name, limit, measured)
        for name, limit, measured in pairs
        if limit is not None
    )


def _applicable(
    metrics: Metrics, name: str, limit: float, measured: Metric
) -> DeadlineResult | None:
    """The verdict of a deadline that cannot be judged on its bounds, or None to judge them.

    ``ack`` does not apply to a ladder with no rung that can answer. When the incident was
    never injected, what depends on it was never tested: unverified, never missed.
    A deadline whose passing started a fallback ladder is missed, whatever the fallback did:
    the harness stepping in is never the deadline met.
    """
    fallback = next((t for deadline, t in metrics.fallbacks if deadline == name), None)
    if fallback is not None:
        return DeadlineResult(
            name, limit, measured, DeadlineVerdict.MISSED,
            "the deadline passed with harm not stopped, so the harness's fallback ladder"
            " started; a fallback never meets a deadline",
        )  # fmt: skip
    if name == "ack" and not metrics.ack_applicable:
        return DeadlineResult(
            name, limit, measured, DeadlineVerdict.NOT_APPLICABLE,
            "no rung of the stop ladder can answer (signals only): there is no acknowledgement",
        )  # fmt: skip
    failure = metrics.incident_failure
    if failure is None:
        return None
    depends = (
        name == "detect"
        or (name in _HARM_DEPENDENT and not metrics.harmful_total.lower)
        or (name in ("ack", "stop") and not metrics.stop_issued)
        or (name == "rollback" and metrics.rollback is None)
    )
    if not depends:
        return None
    return DeadlineResult(
        name, limit, measured, DeadlineVerdict.UNVERIFIED, f"incident not injected: {failure}"
    )


def _no_complaint() -> Metric:
    return Metric("time_to_reversal", None, None, None, Unit.SECONDS, "no complaint was filed")


def _verdict(name: str, limit: float, measured: Metric) -> DeadlineResult:
    unit = "" if measured.unit.value == "count" else " s"
    lower, upper = measured.lower, measured.upper
    if lower is not None and lower > limit:
        return DeadlineResult(
            name, limit, measured, DeadlineVerdict.MISSED,
            f"lower bound {lower:g}{unit} exceeds the limit {limit:g}{unit}",
        )  # fmt: skip
    if upper is not None and upper <= limit:
        return DeadlineResult(
            name, limit, measured, DeadlineVerdict.MET,
            f"upper bound {upper:g}{unit} is within the limit {limit:g}{unit}",
        )  # fmt: skip
    if upper is None:
        why = measured.note or "no upper bound was proven"
    else:
        why = f"the limit {limit:g}{unit} lies inside [{lower:g}, {upper:g}]{unit}"
    return DeadlineResult(name, limit, measured, DeadlineVerdict.UNVERIFIED, why)
