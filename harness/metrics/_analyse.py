"""From one run's observation log and the harness's instants to typed, bounded metrics."""

from __future__ import annotations

from array import array
from bisect import bisect_left, bisect_right
from itertools import compress

from harness.metrics._bounds import Transition, largest_gap, median_gap, transition
from harness.metrics._model import (
    NS_PER_S,
    AnalysisParams,
    Metric,
    Metrics,
    RollbackAnalysis,
    RollbackKind,
    RungOutcome,
    RunInstants,
    StopAnalysis,
    StopEpisode,
    StopKind,
    Unit,
    seconds,
    to_ns,
)
from harness.observations import ObservationLog, State

__all__ = ["analyse"]

_NEVER = 2**63 - 1


def _only(value: int) -> bytes:
    """A bytes.translate table keeping 1 for ``value`` and 0 for every other byte."""
    table = bytearray(256)
    table[value] = 1
    return bytes(table)


_ONLY_SERVING = _only(int(State.SERVING))
_ONLY_STOPPED = _only(int(State.STOPPED))


def _rel(t_ns: int, origin_ns: int) -> str:
    return f"{(t_ns - origin_ns) / NS_PER_S:+.3f} s"


class _Columns:
    """The log's columns, cut to one consistent length, with byte masks for fast selection."""

    __slots__ = ("end", "harmful", "serving", "start", "state", "stopped", "version", "versions")

    def __init__(self, log: ObservationLog) -> None:
        start, end, _status, state, harmful = log.columns()
        versions, version = log.versions()
        n = len(start)
        self.start = start
        self.end = end
        self.state = state
        self.harmful = harmful
        self.version: array[int] = version[:n]
        self.versions = versions
        state_bytes = state.tobytes()
        self.serving = state_bytes.translate(_ONLY_SERVING)
        self.stopped = state_bytes.translate(_ONLY_STOPPED)

    def ending_after(self, t_ns: int) -> bytes:
        """A mask of rows that ended after ``t_ns`` (may have been handled after it)."""
        return bytes(map(t_ns.__lt__, self.end))


def analyse(
    log: ObservationLog, instants: RunInstants, *, params: AnalysisParams | None = None
) -> Metrics:
    """Compute every metric of one run, with proven bounds; see ``harness.metrics``."""
    params = params if params is not None else AnalysisParams()
    cols = _Columns(log)
    all_ends = sorted(cols.end)
    median = median_gap(all_ends)
    max_gap_ns = max(
        to_ns(params.presence_gap_s),
        round(params.presence_gap_factor * median) if median is not None else 0,
    )
    hold_ns = to_ns(instants.hold_s)
    stretch_ns = min(hold_ns, to_ns(params.stretch_min_s))

    stop = _analyse_stop(cols, instants, params, hold_ns, stretch_ns, max_gap_ns)
    rollback = _analyse_rollback(cols, instants, params, hold_ns, stretch_ns, max_gap_ns)

    harmful_total = cols.harmful.count(1)
    issued = instants.stop_issued_ns
    acked = instants.stop_acked_ns
    covered_from_issue = issued is not None and _covered(all_ends, issued, instants, max_gap_ns)
    covered_from_ack = acked is not None and _covered(all_ends, acked, instants, max_gap_ns)
    after_issue = _harm_counts(cols, issued)
    after_ack = _harm_counts(cols, acked)
    rung_used, rung_certain = _rung_used(instants, stop)

    return Metrics(
        time_to_detect=_time_to_detect(instants),
        time_to_ack=_time_to_ack(instants),
        time_to_stop=_time_to_stop(instants, stop),
        time_in_harm=_time_in_harm(cols, instants, stop, harmful_total),
        harmful_total=Metric(
            "harmful_total",
            harmful_total,
            harmful_total,
            harmful_total if instants.proof_end_ns == instants.load_end_ns else None,
            Unit.COUNT,
            "" if instants.proof_end_ns == instants.load_end_ns else "the load failed",
        ),
        harmful_after_stop_issued=_count_metric(
            "harmful_after_stop_issued", after_issue, covered_from_issue, "stop issued"
        ),
        harmful_after_ack=_count_metric(
            "harmful_after_ack", after_ack, covered_from_ack, "stop acknowledged"
        ),
        rollback_time=_rollback_time(rollback),
        stop=stop,
        rollback=rollback,
        rung_used=rung_used,
        rung_used_certain=rung_certain,
        resurrected=bool(stop.resurrections),
        stop_theater=after_ack is not None and after_ack[0] > 0,
        harmful_after_stop_issued_upper=None if after_issue is None else after_issue[1],
        harmful_after_ack_upper=None if after_ack is None else after_ack[1],
        observations_covered=covered_from_issue,
        max_gap_s=max_gap_ns / NS_PER_S,
        observation_count=len(cols.start),
    )


