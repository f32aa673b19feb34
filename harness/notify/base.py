"""The one-method base every notifier implements; ``FakeNotifier`` (in ``fake``) is its
test double, for engine tests that need no network and no terminal."""

from __future__ import annotations

import abc

from harness.notify._post import Posted
from harness.notify._records import Alert, OperatorAnswer
from harness.spec.notify import NotifierKind

__all__ = ["Notifier"]


class Notifier(abc.ABC):
    """One declared notifier: sends an alert, and may hear answers back."""

    kind: NotifierKind

    def __init__(self, name: str) -> None:
        self.name = name

    @property
    @abc.abstractmethod
    def timeout_s(self) -> float:
        """The longest one ``send`` may take."""

    @abc.abstractmethod
    def send(self, alert: Alert, now_ns: int) -> Posted:
        """Deliver ``alert`` (sent at ``now_ns``) and say how it went; may raise only on a
        bug (``Notifiers`` records that as failed)."""

    def answers(self) -> list[OperatorAnswer]:
        """What people answered through this notifier so far (most notifiers hear nothing)."""
        return []

    def close(self) -> None:
        """Stop anything the notifier still runs (a prompt); idempotent."""
        return None
