"""The drill's notifiers by name: send an alert through several at once, each bounded.

``notify`` starts one thread per named notifier and waits for each until its own timeout
(plus a little slack for the thread itself); a send that is still running then is recorded
``timed_out`` and left to finish on its daemon thread. Nothing a notifier does raises into
the caller: every name gets exactly one :class:`NotifyOutcome`, whose detail has passed
through the run's redactor before it was cut to ``MAX_DETAIL_CHARS``.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import TextIO

from harness.notify._alertmanager import AlertmanagerNotifier
from harness.notify._post import Posted
from harness.notify._records import Alert, NotifyOutcome, NotifyResult, OperatorAnswer
from harness.notify._terminal import TerminalNotifier
from harness.notify._webhook import WebhookNotifier
from harness.notify.base import Notifier
from harness.redact import NO_SECRETS, Redactor, redactor_for
from harness.spec.durations import to_ns
from harness.spec.notify import NotifierSpec

__all__ = ["MAX_DETAIL_CHARS", "Notifiers", "build_notifier"]

MAX_DETAIL_CHARS = 300
"""The most of a notification's detail kept in the evidence."""
_THREAD_SLACK_S = 0.5
"""How much longer than its timeout a send's thread is waited for (scheduling, DNS)."""


def build_notifier(
    name: str,
    spec: NotifierSpec,
    *,
    secrets: Mapping[str, str],
    clock: Callable[[], int],
    wall: Callable[[], datetime],
    stdin: TextIO,
    stdout: TextIO,
    quiet: bool,
    on_answer: Callable[[OperatorAnswer], None] | None,
) -> Notifier:
    """The notifier a spec declares."""
    if spec.alertmanager is not None:
        return AlertmanagerNotifier(name, spec.alertmanager, clock=clock, wall=wall)
    if spec.webhook is not None:
        return WebhookNotifier(name, spec.webhook, secrets=secrets, clock=clock)
    return TerminalNotifier(
        name, stdin=stdin, stdout=stdout, clock=clock, quiet=quiet, on_answer=on_answer
    )


class Notifiers:
    """Every notifier of one run, by the name the drill gave it."""

    def __init__(
        self,
        notifiers: Mapping[str, Notifier],
        *,
        redactor: Redactor | None = None,
        clock: Callable[[], int] = time.monotonic_ns,
    ) -> None:
        self._notifiers = dict(notifiers)
        self._redactor = redactor or NO_SECRETS
        self._clock = clock

    @classmethod
    def from_specs(
        cls,
        specs: Mapping[str, NotifierSpec],
        *,
        secrets: Mapping[str, str] | None = None,
        clock: Callable[[], int] = time.monotonic_ns,
        wall: Callable[[], datetime] = lambda: datetime.now(UTC),
        stdin: TextIO | None = None,
        stdout: TextIO | None = None,
        quiet: bool | None = None,
        on_answer: Callable[[OperatorAnswer], None] | None = None,
    ) -> Notifiers:
        """Build the drill's notifiers. ``secrets`` are the run's resolved ``${NAME}`` values
        (``RunSecrets.values``: their redactor hides them in every detail); ``quiet``
        defaults to "running under pytest"; ``on_answer`` is called on the prompt's thread
        for each line the operator enters (e.g. to wake the engine)."""
        values = secrets or {}
        if quiet is None:
            quiet = "PYTEST_CURRENT_TEST" in os.environ
        built = {
            name: build_notifier(
                name,
                spec,
                secrets=values,
                clock=clock,
                wall=wall,
                stdin=stdin or sys.stdin,
                stdout=stdout or sys.stdout,
                quiet=quiet,
                on_answer=on_answer,
            )
            for name, spec in specs.items()
        }
        return cls(built, redactor=redactor_for(values), clock=clock)

    def __enter__(self) -> Notifiers:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def notify(self, names: Sequence[str], alert: Alert) -> list[NotifyOutcome]:
        """Send ``alert`` through each named notifier at once; one outcome per name, in order,
        within the longest of their timeouts (plus slack)."""
        sent_ns = self._clock()
        slots: list[list[Posted | None]] = []
        threads: list[threading.Thread | None] = []
        for name in names:
            slot: list[Posted | None] = [None]
            slots.append(slot)
            notifier = self._notifiers.get(name)
            if notifier is None:
                threads.append(None)
                slot[0] = Posted(NotifyResult.FAILED, f"no notifier named {name!r}")
                continue
            thread = threading.Thread(
                target=self._send,
                args=(notifier, alert, sent_ns, slot),
                daemon=True,
                name=f"notify-{name}",
            )
            thread.start()
            threads.append(thread)
        outcomes = []
        for name, slot, running in zip(names, slots, threads, strict=True):
            notifier = self._notifiers.get(name)
            if running is not None and notifier is not None:
                limit_ns = sent_ns + to_ns(notifier.timeout_s + _THREAD_SLACK_S)
                running.join(max(limit_ns - self._clock(), 0) / 1e9)
            posted = slot[0]
            if posted is None:
                timeout = notifier.timeout_s if notifier is not None else 0.0
                posted = Posted(NotifyResult.TIMED_OUT, f"no answer within {timeout:g}s")
            outcomes.append(
                NotifyOutcome(
                    notifier=name,
                    kind=notifier.kind if notifier is not None else None,
                    result=posted.result,
                    detail=self._redactor.redact(posted.detail, cut=True)[:MAX_DETAIL_CHARS],
                    sent_ns=sent_ns,
                    returned_ns=self._clock(),
                )
            )
        return outcomes

    def _send(
        self, notifier: Notifier, alert: Alert, sent_ns: int, slot: list[Posted | None]
    ) -> None:
        try:
            slot[0] = notifier.send(alert, sent_ns)
        except Exception as exc:  # a bug in a notifier must not end the drill
            slot[0] = Posted(NotifyResult.FAILED, f"notifier error: {type(exc).__name__}: {exc}")

    def answers(self) -> list[OperatorAnswer]:
        """Every answer heard so far (terminal prompts), in the order they were typed."""
        heard = [answer for n in self._notifiers.values() for answer in n.answers()]
        return sorted(heard, key=lambda answer: answer.t_ns)

    def close(self) -> None:
        """End every prompt still shown."""
        for notifier in self._notifiers.values():
            notifier.close()