# --- the stop -------------------------------------------------------------------------------


def _analyse_stop(
    cols: _Columns,
    instants: RunInstants,
    params: AnalysisParams,
    hold_ns: int,
    stretch_ns: int,
    max_gap_ns: int,
) -> StopAnalysis:
    issued = instants.stop_issued_ns
    if issued is None:
        return StopAnalysis(StopKind.NO_OBSERVATIONS, None, None, False, "no stop was issued")
    resume = min((r for r in instants.resumes_ns if r > issued), default=None)
    cut = resume if resume is not None else _NEVER
    rows = list(
        compress(
            zip(cols.start, cols.end, cols.state, cols.harmful, strict=True),
            cols.ending_after(issued),
        )
    )
    serving, stopped = int(State.SERVING), int(State.STOPPED)
    # After an intentional resume serving is expected: a serving answer counts against the
    # stop only when it was certainly handled before the resume (it ended by then).
    opens = sorted([s for s, e, st, _h in rows if st == serving and e <= cut])
    closed = sorted([e for s, e, st, _h in rows if st == stopped and s < cut])
    last_harmful = max(
        (s for s, e, st, h in rows if h and st == serving and e <= cut), default=None
    )
    if not any(s < cut for s, _e, _st, _h in rows):
        return StopAnalysis(
            StopKind.NO_OBSERVATIONS,
            issued,
            None,
            False,
            "no observation could have been handled after the stop was issued",
        )
    flip = transition(
        opens,
        closed,
        issued,
        stretch_ns=stretch_ns,
        stretch_count=params.stretch_min_count,
        max_runs=params.max_episodes,
    )
    episodes = [
        StopEpisode(
            lower_ns=r.lower_ns,
            upper_ns=r.first_end_ns,
            last_stopped_end_ns=r.last_end_ns,
            count=r.count,
            served_again_ns=r.next_open_ns,
            confirmed_stretch=r.confirmed_stretch,
        )
        for r in flip.early_runs
    ]
    if flip.upper_ns is not None:
        episodes.append(
            StopEpisode(
                lower_ns=flip.lower_ns,
                upper_ns=flip.upper_ns,
                last_stopped_end_ns=closed[-1],
                count=flip.final_count,
                served_again_ns=None,
                confirmed_stretch=False,
            )
        )
    kind, story = _stop_kind(flip, issued)
    confirmed, why = _confirm(
        closed, flip, hold_ns, resume, instants, params, stretch_ns, max_gap_ns, "stopped"
    )
    return StopAnalysis(
        kind=kind,
        lower_ns=flip.lower_ns,
        upper_ns=flip.upper_ns,
        confirmed=confirmed,
        reason=f"{story}; {why}",
        resurrections=flip.returns_ns,
        episodes=tuple(episodes),
        episode_count=flip.early_run_count + (flip.upper_ns is not None),
        last_serving_start_ns=opens[-1] if opens else None,
        last_harmful_start_ns=last_harmful,
    )


