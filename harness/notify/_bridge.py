"""The drill's notifiers as the step machine's :class:`harness.operator.Notifier`: the steps'
alert becomes the senders' alert, their outcomes come back as results, and a line the
operator types at the terminal reaches the alert's ``answered`` callback."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime

from harness import operator
from harness.notify._notifiers import Notifiers
from harness.notify._records import Alert, OperatorAnswer
from harness.spec.notify import NotifierSpec

__all__ = ["OperatorNotifiers"]


class OperatorNotifiers:
    """Sends an operator stop's or a contest's alert through the drill's ``notify:`` map."""

    def __init__(
        self,
        specs: Mapping[str, NotifierSpec],
        *,
        secrets: Mapping[str, str],
        clock: Callable[[], int] = time.monotonic_ns,
    ) -> None:
        self._clock = clock
        self._answered: Callable[[operator.PromptAnswer], None] | None = None
        self._notifiers = Notifiers.from_specs(
            specs, secrets=secrets, clock=clock, on_answer=self._on_answer
        )

    def _on_answer(self, answer: OperatorAnswer) -> None:
        answered = self._answered
        if answered is not None:
            answered(operator.PromptAnswer(answer.text, answer.t_ns))

    def notify(self, names: Sequence[str], alert: operator.Alert) -> list[operator.NotifyResult]:
        """Alert each of ``names`` (bounded, never raising); one result a name, in order."""
        self._answered = alert.answered
        now = self._clock()
        left_s = None if alert.deadline_ns is None else max(0.0, (alert.deadline_ns - now) / 1e9)
        sent = self._notifiers.notify(
            names,
            Alert(
                drill=alert.drill,
                run_id=alert.run_id,
                target=alert.target,
                summary=alert.summary,
                paths=alert.paths,
                deadline_s=left_s,
                incident=alert.incident,
                base_url=alert.base_url,
                started_at=_moment(alert.started_at),
                due_ns=alert.deadline_ns,
            ),
        )
        return [
            operator.NotifyResult(
                o.notifier,
                operator.NotifyOutcome(o.result.value),
                o.detail,
                o.sent_ns,
                o.returned_ns,
            )
            for o in sent
        ]

    def close(self) -> None:
        """Stop the terminal prompt's reader, if one runs."""
        self._notifiers.close()


def _moment(iso: str) -> datetime:
    try:
        moment = datetime.fromisoformat(iso)
    except ValueError:
        return datetime.now(UTC)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
