"""The target's own event log set beside the observed bounds: accurate, and trustworthy?"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from harness.metrics._model import GroundTruthCheck, Metrics, RunInstants
from harness.observations import ObservationLog, State
from harness.spec.durations import NS_PER_S, to_ns

__all__ = ["TargetEvent", "check_ground_truth"]

TargetEvent = tuple[int, str, Mapping[str, object]]
"""One line of a target's event log: (t_ns on the host monotonic clock, event, details)."""

_STOP_EVENTS = frozenset({"stop_effective", "draining"})
_BACK_EVENTS = frozenset({"resumed", "started", "ready"})
_NEVER = 2**63 - 1


def check_ground_truth(
    events: Iterable[TargetEvent],
    metrics: Metrics,
    instants: RunInstants,
    *,
    log: ObservationLog | None = None,
    tolerance_s: float = 0.05,
) -> GroundTruthCheck:
    """Compare the target's claimed stop and rollback instants with the observed bounds.

    The stop claim is the first ``stop_effective`` or ``draining`` at or after the stop was
    issued; the rollback claim the first ``version_switched`` to the rollback version at or
    after the rollback was issued. A claim is accurate when it lies within [lower, upper];
    the error is the point estimate minus the claim.

    The log is untrustworthy when answers it says could not happen were observed: a serving
    answer started more than ``tolerance_s`` after the claimed stop and ended before the
    target's next logged ``resumed``, ``started`` or ``ready`` (or the drill's next resume);
    or a serving answer from another version, or a harmful one, started that long after the
    claimed switch and ended before the target's next logged switch away. With ``log``
    every observation is checked; without it only the latest such answer the metrics kept,
    so a claim followed by a logged resume or switch is then given the benefit of the doubt.
    """
    timeline = sorted(events, key=lambda event: event[0])
    # An observation's instants may be off by the workers' clock uncertainty as well.
    tolerance = to_ns(tolerance_s) + instants.clock_uncertainty_ns
    reasons: list[str] = []

    stop, issued = metrics.stop, instants.stop_issued_ns
    stop_claim = stop_within = stop_error = None
    if issued is not None:
        # Claims after the observation window (the harness's own teardown drains the target,
        # and an honest target logs that) say nothing about the stop under drill.
        stop_claim = next(
            (
                t
                for t, e, _d in timeline
                if e in _STOP_EVENTS and issued <= t <= instants.load_end_ns
            ),
            None,
        )
    if stop_claim is not None and issued is not None:
        if stop.lower_ns is not None and stop.upper_ns is not None:
            stop_within = stop.lower_ns <= stop_claim <= stop.upper_ns
            stop_error = (stop.lower_ns + stop.upper_ns) // 2 - stop_claim
        # A process (re)started by a supervisor serves again honestly: its log says so.
        logged_resume = next(
            (t for t, e, _d in timeline if e in _BACK_EVENTS and t > stop_claim), _NEVER
        )
        drill_resume = min((r for r in instants.resumes_ns if r > issued), default=_NEVER)
        until = min(logged_resume, drill_resume)
        found = _served_after_stop(log, metrics, stop_claim + tolerance, until)
        if found is not None:
            at, harmful = found
            what = "a harmful answer" if harmful else "a serving answer"
            reasons.append(
                f"the log claims the stop at {stop_claim} ns but {what} started "
                f"{(at - stop_claim) / NS_PER_S:.3f} s after it"
            )

    rollback = metrics.rollback
    rollback_claim = rollback_within = rollback_error = None
    if rollback is not None and rollback.version is not None:
        version = rollback.version
        rollback_claim = next(
            (
                t
                for t, e, d in timeline
                if e == "version_switched"
                and d.get("to") == version
                and rollback.issued_ns <= t <= instants.load_end_ns
            ),
            None,
        )
        if rollback_claim is not None:
            rollback_claim = _visible_from(timeline, rollback_claim, instants.load_end_ns)
        if rollback_claim is not None:
            if rollback.lower_ns is not None and rollback.upper_ns is not None:
                rollback_within = rollback.lower_ns <= rollback_claim <= rollback.upper_ns
                rollback_error = (rollback.lower_ns + rollback.upper_ns) // 2 - rollback_claim
            until = next(
                (
                    t
                    for t, e, d in timeline
                    if e == "version_switched" and d.get("to") != version and t > rollback_claim
                ),
                _NEVER,
            )
            bad = _bad_after_switch(log, metrics, version, rollback_claim + tolerance, until)
            if bad is not None:
                reasons.append(
                    f"the log claims the switch to {version} at {rollback_claim} ns but a "
                    f"serving answer from another version or a harmful one started "
                    f"{(bad - rollback_claim) / NS_PER_S:.3f} s after it"
                )
    trustworthy = not reasons
    if stop_within is False:
        reasons.append("the claimed stop lies outside the observed bounds")
    if rollback_within is False:
        reasons.append("the claimed rollback lies outside the observed bounds")
    return GroundTruthCheck(
        stop_claimed_ns=stop_claim,
        stop_within_bounds=stop_within,
        stop_error_ns=stop_error,
        rollback_claimed_ns=rollback_claim,
        rollback_within_bounds=rollback_within,
        rollback_error_ns=rollback_error,
        log_trustworthy=trustworthy,
        reasons=tuple(reasons),
    )