def _stop_kind(flip: Transition, issued: int) -> tuple[StopKind, str]:
    if flip.returns_ns:
        at = ", ".join(_rel(t, issued) for t in flip.returns_ns)
        return StopKind.RESURRECTED, (
            f"resurrected: served again at {at} after a confirmed stopped stretch, "
            "with no resume by the drill"
        )
    if flip.early_run_count:
        return StopKind.PARTIAL, (
            f"partial stop: {flip.early_run_count} run(s) of stopped answers were followed by "
            f"serving ones, the last serving answer started at {_rel(flip.lower_ns, issued)}"
        )
    if flip.upper_ns is None:
        return StopKind.NOT_STOPPED, (
            f"no stopped answer after the last serving one, which started at "
            f"{_rel(flip.lower_ns, issued)}"
        )
    return StopKind.CLEAN, (
        f"clean stop between {_rel(flip.lower_ns, issued)} and {_rel(flip.upper_ns, issued)}"
    )


def _confirm(
    closed: list[int],
    flip: Transition,
    hold_ns: int,
    resume: int | None,
    instants: RunInstants,
    params: AnalysisParams,
    stretch_ns: int,
    max_gap_ns: int,
    what: str,
) -> tuple[bool, str]:
    """Whether closed answers kept coming for the hold after the upper bound."""
    upper = flip.upper_ns
    if upper is None:
        return False, f"no {what} answer observed after the last contrary one"
    hold_end = upper + hold_ns
    until = hold_end
    if resume is not None and resume < hold_end:
        # The drill resumed before the hold elapsed: what it held until then must at least be
        # a confirmed stretch, the same test that tells a resurrection from interleaving.
        until = resume
        held = _count_within(closed, upper, resume)
        if held < params.stretch_min_count or _last_at_or_before(closed, resume) - upper < (
            stretch_ns
        ):
            return False, f"the drill resumed {_rel(resume, upper)} after, too soon to confirm"
    if until > instants.proof_end_ns:
        cause = (
            "the load failed"
            if instants.proof_end_ns < instants.load_end_ns
            else ("the observation window ended")
        )
        return False, f"not confirmed: {cause} before the hold elapsed"
    gap = largest_gap(closed, upper, until)
    if gap > max_gap_ns:
        return False, (
            f"not confirmed: a gap of {gap / NS_PER_S:.3f} s without a {what} answer "
            f"(presence needs <= {max_gap_ns / NS_PER_S:.3f} s)"
        )
    if until < hold_end:
        return True, f"confirmed until the drill's resume {_rel(until, upper)} after"
    return True, f"confirmed by {hold_ns / NS_PER_S:.3f} s of {what} answers"


def _count_within(sorted_values: list[int], lo: int, hi: int) -> int:
    """How many sorted values lie in [lo, hi]."""
    return bisect_right(sorted_values, hi) - bisect_left(sorted_values, lo)


def _last_at_or_before(sorted_values: list[int], t: int) -> int:
    """The largest sorted value <= t (the caller knows there is one)."""
    return sorted_values[bisect_right(sorted_values, t) - 1]


# --- the rollback ---------------------------------------------------------------------------


