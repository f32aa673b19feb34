"""Widening every bound by the clock uncertainty of distributed load workers.

A Locust worker's instants are read onto the harness's clock with its measured offset, each
within ``± u`` of the truth (``harness.load.clock_offset``; ``u`` is the run's
``clock_uncertainty_ns``, the largest over the workers). Every instant the analysis derives
from observations (a gate's ``L`` and ``U``, the first harm, a rollback's switch) may then be
off by ``u`` either way, while the harness's own instants (stop issued, acknowledged,
detected, complaint sent) are exact. So each bound moves outward by ``u`` per observation
instant it rests on:

=====================  ==========  ==========================================================
metric                 widened by  why
=====================  ==========  ==========================================================
``time_to_stop``       ``u``       effective stop (observations) minus stop issued (harness)
``rollback_time``      ``u``       the switch (observations) minus rollback issued (harness)
``time_to_reversal``   ``u``       end of harm (observations) minus complaint (harness)
``time_in_harm``       ``2u``      end of harm minus first harm, both from observations
``time_to_detect``     0           detection and injection are the harness's instants
``time_to_ack``        0           the harness's instants
=====================  ==========  ==========================================================

Lower bounds of durations are clamped at 0, and a gate's ``L`` never moves before the
change was issued (it cannot take effect before it is asked for). The counts that split
answers at an instant are widened where they are counted (``harness.metrics._analyse``): an
answer is certainly in a phase only if it is even ``u`` inside it, possibly in it if it is
within ``u`` of it. With ``u = 0`` (one local load child) nothing changes.
"""

from __future__ import annotations

import dataclasses

from harness.metrics._model import (
    Metric,
    Metrics,
    RollbackAnalysis,
    RunInstants,
    StopAnalysis,
)
from harness.spec.durations import NS_PER_S

__all__ = ["widen", "widen_stop"]


def widen(metrics: Metrics, instants: RunInstants) -> Metrics:
    """``metrics`` with every bound moved outward by the run's clock uncertainty."""
    u = instants.clock_uncertainty_ns
    if u <= 0:
        return metrics
    return dataclasses.replace(
        metrics,
        time_to_stop=_metric(metrics.time_to_stop, u),
        time_in_harm=_metric(metrics.time_in_harm, 2 * u),
        rollback_time=_metric(metrics.rollback_time, u),
        time_to_reversal=(
            None if metrics.time_to_reversal is None else _metric(metrics.time_to_reversal, u)
        ),
        stop=widen_stop(metrics.stop, u, instants.stop_issued_ns),
        rollback=_rollback(metrics.rollback, u),
    )


def widen_stop(stop: StopAnalysis, u_ns: int, issued_ns: int | None) -> StopAnalysis:
    """The effective stop's ``(L, U]`` moved outward by ``u_ns``, ``L`` not before the issue."""
    if u_ns <= 0:
        return stop
    lower, upper = stop.lower_ns, stop.upper_ns
    if lower is not None:
        lower = lower - u_ns if issued_ns is None else max(issued_ns, lower - u_ns)
    return dataclasses.replace(
        stop, lower_ns=lower, upper_ns=None if upper is None else upper + u_ns
    )


def _rollback(rollback: RollbackAnalysis | None, u_ns: int) -> RollbackAnalysis | None:
    if rollback is None:
        return None
    lower, upper = rollback.lower_ns, rollback.upper_ns
    return dataclasses.replace(
        rollback,
        lower_ns=None if lower is None else max(rollback.issued_ns, lower - u_ns),
        upper_ns=None if upper is None else upper + u_ns,
    )


def _metric(metric: Metric, u_ns: int) -> Metric:
    """A duration's bounds moved outward by ``u_ns`` (the lower not below 0); the value is
    the new midpoint when both bounds are known."""
    u = u_ns / NS_PER_S
    lower = None if metric.lower is None else max(0.0, metric.lower - u)
    upper = None if metric.upper is None else metric.upper + u
    value = None if lower is None or upper is None else (lower + upper) / 2
    return dataclasses.replace(metric, value=value, lower=lower, upper=upper)
