"""Bounds widened by the workers' clock uncertainty still contain the truth when each worker's
instants are off by up to that much; with no uncertainty nothing changes."""

from __future__ import annotations

import dataclasses
import random

from harness.metrics import Metrics, RunInstants, analyse
from harness.observations import Observation, ObservationLog, State
from tests.metrics.metrics_sim import MS, T0, S, gate, simulate

ISSUED = T0 + S // 2
END = T0 + 2 * S
HARM_FROM = T0 + S // 4
U = 20 * MS
"""Clock uncertainty: far wider than the resolution 20 users give, so it decides."""


def _skewed(log: ObservationLog, errors: tuple[int, ...], seed: int) -> ObservationLog:
    """The same requests as ``len(errors)`` workers report them, each user on one worker whose
    instants are off by that worker's error (its offset estimate missed by that much)."""
    rng = random.Random(seed)
    out = ObservationLog()
    for obs in log:
        error = errors[rng.randrange(len(errors))]
        out.append(
            dataclasses.replace(obs, start_ns=obs.start_ns + error, end_ns=obs.end_ns + error)
        )
    return out


def _run(seed: int, u: int, errors: tuple[int, ...]) -> tuple[int, Metrics]:
    rng = random.Random(seed)
    closes = ISSUED + round(rng.uniform(50, 800) * MS)
    truth = simulate(
        gate(closes, harm_from_ns=HARM_FROM), users=12, begin_ns=T0, end_ns=END, seed=seed,
        serve_ms=(5.0, 20.0), refuse_ms=(1.0, 5.0),
    )  # fmt: skip
    instants = RunInstants(
        load_start_ns=T0, load_end_ns=END, hold_s=0.5, stop_issued_ns=ISSUED,
        clock_uncertainty_ns=u,
    )  # fmt: skip
    return closes, analyse(_skewed(truth, errors, seed), instants)


def _contains(closes: int, metrics: Metrics) -> bool:
    stop, in_harm = metrics.stop, metrics.time_in_harm
    assert stop.lower_ns is not None and stop.upper_ns is not None
    assert in_harm.lower is not None and in_harm.upper is not None
    true_in_harm = (closes - HARM_FROM) / S
    return (
        stop.lower_ns <= closes <= stop.upper_ns
        and in_harm.lower <= true_in_harm <= in_harm.upper
        and metrics.time_to_stop.lower is not None
        and metrics.time_to_stop.upper is not None
        and metrics.time_to_stop.lower <= (closes - ISSUED) / S <= metrics.time_to_stop.upper
    )


def test_widened_bounds_contain_the_truth_with_skewed_workers() -> None:
    """Two workers whose instants are off by +u and -u (the worst the estimate allows): over
    40 timelines the gate instant, time_to_stop and time_in_harm are always inside."""
    for seed in range(40):
        closes, metrics = _run(seed, U, (U, -U))
        assert metrics.stop.confirmed, (seed, metrics.stop.reason)
        assert _contains(closes, metrics), (seed, closes, metrics.stop, metrics.time_in_harm)


def test_unwidened_bounds_miss_the_truth_with_the_same_workers() -> None:
    """Without the widening, the same skewed workers put the truth outside the bounds in many
    timelines: the widening is what keeps coverage at 100 %."""
    misses = sum(not _contains(*_run(seed, 0, (U, -U))) for seed in range(40))
    assert misses >= 8


def test_no_uncertainty_changes_nothing() -> None:
    """With u = 0 the analysis is exactly the analysis without the field."""
    log = simulate(gate(ISSUED + 300 * MS, harm_from_ns=HARM_FROM), users=5, begin_ns=T0,
                   end_ns=END, seed=3)  # fmt: skip
    plain = RunInstants(load_start_ns=T0, load_end_ns=END, hold_s=0.5, stop_issued_ns=ISSUED)
    zero = dataclasses.replace(plain, clock_uncertainty_ns=0)
    assert analyse(log, plain) == analyse(log, zero)


def test_every_bound_moves_out_by_u_per_observation_instant() -> None:
    """time_to_stop and the gate move by u, time_in_harm by 2u (two observation instants),
    the harness's own instants (detect) not at all; lower bounds never go below 0 nor the
    gate before the issue."""
    log = simulate(gate(ISSUED + 300 * MS, harm_from_ns=HARM_FROM), users=10, begin_ns=T0,
                   end_ns=END, seed=5)  # fmt: skip
    base = RunInstants(load_start_ns=T0, load_end_ns=END, hold_s=0.5, stop_issued_ns=ISSUED,
                       incident_ns=T0 + S // 5, detected_ns=HARM_FROM + 30 * MS)  # fmt: skip
    plain = analyse(log, base)
    wide = analyse(log, dataclasses.replace(base, clock_uncertainty_ns=U))
    u = U / S
    assert plain.stop.lower_ns is not None and plain.stop.upper_ns is not None
    assert wide.stop.lower_ns == max(ISSUED, plain.stop.lower_ns - U)
    assert wide.stop.upper_ns == plain.stop.upper_ns + U
    for name, k in (("time_to_stop", 1), ("time_in_harm", 2)):
        p, w = getattr(plain, name), getattr(wide, name)
        assert w.lower == max(0.0, p.lower - k * u), name
        assert abs(w.upper - (p.upper + k * u)) < 1e-12, name
        assert w.value == (w.lower + w.upper) / 2
    assert wide.time_to_detect == plain.time_to_detect


def test_counts_split_at_an_instant_are_widened() -> None:
    """An answer within u of the stop's issue is only possibly after it, never certainly."""
    log = ObservationLog()
    log.append(Observation(ISSUED + 5 * MS, ISSUED + 6 * MS, 200, State.SERVING, True, "v2"))
    base = RunInstants(load_start_ns=T0, load_end_ns=END, hold_s=0.5, stop_issued_ns=ISSUED)
    plain = analyse(log, base).harmful_after_stop_issued
    wide = analyse(log, dataclasses.replace(base, clock_uncertainty_ns=U)).harmful_after_stop_issued
    assert plain.lower == 1
    assert wide.lower == 0 and wide.value == 0


def test_the_target_log_check_allows_for_the_clock_uncertainty() -> None:
    """A serving answer 60 ms after the target's claimed stop makes the log untrustworthy on
    one clock (50 ms tolerance), not when the answer's instants may be 20 ms off."""
    from harness.metrics import check_ground_truth

    claim = ISSUED + 100 * MS
    log = ObservationLog()
    log.append(Observation(claim + 60 * MS, claim + 65 * MS, 200, State.SERVING, False, "v2"))
    log.append(Observation(claim + 70 * MS, claim + 71 * MS, 503, State.STOPPED, False, ""))
    events = [(claim, "stop_effective", {})]
    for u, trusted in ((0, False), (U, True)):
        instants = RunInstants(
            load_start_ns=T0, load_end_ns=END, hold_s=0.5, stop_issued_ns=ISSUED,
            clock_uncertainty_ns=u,
        )  # fmt: skip
        check = check_ground_truth(events, analyse(log, instants), instants, log=log)
        assert check.log_trustworthy is trusted, (u, check.reasons)
