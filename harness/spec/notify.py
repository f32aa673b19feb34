"""Notifiers as a drill declares them (``notify: {name: {alertmanager | webhook | terminal}}``).

Each notifier is exactly one of:

- ``alertmanager: {url, labels, annotations, timeout}``: alerts POSTed to an Alertmanager's
  v2 API (``/api/v2/alerts`` when the URL gives no path);
- ``webhook: {url, headers, json, timeout}``: a generic JSON POST whose body is a template
  (Slack-style ``{text: ...}``, PagerDuty Events v2, anything);
- ``terminal: {}``: a live prompt with a countdown on the harness's own terminal.

Templates (webhook ``json`` strings, Alertmanager label and annotation values) may name the
placeholders of :data:`PLACEHOLDERS`; an unknown ``{name}`` is refused where it is written, so
a typo never reaches an on-call pager as literal braces. A ``${NAME}`` secret may appear in a
webhook's header values, its ``json`` strings and the path or query of its URL (a Slack hook
URL is itself a secret), never in its scheme, host or port: where a notification goes is
checked when the drill is loaded, and a host beyond loopback needs ``allow_remote: true``
(:func:`remote_notifier_problems`, called by the drill's cross-checks).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import AfterValidator, Field, model_validator

from harness.spec._base import Frozen
from harness.spec.durations import Duration
from harness.spec.urls import MAX_URL_CHARS, check_base_url, loopback_addresses

__all__ = [
    "ALERTMANAGER_PATH",
    "DEFAULT_WEBHOOK_JSON",
    "MAX_NOTIFY_TIMEOUT_S",
    "PLACEHOLDERS",
    "PLACEHOLDER_PATTERN",
    "AlertmanagerSpec",
    "NotifierKind",
    "NotifierSpec",
    "TerminalSpec",
    "WebhookSpec",
    "check_notify_url",
    "check_reach",
    "remote_notifier_problems",
]

PLACEHOLDERS = (
    "drill",
    "run_id",
    "target",
    "summary",
    "paths",
    "deadline",
    "incident",
    "base_url",
    "started_at",
)
"""The ``{name}`` placeholders a notification template may use."""

PLACEHOLDER_PATTERN = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
"""A ``{name}`` placeholder (``${NAME}``, a secret, is told apart by its ``$``)."""

ALERTMANAGER_PATH = "/api/v2/alerts"
"""Where an Alertmanager takes alerts; used when an ``alertmanager`` URL names no path."""

MAX_NOTIFY_TIMEOUT_S = 60.0
"""The longest one notification may take: a notifier that needs longer is not paging anyone."""

DEFAULT_WEBHOOK_JSON: dict[str, str] = {
    "text": "govdrill {drill}: {summary} Use {paths}. {deadline}s left to the deadline."
}
"""The body of a ``webhook`` that gives no ``json``: a Slack-style message."""

_SECRET = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*\}")
_LABEL_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"
_HEADER_NAME = r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$"
_MAX_TEMPLATE_DEPTH = 16
_MAX_TEMPLATE_CHARS = 16 << 10


def _placeholders_known(text: str) -> str:
    """``text`` when every ``{name}`` in it is a known placeholder; ValueError otherwise."""
    unknown = sorted(
        {
            match.group(1)
            for match in PLACEHOLDER_PATTERN.finditer(text)
            if not (match.start() > 0 and text[match.start() - 1] == "$")
            and match.group(1) not in PLACEHOLDERS
        }
    )
    if unknown:
        names = ", ".join("{" + name + "}" for name in unknown)
        raise ValueError(f"unknown placeholder {names} (known: {', '.join(PLACEHOLDERS)})")
    return text


def _no_secret(text: str) -> str:
    if _SECRET.search(text):
        raise ValueError(
            "${NAME} is not allowed here: alert labels and annotations are shown to everyone"
            " who can read the Alertmanager"
        )
    return text


def _json_template(value: Any) -> Any:
    """A JSON value whose strings use known placeholders only, of bounded size and depth."""
    size = 0

    def walk(node: Any, depth: int) -> None:
        nonlocal size
        if depth > _MAX_TEMPLATE_DEPTH:
            raise ValueError(f"nested deeper than {_MAX_TEMPLATE_DEPTH} levels")
        if isinstance(node, str):
            size += len(node)
            _placeholders_known(node)
        elif isinstance(node, dict):
            for key, item in node.items():
                if not isinstance(key, str):
                    raise ValueError("object keys must be strings")
                size += len(key)
                walk(item, depth + 1)
        elif isinstance(node, list):
            for item in node:
                walk(item, depth + 1)
        elif node is not None and not isinstance(node, bool | int | float):
            raise ValueError(f"not a JSON value: {type(node).__name__}")
        if size > _MAX_TEMPLATE_CHARS:
            raise ValueError(f"longer than {_MAX_TEMPLATE_CHARS} characters")

    walk(value, 0)
    return value


def check_notify_url(url: str) -> str:
    """``url`` when it is ``http(s)://host[:port][/path][?query]`` with a ``${NAME}`` at most
    in its path or query; ValueError naming what is wrong otherwise."""
    if len(url) > MAX_URL_CHARS:
        raise ValueError(f"longer than {MAX_URL_CHARS} characters")
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ValueError("must be an http:// or https:// URL")
    authority = re.split(r"[/?#]", rest, maxsplit=1)[0]
    if "${" in scheme or "${" in authority:
        raise ValueError(
            "${NAME} may stand in the path or query only: the host a notification goes to"
            " must be known when the drill is checked"
        )
    if "#" in rest:
        raise ValueError("a fragment is never sent; remove it")
    # The structure is checked with each secret masked; the query is checked on its own.
    masked = _SECRET.sub("x", url)
    base, _, query = masked.partition("?")
    if re.search(r"[\x00-\x20\x7f]", query):
        raise ValueError("query contains whitespace or control characters")
    check_base_url(base)
    return url


def _notify_timeout(seconds: float) -> float:
    if not 0 < seconds <= MAX_NOTIFY_TIMEOUT_S:
        raise ValueError(f"must be more than 0 and at most {MAX_NOTIFY_TIMEOUT_S:g}s")
    return seconds


def _header_value(value: str) -> str:
    if re.search(r"[\r\n\x00]", value):
        raise ValueError("a header value must not contain a line break or NUL")
    return value


NotifyUrl = Annotated[str, AfterValidator(check_notify_url)]
NotifyTimeout = Annotated[Duration, AfterValidator(_notify_timeout)]
LabelName = Annotated[str, Field(pattern=_LABEL_NAME, max_length=128)]
LabelText = Annotated[
    str, Field(max_length=1024), AfterValidator(_no_secret), AfterValidator(_placeholders_known)
]
HeaderName = Annotated[str, Field(pattern=_HEADER_NAME, max_length=128)]
HeaderValue = Annotated[str, Field(max_length=4096), AfterValidator(_header_value)]


class NotifierKind(enum.StrEnum):
    """Which kind of notifier a spec declares."""

    ALERTMANAGER = "alertmanager"
    WEBHOOK = "webhook"
    TERMINAL = "terminal"


class AlertmanagerSpec(Frozen):
    """Alerts POSTed to an Alertmanager's v2 API, labelled with the drill and the run."""

    url: NotifyUrl
    """The Alertmanager, e.g. ``http://127.0.0.1:9093`` (``/api/v2/alerts`` is added when no
    path is given) or the whole endpoint."""
    labels: dict[LabelName, LabelText] = Field(default_factory=dict)
    """Added to (and overriding) the alert's own labels (``alertname``, ``drill``, ...)."""
    annotations: dict[LabelName, LabelText] = Field(default_factory=dict)
    """Added to (and overriding) the alert's ``summary`` and ``description``."""
    timeout: NotifyTimeout = 2.0
    """The longest the POST may take, connection included."""

    @property
    def endpoint(self) -> str:
        """The URL alerts are POSTed to."""
        head, mark, query = self.url.partition("?")
        scheme, _, rest = head.partition("://")
        if "/" in rest.rstrip("/"):
            return self.url
        return f"{scheme}://{rest.rstrip('/')}{ALERTMANAGER_PATH}{mark}{query}"


