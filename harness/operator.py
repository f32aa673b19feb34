"""The harness's side of telling a person: what an alert says, what a notifier answers.

A drill step ``stop: {by: operator, notify: [...]}`` hands the stop to a person. The steps
call one :class:`Notifier` (the senders in ``harness.notify`` implement it: Alertmanager, a
JSON webhook, a terminal prompt) with the names to alert and one :class:`Alert`; it answers
one :class:`NotifyResult` per name and never raises for a sender that failed: a webhook that
fails or times out is recorded and the clock keeps running. A terminal prompt that a person
answers later calls :attr:`Alert.answered` with who answered and when.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

__all__ = [
    "Alert",
    "NoNotifier",
    "Notifier",
    "NotifyOutcome",
    "NotifyResult",
    "PromptAnswer",
]


class NotifyOutcome(enum.StrEnum):
    """How one notification ended."""

    OK = "ok"
    FAILED = "failed"
    TIMED_OUT = "timed_out"
    SKIPPED = "skipped"
    """Not sent: e.g. a terminal prompt with no terminal, or no sender for the name."""


@dataclass(frozen=True, slots=True)
class PromptAnswer:
    """A person's answer to a terminal prompt: who, and when on the monotonic clock."""

    who: str
    t_ns: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Alert:
    """What a notification says; every instant is on the harness's monotonic clock."""

    drill: str
    run_id: str
    target: str
    summary: str
    """One sentence: what is happening and what the person is asked to do."""
    paths: tuple[str, ...]
    """The control paths the operator is told to use."""
    incident: str
    """The incident injected (its name), or '' when none was."""
    incident_ns: int | None
    notified_ns: int
    """When the harness handed the stop to a person: the stop's clock starts here."""
    deadline: str
    """The deadline the operator works against (``stop``, ``reversal``, ...), or ''."""
    deadline_ns: int | None
    """The instant that deadline passes (``{deadline}`` = seconds left until it)."""
    base_url: str
    started_at: str
    """The run's start, ISO 8601 in UTC."""
    answered: Callable[[PromptAnswer], None] | None = None
    """Called by a prompt when a person answers it (from any thread)."""


@dataclass(frozen=True, slots=True)
class NotifyResult:
    """One notifier's outcome."""

    notifier: str
    outcome: NotifyOutcome
    detail: str
    sent_ns: int
    returned_ns: int


class Notifier(Protocol):
    """Sends one alert to the named notifiers; one result a name, in order; never raises."""

    def notify(self, names: Sequence[str], alert: Alert) -> list[NotifyResult]:
        """Alert each of ``names``, each bounded by its own timeout."""
        ...


class NoNotifier:
    """The notifier of a run given none: every name is recorded as skipped."""

    def __init__(self, clock: Callable[[], int]) -> None:
        self._clock = clock

    def notify(self, names: Sequence[str], alert: Alert) -> list[NotifyResult]:
        """Skip every name, saying why."""
        now = self._clock()
        return [
            NotifyResult(name, NotifyOutcome.SKIPPED, "no notifier senders in this run", now, now)
            for name in names
        ]
