"""A notifier that records what it was asked to send: the test double of ``Notifier``."""

from __future__ import annotations

from harness.notify._post import Posted
from harness.notify._records import Alert, NotifyResult, OperatorAnswer
from harness.notify.base import Notifier
from harness.spec.notify import NotifierKind

__all__ = ["FakeNotifier"]


class FakeNotifier(Notifier):
    """Answers every send with ``result``; ``answer`` plays an operator typing a line."""

    kind = NotifierKind.WEBHOOK

    def __init__(
        self, name: str, result: NotifyResult = NotifyResult.OK, detail: str = "fake"
    ) -> None:
        super().__init__(name)
        self.sent: list[tuple[Alert, int]] = []
        self._posted = Posted(result, detail)
        self._answers: list[OperatorAnswer] = []

    @property
    def timeout_s(self) -> float:
        """A fake answers at once."""
        return 0.0

    def send(self, alert: Alert, now_ns: int) -> Posted:
        """Record the alert and answer as configured."""
        self.sent.append((alert, now_ns))
        return self._posted

    def answer(self, text: str, t_ns: int) -> None:
        """Record ``text`` as typed by the operator at ``t_ns``."""
        self._answers.append(OperatorAnswer(self.name, text, t_ns))

    def answers(self) -> list[OperatorAnswer]:
        """The recorded answers."""
        return list(self._answers)
