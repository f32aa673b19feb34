"""Alertmanager's v2 API: POST ``/api/v2/alerts`` a JSON list of alerts, each with
``labels`` (``alertname`` and ours), ``annotations``, ``startsAt``, ``endsAt`` (the deadline,
so the alert stays firing until then rather than Alertmanager's ``resolve_timeout``) and
``generatorURL`` (the target's address)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from harness.notify._post import Posted, post_json
from harness.notify._records import Alert, iso_utc
from harness.notify._template import fill_text, placeholder_values, render
from harness.notify.base import Notifier
from harness.spec.notify import AlertmanagerSpec, NotifierKind

__all__ = ["ALERT_NAME", "AlertmanagerNotifier", "alertmanager_payload"]

ALERT_NAME = "GovdrillOperatorNeeded"
"""The ``alertname`` label of every alert (a drill's ``labels`` may override it)."""


def alertmanager_payload(
    spec: AlertmanagerSpec, alert: Alert, now_ns: int, wall_now: datetime
) -> list[dict[str, Any]]:
    """The body of one POST: a list holding the one alert."""
    values = placeholder_values(alert, now_ns)
    labels = {
        "alertname": ALERT_NAME,
        "source": "govdrill",
        "drill": alert.drill,
        "run_id": alert.run_id,
        "target": alert.target,
        "incident": alert.incident,
    }
    labels.update({k: render(fill_text(v, values, {})) for k, v in spec.labels.items()})
    left = values["deadline"]
    annotations = {
        "summary": alert.summary,
        "description": (
            f"{alert.summary} Use the control path(s) {render(values['paths'])};"
            f" {render(left)}s left to the deadline."
        ),
        "control_paths": render(values["paths"]),
    }
    if left is not None:
        annotations["deadline_s"] = render(left)
    annotations.update({k: render(fill_text(v, values, {})) for k, v in spec.annotations.items()})
    one: dict[str, Any] = {
        # Alertmanager drops labels with empty values; say so by leaving them out.
        "labels": {k: v for k, v in labels.items() if v},
        "annotations": {k: v for k, v in annotations.items() if v},
        "startsAt": values["started_at"],
    }
    if left:
        one["endsAt"] = iso_utc(wall_now + timedelta(seconds=left))
    if alert.base_url.startswith(("http://", "https://")):
        one["generatorURL"] = alert.base_url
    return [one]


class AlertmanagerNotifier(Notifier):
    """Posts each alert to an Alertmanager."""

    kind = NotifierKind.ALERTMANAGER

    def __init__(
        self,
        name: str,
        spec: AlertmanagerSpec,
        *,
        clock: Callable[[], int],
        wall: Callable[[], datetime],
    ) -> None:
        super().__init__(name)
        self._spec = spec
        self._clock = clock
        self._wall = wall

    @property
    def timeout_s(self) -> float:
        """The drill's ``timeout`` for this notifier."""
        return self._spec.timeout

    def send(self, alert: Alert, now_ns: int) -> Posted:
        """POST the alert; ok for a 2xx answer."""
        body = json.dumps(alertmanager_payload(self._spec, alert, now_ns, self._wall()))
        return post_json(
            self._spec.endpoint,
            body.encode("utf-8"),
            {},
            timeout_s=self._spec.timeout,
            clock=self._clock,
        )
