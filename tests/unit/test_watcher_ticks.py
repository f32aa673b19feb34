"""The live transition watcher, fed one answer per millisecond and ticked at each: a change
takes effect on the third new answer, holds exactly a hold after the first, and an old
answer after it withdraws the effect and restarts the hold."""

from __future__ import annotations

from collections.abc import Callable

from harness.observations import Observation, ObservationLog, State
from harness.watch import TransitionWatcher

MS = 1_000_000
S = 1_000_000_000
T0 = 1_000 * S
HOLD = 300 * MS
GATE = T0 + 20 * MS
"""The change is issued at T0; the target's answers change from here."""

Answer = Callable[[int], Observation]


def _serving(start: int, version: str = "v2", harmful: bool = False) -> Observation:
    return Observation(start, start + MS, 200, State.SERVING, harmful, version)


def _stopped(start: int) -> Observation:
    return Observation(start, start + MS, 503, State.STOPPED, False, "")


def _watch(
    answer: Answer, *, version: str | None = None, until: int
) -> tuple[TransitionWatcher, list[tuple[int, bool]]]:
    """A second of serving before T0, then one answer per ms ticked as it ends; returns the
    watcher and the ticks at which its "in effect" changed."""
    log = ObservationLog()
    for start in range(T0 - S, T0, MS):
        log.append(_serving(start, harmful=version is not None))
    watcher = TransitionWatcher(log, T0, hold_ns=HOLD, version=version)
    changes: list[tuple[int, bool]] = []
    in_effect = False
    for now in range(T0 + MS, until + 1, MS):
        log.append(answer(now - MS))
        watcher.held(now)
        if (watcher.effective_ns is not None) != in_effect:
            in_effect = not in_effect
            changes.append((now, in_effect))
    return watcher, changes


def test_a_stop_is_in_effect_on_the_third_refusal_and_holds_a_hold_after_the_first() -> None:
    """Refused from GATE: in effect when the third refusal ends; held at U + hold exactly,
    U being the end of the first refusal."""
    watcher, changes = _watch(lambda t: _stopped(t) if t >= GATE else _serving(t), until=T0 + S)
    first_new_end = GATE + MS
    assert changes == [(GATE + 3 * MS, True)]
    assert watcher.tracker.upper_ns == first_new_end
    assert watcher.held_ns == first_new_end + HOLD


def test_an_old_answer_after_the_effect_withdraws_it_and_restarts_the_hold() -> None:
    """One answer served 50 ms after the gate: the effect is withdrawn at once, comes back
    on the third refusal after it, and the hold counts from the first refusal after it."""
    flap = GATE + 50 * MS

    def answer(t: int) -> Observation:
        return _stopped(t) if t >= GATE and t != flap else _serving(t)

    watcher, changes = _watch(answer, until=T0 + S)
    assert changes == [(GATE + 3 * MS, True), (flap + MS, False), (flap + 4 * MS, True)]
    assert watcher.held_ns == flap + 2 * MS + HOLD


def test_a_rollback_holds_once_only_the_good_version_answers() -> None:
    """Harmful v2 until GATE, harm-free v1 after: the rollback to v1 holds a hold after the
    first good answer; a harm-free v2 answer would not have counted as new."""

    def answer(t: int) -> Observation:
        return _serving(t, "v1") if t >= GATE else _serving(t, "v2", harmful=t % 2 == 0)

    watcher, changes = _watch(answer, version="v1", until=T0 + S)
    assert changes == [(GATE + 3 * MS, True)]
    assert watcher.held_ns == GATE + MS + HOLD


def test_a_hold_is_not_decided_before_its_end_has_been_observed() -> None:
    """Ticks are explicit: asked before U + hold, the watcher says not held, whatever came."""
    watcher, _ = _watch(lambda t: _stopped(t) if t >= GATE else _serving(t), until=GATE + HOLD)
    assert watcher.effective_ns is not None
    assert not watcher.held(GATE + MS + HOLD - 1)
    assert watcher.held(GATE + MS + HOLD)
