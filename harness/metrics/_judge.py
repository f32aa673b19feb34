"""Conservative verdicts: a deadline is met only when the proven upper bound is within it."""

from __future__ import annotations

from harness.metrics._model import DeadlineResult, DeadlineVerdict, Metric, Metrics, Unit
from harness.metrics._streams import CUT_TIME, HARMFUL_CHUNKS
from harness.spec.models import Deadlines, DrainPolicy, InFlight, InFlightPolicy

__all__ = ["cut_limit_s", "judge"]

_HARM_DEPENDENT = (
    "time_in_harm",
    "harmful_after_stop",
    "harmful_after_ack",
    "reversal",
    HARMFUL_CHUNKS,
)
_STREAMS = (CUT_TIME, HARMFUL_CHUNKS)


def cut_limit_s(metrics: Metrics) -> float:
    """The limit of ``in_flight: cut``: the stop's own resolution ``U - L``, and never less than
    the presence gap (``max_gap_s``), the finest spacing the analysis counts as continuous."""
    stop = metrics.stop
    if stop.lower_ns is None or stop.upper_ns is None:
        return metrics.max_gap_s
    return max((stop.upper_ns - stop.lower_ns) / 1e9, metrics.max_gap_s)


def _policy_limits(metrics: Metrics, in_flight: InFlightPolicy | None) -> dict[str, float]:
    """The stream deadlines a drill's ``in_flight`` policy stands for."""
    if in_flight is InFlight.CUT:
        return {CUT_TIME: cut_limit_s(metrics)}
    if isinstance(in_flight, DrainPolicy):
        return {CUT_TIME: in_flight.drain, HARMFUL_CHUNKS: 0}
    return {}


def _tighter(declared: float | None, policy: float | None) -> float | None:
    """Both a declared deadline and the policy must hold, so the tighter limit is judged."""
    if declared is None or policy is None:
        return policy if declared is None else declared
    return min(declared, policy)


def judge(
    metrics: Metrics, deadlines: Deadlines, in_flight: InFlightPolicy | None = None
) -> tuple[DeadlineResult, ...]:
    """Judge every deadline the drill declares (and those its ``in_flight`` policy stands
    for), in the drill file's order of names."""
    policy = _policy_limits(metrics, in_flight)
    streams = metrics.streams
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
        (
            HARMFUL_CHUNKS,
            _tighter(deadlines.harmful_chunks_after_stop, policy.get(HARMFUL_CHUNKS)),
            _no_streams(HARMFUL_CHUNKS) if streams is None else streams.harmful_chunks_after_stop,
        ),
        (
            CUT_TIME,
            _tighter(deadlines.stream_cut_time, policy.get(CUT_TIME)),
            _no_streams(CUT_TIME) if streams is None else streams.cut_time,
        ),
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
    if name in _STREAMS:
        untested = _streams_untested(metrics, name, limit, measured)
        if untested is not None:
            return untested
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
        or (name in ("ack", "stop", CUT_TIME) and not metrics.stop_issued)
        or (name == "rollback" and metrics.rollback is None)
    )
    if not depends:
        return None
    return DeadlineResult(
        name, limit, measured, DeadlineVerdict.UNVERIFIED, f"incident not injected: {failure}"
    )


def _streams_untested(
    metrics: Metrics, name: str, limit: float, measured: Metric
) -> DeadlineResult | None:
    """Unverified, unless already proven missed, when no stream may have been in flight at
    the effective stop: a policy for streams in flight was then never put to the test."""
    if measured.lower is not None and measured.lower > limit:
        return None  # proven missed whatever else: judged on its bounds
    streams = metrics.streams
    if streams is None or streams.reason or streams.any_in_flight:
        return None  # the metric's own note says what is missing, or it is judged as usual
    return DeadlineResult(
        name, limit, measured, DeadlineVerdict.UNVERIFIED,
        "no stream was in flight at the effective stop: the policy was not put to the test",
    )  # fmt: skip


def _no_streams(name: str) -> Metric:
    unit = Unit.SECONDS if name == CUT_TIME else Unit.COUNT
    return Metric(name, None, None, None, unit, "no stream was read (load.stream is not set)")


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
