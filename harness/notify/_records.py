"""What a notification says (``Alert``) and what came of it (``NotifyOutcome``,
``OperatorAnswer``): frozen records on the harness's monotonic clock."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, datetime

from harness.spec.notify import NotifierKind

__all__ = ["Alert", "NotifyOutcome", "NotifyResult", "OperatorAnswer", "iso_utc"]


def iso_utc(moment: datetime) -> str:
    """``moment`` as ISO 8601 UTC with milliseconds and a ``Z`` (Alertmanager's form)."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class Alert:
    """One call for a person to act: what happened, where, and by when."""

    drill: str
    run_id: str
    target: str
    summary: str
    """One sentence on what is happening (the drill's words: untrusted text)."""
    paths: tuple[str, ...]
    """The control paths the person is told to use."""
    deadline_s: float | None
    """Seconds left to the deadline when the alert was made; None when there is none."""
    incident: str
    """The incident's name (``harmful_output``), or "" when none was injected."""
    base_url: str
    """The target's address (the Alertmanager alert's ``generatorURL``)."""
    started_at: datetime
    """When the incident (or the run) started, timezone-aware."""
    due_ns: int | None = None
    """The deadline on the monotonic clock, when known: countdowns and ``{deadline}`` count
    to it; otherwise they count ``deadline_s`` from the moment of sending."""

    def due_at(self, sent_ns: int) -> int | None:
        """The deadline instant on the monotonic clock for an alert sent at ``sent_ns``."""
        if self.due_ns is not None:
            return self.due_ns
        if self.deadline_s is None:
            return None
        return sent_ns + round(self.deadline_s * 1e9)


class NotifyResult(enum.StrEnum):
    """How one notification ended."""

    OK = "ok"
    FAILED = "failed"
    TIMED_OUT = "timed_out"
    SKIPPED = "skipped"


@dataclass(frozen=True, slots=True)
class NotifyOutcome:
    """One notification as the evidence keeps it: its detail is bounded and redacted."""

    notifier: str
    kind: NotifierKind | None
    """None only for a name no notifier was declared under (a caller's mistake)."""
    result: NotifyResult
    detail: str
    sent_ns: int
    returned_ns: int


@dataclass(frozen=True, slots=True)
class OperatorAnswer:
    """A line the operator typed at the terminal prompt (their name, or "done")."""

    notifier: str
    text: str
    """What they typed: printable, stripped, at most ``MAX_ANSWER_CHARS``."""
    t_ns: int
    """When the line was read, on the monotonic clock."""
