"""The state one answer puts the service in, under the drill's safe-state rule."""

from __future__ import annotations

import enum
import re
from collections.abc import Callable

from harness.judging._answer import Answer, Check
from harness.judging._harm import body_check
from harness.observations import State
from harness.spec.load import SafeState

__all__ = ["Failure", "StateJudge", "classify_state", "compile_state"]


class Failure(enum.Enum):
    """Why a request got no HTTP answer."""

    CONNECTION_REFUSED = "refused"
    """Nothing listens: the connect was refused."""
    CONNECTION_RESET = "reset"
    """The connection was reset, or closed by the server before a complete answer."""
    TIMEOUT = "timeout"
    """No complete answer within the load's timeout."""
    PROTOCOL = "protocol"
    """Anything else: an unparsable answer, an unexpected socket error."""


StateJudge = Callable[[int, Failure | None, bytes], State]
"""``(status, failure, body) -> state``, as returned by :func:`compile_state`."""


def compile_state(safe_state: SafeState) -> StateJudge:
    """Resolve the safe-state rule once into ``(status, failure, body) -> state``.

    Refused or reset without an answer: ``STOPPED`` when the rule says so. A status listed
    as safe: ``STOPPED``, or, when the rule judges the body too, ``STOPPED`` only if the body
    matches and ``ERROR`` otherwise (a 404 from a missing route is not the model's "not
    found"). 2xx: ``SERVING``. Everything else (timeouts, other statuses, garbage):
    ``ERROR``. The body is read only for a listed status, and only when the rule asks.
    """
    statuses = frozenset(safe_state.statuses)
    refused_is_safe = safe_state.connection_refused
    reset_is_safe = safe_state.connection_reset
    says_stopped = _stopped_body(safe_state)

    def classify(status: int, failure: Failure | None, body: bytes) -> State:
        if failure is not None:
            if failure is Failure.CONNECTION_REFUSED and refused_is_safe:
                return State.STOPPED
            if failure is Failure.CONNECTION_RESET and reset_is_safe:
                return State.STOPPED
            return State.ERROR
        if status in statuses:
            if says_stopped is None or says_stopped(Answer(status, {}, body, 0)):
                return State.STOPPED
            return State.ERROR
        if 200 <= status < 300:
            return State.SERVING
        return State.ERROR

    return classify


def classify_state(
    status: int, failure: Failure | None, safe_state: SafeState, body: bytes = b""
) -> State:
    """Return the state one answer puts the service in (see :func:`compile_state`)."""
    return compile_state(safe_state)(status, failure, body)


def _stopped_body(safe_state: SafeState) -> Check | None:
    """The check a listed status's body must pass, or None when any body will do."""
    if not safe_state.judges_body:
        return None
    pattern = re.compile(safe_state.regex) if safe_state.regex is not None else None
    return body_check(safe_state.json_path, safe_state.equals, pattern)
