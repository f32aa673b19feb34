"""Telling people that they must act: Alertmanager, generic JSON webhooks, a terminal prompt.

    notifiers = Notifiers.from_specs(drill.notify, secrets=run_secrets.values)
    outcomes = notifiers.notify(["oncall", "console"], alert)   # never raises; bounded
    notifiers.answers()                                          # what the operator typed
    notifiers.close()

Errors never propagate from a send; each ends as a ``NotifyOutcome`` whose ``result`` is one
of ``ok``, ``failed``, ``timed_out``, ``skipped``.
"""

from harness.notify._alertmanager import ALERT_NAME, alertmanager_payload
from harness.notify._bridge import OperatorNotifiers
from harness.notify._notifiers import MAX_DETAIL_CHARS, Notifiers, build_notifier
from harness.notify._records import Alert, NotifyOutcome, NotifyResult, OperatorAnswer, iso_utc
from harness.notify._template import fill, placeholder_values
from harness.notify._terminal import MAX_ANSWER_CHARS, countdown
from harness.notify._webhook import webhook_body
from harness.notify.base import Notifier
from harness.notify.fake import FakeNotifier

__all__ = [
    "ALERT_NAME",
    "MAX_ANSWER_CHARS",
    "MAX_DETAIL_CHARS",
    "Alert",
    "FakeNotifier",
    "Notifier",
    "Notifiers",
    "NotifyOutcome",
    "NotifyResult",
    "OperatorAnswer",
    "OperatorNotifiers",
    "alertmanager_payload",
    "build_notifier",
    "countdown",
    "fill",
    "iso_utc",
    "placeholder_values",
    "webhook_body",
]
