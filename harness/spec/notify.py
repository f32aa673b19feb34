"""PLACEHOLDER (core15): the notifier specs of a drill's ``notify:`` map, until the notify
helper's own module replaces this file; only the shape the drill model needs to import."""

from __future__ import annotations

from typing import Any

from pydantic import Field, model_validator

from harness.spec._base import Frozen
from harness.spec.durations import Duration

__all__ = ["AlertmanagerSpec", "NotifierSpec", "TerminalSpec", "WebhookSpec"]


class AlertmanagerSpec(Frozen):
    """An Alertmanager-compatible receiver (``POST /api/v2/alerts``)."""

    url: str
    labels: dict[str, str] = Field(default_factory=dict)
    timeout: Duration = 2.0


class WebhookSpec(Frozen):
    """A generic JSON webhook; ``json`` is the body template."""

    url: str
    headers: dict[str, str] = Field(default_factory=dict)
    json_body: Any = Field(default=None, alias="json")
    timeout: Duration = 2.0


class TerminalSpec(Frozen):
    """A live prompt with a countdown on the harness's terminal."""


class NotifierSpec(Frozen):
    """One notifier: exactly one of alertmanager, webhook, terminal."""

    alertmanager: AlertmanagerSpec | None = None
    webhook: WebhookSpec | None = None
    terminal: TerminalSpec | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> NotifierSpec:
        kinds = [k for k in ("alertmanager", "webhook", "terminal") if getattr(self, k) is not None]
        if len(kinds) != 1:
            raise ValueError("a notifier needs exactly one of alertmanager, webhook, terminal")
        return self