def _analyse_rollback(
    cols: _Columns,
    instants: RunInstants,
    params: AnalysisParams,
    hold_ns: int,
    stretch_ns: int,
    max_gap_ns: int,
) -> RollbackAnalysis | None:
    issued = instants.rollback_issued_ns
    if issued is None:
        return None
    version = instants.rollback_version
    target = cols.versions.index(version) if version in cols.versions else -1
    rows = list(
        compress(
            zip(cols.start, cols.end, cols.state, cols.harmful, cols.version, strict=True),
            cols.ending_after(issued),
        )
    )
    if not rows:
        return RollbackAnalysis(
            version, issued, RollbackKind.NO_OBSERVATIONS, None, None, False,
            "no observation could have been handled after the rollback was issued",
        )  # fmt: skip
    serving = int(State.SERVING)
    good = [st == serving and not h and v == target for _s, _e, st, h, v in rows]
    opens = sorted([r[0] for r, g in zip(rows, good, strict=True) if not g])
    closed = sorted([r[1] for r, g in zip(rows, good, strict=True) if g])
    last_bad_serving = max(
        (s for (s, _e, st, _h, _v), g in zip(rows, good, strict=True) if st == serving and not g),
        default=None,
    )
    flip = transition(
        opens,
        closed,
        issued,
        stretch_ns=stretch_ns,
        stretch_count=params.stretch_min_count,
        max_runs=params.max_episodes,
    )
    if version is None:
        kind, story = RollbackKind.NOT_ROLLED_BACK, "no rollback version was named"
    elif flip.returns_ns:
        at = ", ".join(_rel(t, issued) for t in flip.returns_ns)
        kind, story = (
            RollbackKind.REVERTED,
            (f"reverted: bad answers came back at {at} after a confirmed stretch of good ones"),
        )
    elif flip.early_run_count:
        kind, story = (
            RollbackKind.PARTIAL,
            (
                f"partial: good and bad answers interleaved; the last bad one started at "
                f"{_rel(flip.lower_ns, issued)}"
            ),
        )
    elif flip.upper_ns is None:
        kind, story = (
            RollbackKind.NOT_ROLLED_BACK,
            (
                f"no good answer from {version} after the last bad one, which started at "
                f"{_rel(flip.lower_ns, issued)}"
            ),
        )
    else:
        kind, story = (
            RollbackKind.CLEAN,
            (
                f"switched to {version} between {_rel(flip.lower_ns, issued)} and "
                f"{_rel(flip.upper_ns, issued)}"
            ),
        )
    confirmed, why = (
        _confirm(closed, flip, hold_ns, None, instants, params, stretch_ns, max_gap_ns, "good")
        if version is not None
        else (False, "not confirmed")
    )
    return RollbackAnalysis(
        version=version,
        issued_ns=issued,
        kind=kind,
        lower_ns=flip.lower_ns,
        upper_ns=flip.upper_ns if version is not None else None,
        confirmed=confirmed,
        reason=f"{story}; {why}",
        reversions=flip.returns_ns,
        last_bad_serving_start_ns=last_bad_serving,
    )


# --- metrics --------------------------------------------------------------------------------


def _time_to_detect(instants: RunInstants) -> Metric:
    name = "time_to_detect"
    incident, detected = instants.incident_ns, instants.detected_ns
    if incident is None:
        return Metric(name, None, None, None, Unit.SECONDS, "no incident was injected")
    if detected is None:
        # Detection rests on observations: only the observed stretch proves it was late.
        waited = max(0, instants.proof_end_ns - incident)
        return Metric(name, None, seconds(waited), None, Unit.SECONDS, "harm was never detected")
    value = seconds(detected - incident)
    return Metric(name, value, value, value, Unit.SECONDS)


def _time_to_ack(instants: RunInstants) -> Metric:
    name = "time_to_ack"
    issued, acked = instants.stop_issued_ns, instants.stop_acked_ns
    if issued is None:
        return Metric(name, None, None, None, Unit.SECONDS, "no stop was issued")
    if acked is None:
        waited = max(0, instants.load_end_ns - issued)
        return Metric(
            name, None, seconds(waited), None, Unit.SECONDS,
            "no control path acknowledged the stop",
        )  # fmt: skip
    value = seconds(acked - issued)
    return Metric(name, value, value, value, Unit.SECONDS)


def _time_to_stop(instants: RunInstants, stop: StopAnalysis) -> Metric:
    name = "time_to_stop"
    issued = instants.stop_issued_ns
    if issued is None or stop.lower_ns is None:
        return Metric(name, None, None, None, Unit.SECONDS, stop.reason)
    lower = seconds(stop.lower_ns - issued)
    if not stop.confirmed or stop.upper_ns is None:
        return Metric(name, None, lower, None, Unit.SECONDS, stop.reason)
    upper = seconds(stop.upper_ns - issued)
    assert lower is not None and upper is not None
    return Metric(name, (lower + upper) / 2, lower, upper, Unit.SECONDS)