class WebhookSpec(Frozen):
    """A generic JSON webhook: the body is a template filled for each alert."""

    url: NotifyUrl
    headers: dict[HeaderName, HeaderValue] = Field(default_factory=dict)
    """Sent with the POST; values may hold ``${NAME}`` (a token), never written to evidence."""
    json_template: Annotated[Any, AfterValidator(_json_template)] = Field(
        default_factory=lambda: dict(DEFAULT_WEBHOOK_JSON), alias="json"
    )
    """The body: any JSON; its strings may use ``{placeholders}`` and ``${NAME}``."""
    timeout: NotifyTimeout = 2.0
    """The longest the POST may take, connection included."""


class TerminalSpec(Frozen):
    """A live prompt with a countdown on the harness's terminal (no settings)."""


class NotifierSpec(Frozen):
    """One notifier: exactly one of ``alertmanager``, ``webhook``, ``terminal``."""

    alertmanager: AlertmanagerSpec | None = None
    webhook: WebhookSpec | None = None
    terminal: TerminalSpec | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> NotifierSpec:
        given = [kind.value for kind in NotifierKind if getattr(self, kind.value) is not None]
        if len(given) != 1:
            choices = ", ".join(kind.value for kind in NotifierKind)
            found = ", ".join(given) or "none"
            raise ValueError(f"give exactly one of {choices} (got {found})")
        return self

    @property
    def kind(self) -> NotifierKind:
        """The one kind this spec declares."""
        return next(kind for kind in NotifierKind if getattr(self, kind.value) is not None)

    @property
    def url(self) -> str | None:
        """Where this notifier sends (None for the terminal)."""
        if self.alertmanager is not None:
            return self.alertmanager.url
        if self.webhook is not None:
            return self.webhook.url
        return None

    @property
    def timeout_s(self) -> float:
        """The longest one notification through it may take (the terminal: at once)."""
        if self.alertmanager is not None:
            return self.alertmanager.timeout
        if self.webhook is not None:
            return self.webhook.timeout
        return 0.0


def check_reach(url: str, *, allow_remote: bool) -> None:
    """ValueError when ``url`` (a checked notifier URL) leaves this machine and the drill
    does not say ``allow_remote: true``; the host is judged as written, never resolved,
    except ``localhost`` (accepted when every address it resolves to is loopback)."""
    if allow_remote:
        return
    if not loopback_addresses(_SECRET.sub("x", url).split("?", 1)[0]):
        raise ValueError(
            f"{_SECRET.sub('${…}', url)} is not a loopback address; a drill must say"
            " allow_remote: true to notify beyond this machine"
        )


def remote_notifier_problems(
    notify: Mapping[str, NotifierSpec], *, allow_remote: bool
) -> list[tuple[tuple[str, ...], str]]:
    """Every notifier URL that leaves this machine without ``allow_remote``, as
    (location inside ``notify``, message), e.g. ``(("oncall", "alertmanager", "url"), ...)``."""
    problems: list[tuple[tuple[str, ...], str]] = []
    for name, spec in notify.items():
        url = spec.url
        if url is None:
            continue
        try:
            check_reach(url, allow_remote=allow_remote)
        except ValueError as exc:
            problems.append(((name, spec.kind.value, "url"), str(exc)))
    return problems
