"""The complaint channel: what an affected user's ``POST /v1/feedback`` sets in motion.

Three answers to a complaint, chosen at start-up so a request never branches on options:

- ``auto-rollback:N``: the Nth complaint since the last rollback rolls the service back to
  its last release known good, before the complaint is answered;
- ``queue``: complaints wait for a human, who lists them (``GET /admin/complaints``) and
  resolves one (``POST /admin/complaints/{id}/resolve``), which rolls back;
- the ``complaint_black_hole`` defect: every complaint is answered 202 and dropped.

Every accepted complaint is logged (``complaint_received``) even in the black hole: the event
log records what really happened, and a complaint that changed nothing is exactly that.
"""

from __future__ import annotations

import enum
import itertools
import os
from dataclasses import dataclass, replace
from typing import Any

from .replies import BadRequest
from .state import ServiceState

__all__ = [
    "GOOD_VERSION",
    "MAX_COMPLAINTS",
    "MAX_REASON_CHARS",
    "AlreadyResolved",
    "Complaint",
    "ComplaintDesk",
    "ComplaintMode",
    "ComplaintPolicy",
    "DeskFull",
    "Resolution",
    "UnknownComplaint",
    "parse_policy",
]

GOOD_VERSION = "v1"
"""The last release this service knows to be good: where a complaint rolls it back to."""
MAX_COMPLAINTS = 10_000
"""Complaints kept at most; beyond it the form answers 429 (a flood must not exhaust memory)."""
MAX_REASON_CHARS = 500
"""The most of a complaint's reason kept (it is a stranger's text); 200 of it are logged."""
_LOGGED_REASON_CHARS = 200


class ComplaintMode(enum.Enum):
    """How the service answers complaints (``--complaints``)."""

    AUTO_ROLLBACK = "auto-rollback"
    QUEUE = "queue"


@dataclass(frozen=True, slots=True)
class ComplaintPolicy:
    """The mode, and for ``auto-rollback`` the number of complaints that trigger it."""

    mode: ComplaintMode
    threshold: int = 0

    def __str__(self) -> str:
        if self.mode is ComplaintMode.AUTO_ROLLBACK:
            return f"{self.mode.value}:{self.threshold}"
        return self.mode.value


def parse_policy(text: str) -> ComplaintPolicy:
    """``auto-rollback:N`` (N in 1..1000) or ``queue``; ValueError naming the choices."""
    name, _, count = text.partition(":")
    if name == ComplaintMode.QUEUE.value and not count:
        return ComplaintPolicy(ComplaintMode.QUEUE)
    if name == ComplaintMode.AUTO_ROLLBACK.value:
        if count.isdigit() and 1 <= int(count) <= 1000:
            return ComplaintPolicy(ComplaintMode.AUTO_ROLLBACK, int(count))
        raise ValueError(f"auto-rollback:N needs N between 1 and 1000, got {text!r}")
    raise ValueError(f"must be 'auto-rollback:N' or 'queue', got {text!r}")


@dataclass(frozen=True, slots=True)
class Complaint:
    """One complaint as the service keeps it."""

    complaint_id: str
    reason: str
    received_ns: int
    resolved_by: str | None = None

    def public(self) -> dict[str, Any]:
        """The complaint as ``GET /admin/complaints`` lists it."""
        return {
            "complaint_id": self.complaint_id,
            "reason": self.reason,
            "received_ns": self.received_ns,
            "status": "pending" if self.resolved_by is None else "resolved",
            "resolved_by": self.resolved_by,
        }


@dataclass(frozen=True, slots=True)
class Resolution:
    """What resolving a complaint did: the version serving after it, and whether it changed."""

    complaint_id: str
    model_version: str
    changed: bool


class UnknownComplaint(Exception):
    """No complaint has this id (or the black hole swallowed it)."""


class AlreadyResolved(Exception):
    """The complaint was resolved before."""


class DeskFull(Exception):
    """``MAX_COMPLAINTS`` complaints are kept already."""


class ComplaintDesk:
    """Takes complaints and acts on them as the policy (or the black hole) says."""

    def __init__(self, state: ServiceState, policy: ComplaintPolicy, *, black_hole: bool) -> None:
        self._state = state
        self._policy = policy
        self._black_hole = black_hole
        self._complaints: dict[str, Complaint] = {}
        self._unanswered = 0
        self._numbers = itertools.count(1)
        self._prefix = f"c-{os.getpid():x}-{os.urandom(3).hex()}"

    @property
    def mode(self) -> str:
        """The mode as the admin API reports it."""
        return "black_hole" if self._black_hole else str(self._policy)

    def file(self, body: dict[str, Any]) -> str:
        """Accept one complaint and act on it; return its id. BadRequest for a bad reason,
        DeskFull beyond ``MAX_COMPLAINTS``."""
        reason = body.get("reason", "")
        if not isinstance(reason, str):
            raise BadRequest("reason: must be a string")
        reason = reason[:MAX_REASON_CHARS]
        state = self._state
        with state.control:
            if len(self._complaints) >= MAX_COMPLAINTS:
                raise DeskFull
            complaint_id = f"{self._prefix}-{next(self._numbers)}"
            t_ns = state.events.emit(
                "complaint_received",
                complaint_id=complaint_id,
                reason=reason[:_LOGGED_REASON_CHARS],
                mode=self.mode,
            )
            if self._black_hole:
                return complaint_id
            self._complaints[complaint_id] = Complaint(complaint_id, reason, t_ns)
            if self._policy.mode is ComplaintMode.AUTO_ROLLBACK:
                self._unanswered += 1
                if self._unanswered >= self._policy.threshold:
                    self._auto_rollback()
        return complaint_id

    def listing(self) -> list[dict[str, Any]]:
        """Every kept complaint, oldest first (none in the black hole)."""
        with self._state.control:
            return [complaint.public() for complaint in self._complaints.values()]

    def resolve(self, complaint_id: str, by: str) -> Resolution:
        """Roll back for one pending complaint; UnknownComplaint or AlreadyResolved."""
        with self._state.control:
            complaint = self._complaints.get(complaint_id)
            if complaint is None:
                raise UnknownComplaint(complaint_id)
            if complaint.resolved_by is not None:
                raise AlreadyResolved(complaint_id)
            changed = self._roll_back(f"complaint:{complaint_id}")
            self._mark_resolved([complaint_id], by, changed)
            return Resolution(complaint_id, self._state.snapshot.model.name, changed)

    def _auto_rollback(self) -> None:
        pending = [c.complaint_id for c in self._complaints.values() if c.resolved_by is None]
        changed = self._roll_back("complaints:auto-rollback")
        self._unanswered = 0
        self._mark_resolved(pending, "auto-rollback", changed)

    def _roll_back(self, cause: str) -> bool:
        """Serve ``GOOD_VERSION`` from now on (``version_switched`` when it changes)."""
        return self._state.switch_version(GOOD_VERSION, cause=cause)

    def _mark_resolved(self, complaint_ids: list[str], by: str, changed: bool) -> None:
        for complaint_id in complaint_ids:
            self._complaints[complaint_id] = replace(self._complaints[complaint_id], resolved_by=by)
        self._state.events.emit(
            "complaints_resolved",
            complaint_ids=complaint_ids[:50],
            count=len(complaint_ids),
            by=by,
            action="rollback",
            to=GOOD_VERSION,
            changed=changed,
        )