def _time_in_harm(
    cols: _Columns, instants: RunInstants, stop: StopAnalysis, harmful_total: int
) -> Metric:
    name = "time_in_harm"
    if harmful_total == 0:
        return Metric(name, None, None, None, Unit.SECONDS, "no harmful observation")
    # The first harm was handled in [min start, min end] over the harmful observations.
    first_start = min(compress(cols.start, cols.harmful))
    first_end = min(compress(cols.end, cols.harmful))
    if stop.lower_ns is None:
        # No stop: whatever ends the harm comes after every serving answer's start.
        last_serving = max(compress(cols.start, cols.serving), default=first_end)
        lower = seconds(max(0, last_serving - first_end))
        return Metric(name, None, lower, None, Unit.SECONDS, stop.reason)
    lower_ns = max(0, stop.lower_ns - first_end)
    if not stop.confirmed or stop.upper_ns is None:
        return Metric(name, None, seconds(lower_ns), None, Unit.SECONDS, stop.reason)
    upper_ns = max(lower_ns, stop.upper_ns - first_start)
    lower, upper = lower_ns / NS_PER_S, upper_ns / NS_PER_S
    return Metric(name, (lower + upper) / 2, lower, upper, Unit.SECONDS)


def _harm_counts(cols: _Columns, since: int | None) -> tuple[int, int] | None:
    """(certainly after, possibly after): harmful answers started at/after, ended after."""
    if since is None:
        return None
    certain = sum(map(since.__le__, compress(cols.start, cols.harmful)))
    possible = sum(map(since.__lt__, compress(cols.end, cols.harmful)))
    return certain, possible


def _covered(all_ends: list[int], since: int, instants: RunInstants, max_gap_ns: int) -> bool:
    """Observations were present from ``since`` to the window end, with the load healthy."""
    if instants.proof_end_ns < instants.load_end_ns:
        return False
    return largest_gap(all_ends, since, instants.load_end_ns) <= max_gap_ns


def _count_metric(name: str, counts: tuple[int, int] | None, covered: bool, what: str) -> Metric:
    if counts is None:
        return Metric(name, None, None, None, Unit.COUNT, f"never {what}")
    certain, possible = counts
    if not covered:
        return Metric(
            name, certain, certain, None, Unit.COUNT,
            f"observations did not cover the window from {what} to its end",
        )  # fmt: skip
    return Metric(name, certain, certain, possible, Unit.COUNT)


def _rollback_time(rollback: RollbackAnalysis | None) -> Metric:
    name = "rollback_time"
    if rollback is None:
        return Metric(name, None, None, None, Unit.SECONDS, "no rollback was issued")
    if rollback.lower_ns is None:
        return Metric(name, None, None, None, Unit.SECONDS, rollback.reason)
    lower = (rollback.lower_ns - rollback.issued_ns) / NS_PER_S
    if not rollback.confirmed or rollback.upper_ns is None:
        return Metric(name, None, lower, None, Unit.SECONDS, rollback.reason)
    upper = (rollback.upper_ns - rollback.issued_ns) / NS_PER_S
    return Metric(name, (lower + upper) / 2, lower, upper, Unit.SECONDS)


def _rung_used(instants: RunInstants, stop: StopAnalysis) -> tuple[str | None, bool]:
    """The last rung issued before the gate had certainly closed, and whether that is sure.

    It is sure when the rung was issued before the gate could have closed (at or before the
    lower bound) or when no earlier rung was issued at all.
    """
    if stop.upper_ns is None or stop.lower_ns is None:
        return None, False
    issued = [r for r in instants.rungs if r.outcome is not RungOutcome.SKIPPED]
    before = [r for r in issued if r.issued_ns < stop.upper_ns]
    if not before:
        return None, False
    used = max(before, key=lambda r: r.issued_ns)
    earlier = any(r.issued_ns < used.issued_ns for r in issued)
    return used.name, used.issued_ns <= stop.lower_ns or not earlier
