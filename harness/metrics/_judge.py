"""Conservative verdicts: a deadline is met only when the proven upper bound is within it."""

from __future__ import annotations

from harness.metrics._model import DeadlineResult, Deadlines, DeadlineVerdict, Metric, Metrics

__all__ = ["judge"]


def judge(metrics: Metrics, deadlines: Deadlines) -> tuple[DeadlineResult, ...]:
    """Judge every deadline that has a limit, in the drill file's order of names."""
    pairs: tuple[tuple[str, float | None, Metric], ...] = (
        ("detect", deadlines.detect_s, metrics.time_to_detect),
        ("ack", deadlines.ack_s, metrics.time_to_ack),
        ("stop", deadlines.stop_s, metrics.time_to_stop),
        ("time_in_harm", deadlines.time_in_harm_s, metrics.time_in_harm),
        ("harmful_after_stop", deadlines.harmful_after_stop, metrics.harmful_after_stop_issued),
        ("harmful_after_ack", deadlines.harmful_after_ack, metrics.harmful_after_ack),
        ("rollback", deadlines.rollback_s, metrics.rollback_time),
    )
    return tuple(
        _verdict(name, limit, measured) for name, limit, measured in pairs if limit is not None
    )


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
