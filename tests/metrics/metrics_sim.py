"""A synthetic load against a scripted server: realistic request timelines for metrics tests."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from harness.observations import Observation, ObservationLog, State

MS = 1_000_000
S = 1_000_000_000
T0 = 1_000 * S
"""An arbitrary monotonic origin, far from zero like a real clock."""


@dataclass(frozen=True)
class Answer:
    """What the scripted server does with a request it handles at one instant."""

    state: State
    harmful: bool = False
    version: str = "v2"


Server = Callable[[int, int], Answer]
"""(handled_at_ns, user) -> the answer."""


def gate(closes_ns: int, *, harm_from_ns: int | None = None, version: str = "v2") -> Server:
    """Serve (harmful from ``harm_from_ns``) until the gate closes, then answer 503."""

    def server(h: int, _user: int) -> Answer:
        if h >= closes_ns:
            return Answer(State.STOPPED, version=version)
        harmful = harm_from_ns is not None and h >= harm_from_ns
        return Answer(State.SERVING, harmful, version)

    return server


def simulate(
    server: Server,
    *,
    users: int,
    begin_ns: int,
    end_ns: int,
    seed: int,
    serve_ms: tuple[float, float] = (5.0, 40.0),
    refuse_ms: tuple[float, float] = (0.3, 2.0),
    think_ms: tuple[float, float] = (0.0, 0.0),
    keep: Callable[[int, int], bool] | None = None,
) -> ObservationLog:
    """Each user sends back-to-back requests; the server handles each at a random instant
    between its start and end; rows are appended roughly in completion order.

    ``keep(start_ns, user)`` drops requests when False (to simulate a dead load).
    """
    rng = random.Random(seed)
    rows: list[Observation] = []
    for user in range(users):
        t = begin_ns + round(rng.uniform(0, serve_ms[1]) * MS)
        while t < end_ns:
            arrive = t + round(rng.uniform(0.05, 1.0) * MS)
            answer = server(arrive, user)
            span = serve_ms if answer.state is State.SERVING else refuse_ms
            end = arrive + round(rng.uniform(*span) * MS)
            if keep is None or keep(t, user):
                rows.append(
                    Observation(
                        start_ns=t,
                        end_ns=end,
                        status=200 if answer.state is State.SERVING else 503,
                        state=answer.state,
                        harmful=answer.harmful,
                        version=answer.version if answer.state is State.SERVING else "",
                    )
                )
            t = end + round(rng.uniform(*think_ms) * MS)
    # Completion order, with a little reordering as a reader thread would produce.
    rows.sort(key=lambda o: o.end_ns + rng.randrange(0, 2 * MS))
    log = ObservationLog()
    log.extend(rows)
    return log


def shuffled(log: ObservationLog, seed: int) -> ObservationLog:
    """The same observations in another arrival order."""
    rows = list(log)
    random.Random(seed).shuffle(rows)
    out = ObservationLog()
    out.extend(rows)
    return out


def log_of(rows: list[tuple[int, int, State, bool, str]]) -> ObservationLog:
    """A log from hand-written (start_ns, end_ns, state, harmful, version) rows."""
    log = ObservationLog()
    for start, end, state, harmful, version in rows:
        status = 200 if state is State.SERVING else 503 if state is State.STOPPED else 500
        log.append(Observation(start, end, status, state, harmful, version))
    return log
