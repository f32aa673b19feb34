"""The live watcher and the final analysis decide "held" by one definition: replaying an
observation stream through both gives the same decision."""

from __future__ import annotations

import pytest

from harness.metrics import RunInstants, analyse
from harness.observations import ObservationLog, State
from harness.watch import TransitionWatcher
from tests.metrics.metrics_sim import MS, T0, Answer, S, Server, gate, simulate

ISSUED = T0 + 2 * S
CLOSES = ISSUED + 30 * MS
END = ISSUED + 4 * S
HOLD_S = 1.0
LAG = 2 * MS
"""How long after its end an observation reaches the harness."""


def _replay(
    log: ObservationLog, issued: int, *, version: str | None = None, end: int = END
) -> TransitionWatcher:
    """Feed the rows to a live watcher in arrival order, ticking as each one arrives, the way
    the engine's loop does; the watcher is created when the change is issued."""
    live = ObservationLog()
    watcher: TransitionWatcher | None = None
    for obs in log:
        now = obs.end_ns + LAG
        if watcher is None and now >= issued:
            watcher = TransitionWatcher(live, issued, hold_ns=round(HOLD_S * S), version=version)
        live.append(obs)
        if watcher is not None:
            watcher.held(now)
    assert watcher is not None
    watcher.held(end)
    return watcher


def _paused(begin: int, length: int) -> object:
    """A load that sends nothing for ``length`` from ``begin`` (a stalled client pool)."""
    return lambda start, _user: not begin <= start < begin + length


def _partial(h: int, user: int) -> Answer:
    if h >= CLOSES and user % 2:
        return Answer(State.STOPPED)
    return Answer(State.SERVING, True, "v2")


def _resurrects(h: int, _user: int) -> Answer:
    if CLOSES <= h < CLOSES + 1500 * MS:
        return Answer(State.STOPPED)
    return Answer(State.SERVING, True, "v2")


STOPS: dict[str, tuple[Server, dict[str, object]]] = {
    "clean": (gate(CLOSES), {}),
    "gap of 450 ms right after the stop": (
        gate(CLOSES),
        {"keep": _paused(CLOSES + 40 * MS, 450 * MS), "refuse_ms": (0.3, 2.0)},
    ),
    "gap of 450 ms in every hold": (
        gate(CLOSES),
        {"keep": lambda start, _u: (start - CLOSES) % (900 * MS) > 450 * MS or start < CLOSES},
    ),
    "partial, never holds": (_partial, {}),
    "resurrected": (_resurrects, {}),
    "sparse, one request a second": (gate(CLOSES), {"users": 1, "think_ms": (900.0, 1000.0)}),
}


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("name", list(STOPS))
def test_live_and_final_agree_on_a_stop(name: str, seed: int) -> None:
    """Replayed through the live watcher and analysed after the run, the stop held for both
    or for neither; when it held, both bound it by the same first stopped answer. A live
    decision undone later by a resurrection is the analysis's to report, never hidden."""
    server, extra = STOPS[name]
    kwargs: dict[str, object] = {"users": 10, **extra}
    log = simulate(server, begin_ns=T0, end_ns=END, seed=seed, **kwargs)  # type: ignore[arg-type]
    watcher = _replay(log, ISSUED)
    instants = RunInstants(load_start_ns=T0, load_end_ns=END, hold_s=HOLD_S, stop_issued_ns=ISSUED)
    stop = analyse(log, instants).stop
    if name == "resurrected":
        assert watcher.held_ns is not None and not stop.confirmed and stop.resurrections
        return
    assert (watcher.held_ns is not None) == stop.confirmed, stop.reason
    if stop.confirmed:
        assert watcher.tracker.upper_ns == stop.upper_ns


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("gap_ms", [0, 450])
def test_live_and_final_agree_on_a_rollback(gap_ms: int, seed: int) -> None:
    """A switch from v2 to v1, with or without a stalled load right after it: the live
    rollback watcher and the analysis agree it held, and on its first good answer."""
    switch = ISSUED + 20 * MS

    def server(h: int, _user: int) -> Answer:
        return Answer(State.SERVING, h < switch, "v1" if h >= switch else "v2")

    log = simulate(
        server,
        users=10,
        begin_ns=T0,
        end_ns=END,
        seed=seed,
        keep=_paused(switch + 40 * MS, gap_ms * MS),  # type: ignore[arg-type]
    )
    watcher = _replay(log, ISSUED, version="v1")
    instants = RunInstants(
        load_start_ns=T0,
        load_end_ns=END,
        hold_s=HOLD_S,
        rollback_issued_ns=ISSUED,
        rollback_version="v1",
    )
    rollback = analyse(log, instants).rollback
    assert rollback is not None
    assert (watcher.held_ns is not None) == rollback.confirmed, rollback.reason
    assert rollback.confirmed
    assert watcher.tracker.upper_ns == rollback.upper_ns