def _visible_from(timeline: list[TargetEvent], switched: int, window_end: int) -> int | None:
    """When a version switch at ``switched`` became visible to requests: at once if the
    gate was open, else when the target next reopened it (a rollback made while stopped
    shows only from the resume on); None if that did not happen within the window."""
    gate_open = True
    for t, event, _d in timeline:
        if t > switched:
            break
        if event in _STOP_EVENTS:
            gate_open = False
        elif event in _BACK_EVENTS:
            gate_open = True
    if gate_open:
        return switched
    return next(
        (t for t, e, _d in timeline if e in _BACK_EVENTS and switched < t <= window_end), None
    )


def _served_after_stop(
    log: ObservationLog | None, metrics: Metrics, after: int, until: int
) -> tuple[int, bool] | None:
    """A serving answer started after ``after`` and ended by ``until``: (start, harmful),
    preferring a harmful one."""
    if log is None:
        harmful_at = metrics.stop.last_harmful_start_ns
        if harmful_at is not None and after < harmful_at < until:
            return harmful_at, True
        serving_at = metrics.stop.last_serving_start_ns
        if serving_at is not None and after < serving_at < until:
            return serving_at, False
        return None
    serving = int(State.SERVING)
    first_serving: int | None = None
    first_harmful: int | None = None
    for block in log.blocks():  # block by block: a spilled log is never read whole
        for s, e, st, h in zip(block.start, block.end, block.state, block.harmful, strict=True):
            if st == serving and s > after and e <= until:
                if h and (first_harmful is None or s < first_harmful):
                    first_harmful = s
                if first_serving is None or s < first_serving:
                    first_serving = s
    if first_harmful is not None:
        return first_harmful, True
    if first_serving is not None:
        return first_serving, False
    return None


def _bad_after_switch(
    log: ObservationLog | None, metrics: Metrics, version: str, after: int, until: int
) -> int | None:
    """The start of a serving answer from another version, or a harmful one, in the window."""
    if log is None:
        rollback = metrics.rollback
        at = None if rollback is None else rollback.last_bad_serving_start_ns
        return at if at is not None and after < at < until else None
    versions = log.version_table()
    target = versions.index(version) if version in versions else -1
    serving = int(State.SERVING)
    return min(
        (
            s
            for b in log.blocks()
            for s, e, st, h, v in zip(b.start, b.end, b.state, b.harmful, b.version, strict=True)
            if st == serving and (h or v != target) and s > after and e <= until
        ),
        default=None,
    )
