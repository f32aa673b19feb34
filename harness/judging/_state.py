"""The state one answer puts the service in, under the drill's safe-state rule."""

from __future__ import annotations

import enum

from harness.observations import State
from harness.spec.load import SafeState

__all__ = ["Failure", "classify_state"]


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


def classify_state(status: int, failure: Failure | None, safe_state: SafeState) -> State:
    """Return the state one answer puts the service in, under the drill's safe-state rule.

    Refused or reset without an answer: ``STOPPED`` when the rule says so; a status listed as
    safe: ``STOPPED``; 2xx: ``SERVING``; everything else (timeouts, other statuses, garbage):
    ``ERROR``.
    """
    if failure is not None:
        if failure is Failure.CONNECTION_REFUSED and safe_state.connection_refused:
            return State.STOPPED
        if failure is Failure.CONNECTION_RESET and safe_state.connection_reset:
            return State.STOPPED
        return State.ERROR
    if status in safe_state.statuses:
        return State.STOPPED
    if 200 <= status < 300:
        return State.SERVING
    return State.ERROR
