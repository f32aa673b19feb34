"""A generic JSON webhook: the drill's ``json`` template, filled for the alert, POSTed with
the drill's headers (whose ``${NAME}`` secrets are filled only here, at the last moment)."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping

from harness.notify._post import Posted, post_json
from harness.notify._records import Alert, NotifyResult
from harness.notify._template import TemplateError, fill, fill_text, placeholder_values
from harness.notify.base import Notifier
from harness.spec.notify import NotifierKind, WebhookSpec

__all__ = ["WebhookNotifier", "webhook_body"]


def webhook_body(spec: WebhookSpec, alert: Alert, now_ns: int, secrets: Mapping[str, str]) -> bytes:
    """The filled template as JSON bytes (TemplateError for an unresolved ``${NAME}``)."""
    filled = fill(spec.json_template, placeholder_values(alert, now_ns), secrets)
    return json.dumps(filled, ensure_ascii=False).encode("utf-8")


class WebhookNotifier(Notifier):
    """Posts each alert as the drill's JSON template."""

    kind = NotifierKind.WEBHOOK

    def __init__(
        self,
        name: str,
        spec: WebhookSpec,
        *,
        secrets: Mapping[str, str],
        clock: Callable[[], int],
    ) -> None:
        super().__init__(name)
        self._spec = spec
        self._secrets = secrets
        self._clock = clock

    @property
    def timeout_s(self) -> float:
        """The drill's ``timeout`` for this notifier."""
        return self._spec.timeout

    def send(self, alert: Alert, now_ns: int) -> Posted:
        """POST the filled template; ok for a 2xx answer."""
        try:
            body = webhook_body(self._spec, alert, now_ns, self._secrets)
            url = str(fill_text(self._spec.url, {}, self._secrets))
            headers = {
                name: str(fill_text(value, {}, self._secrets))
                for name, value in self._spec.headers.items()
            }
        except TemplateError as exc:
            return Posted(NotifyResult.FAILED, str(exc))
        return post_json(url, body, headers, timeout_s=self._spec.timeout, clock=self._clock)
