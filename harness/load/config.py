"""The description of one load, frozen and validated, with the JSON form the load child reads.

:class:`LoadConfig` says whom to load (``base_url``), how hard (``users``, ``spawn_rate``,
``per_user_rate``), with what request, and how to judge each answer (harm rules, safe-state
rule, version rule: the types live in :mod:`harness.harm` and are re-exported here). It
travels to the child as one line of JSON (:meth:`LoadConfig.to_json`); the child rebuilds it
with :meth:`LoadConfig.from_json`, which validates exactly like the constructor.

Semantics of the fields:

=================  ================================================================================
field              meaning
=================  ================================================================================
``base_url``       ``http://host:port`` or ``https://host:port``, optionally with a path prefix
                   that is put before ``request.path``
``users``          concurrent simulated users; each holds one keep-alive connection
``spawn_rate``     users started per second
``request``        the one request every user sends (:class:`RequestSpec`)
``timeout_s``      the longest wait to connect, and for each read of the answer; beyond it the
                   request is a timeout (an answer trickling in slower still counts as one)
``per_user_rate``  requests per second per user (Locust's ``constant_throughput``); ``None``: as
                   fast as the target answers
``harm``           harm rules (:class:`~harness.harm.HarmRuleSpec`); empty: nothing is harmful
``safe_state``     which answers mean "stopped" (:class:`~harness.harm.SafeStateSpec`)
``version``        where an answer names its model version (:class:`~harness.harm.VersionSpec`)
``parent_pid``     pid of the harness; the child exits at once when its parent is not this pid
``heartbeat_s``    how often the child says it is alive
``max_body``       the most bytes of an answer's body read and judged (default 1 MiB, at most
                   :data:`MAX_BODY_LIMIT`); a longer body is cut, its observation marked truncated
                   and its connection closed rather than drained
=================  ================================================================================
"""

from __future__ import annotations

import json as _json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import urlsplit

from harness.harm import HarmRuleError, HarmRuleSpec, SafeStateSpec, VersionSpec

__all__ = [
    "DEFAULT_MAX_BODY",
    "MAX_BODY_LIMIT",
    "HarmRuleSpec",
    "LoadConfig",
    "LoadConfigError",
    "RequestSpec",
    "SafeStateSpec",
    "VersionSpec",
]

DEFAULT_MAX_BODY: Final = 1 << 20
"""Bytes of an answer's body read and judged unless the drill says otherwise (1 MiB)."""

MAX_BODY_LIMIT: Final = 64 << 20
"""The largest body cap a drill may ask for (64 MiB): every user may hold one such body."""

_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


class LoadConfigError(ValueError):
    """An invalid load description; carries the field (dotted), the value and why."""

    def __init__(self, field: str, value: object, reason: str) -> None:
        self.field = field
        self.value = value
        self.reason = reason
        super().__init__(f"{field}: {reason} (got {value!r})")


@dataclass(frozen=True, slots=True)
class RequestSpec:
    """The request every user sends: ``json`` (sent as ``application/json``) or ``body``."""

    method: str = "GET"
    path: str = "/"
    json: Any | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    body: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.method, str) or not _TOKEN.fullmatch(self.method):
            raise LoadConfigError("request.method", self.method, "expected an HTTP method")
        object.__setattr__(self, "method", self.method.upper())
        if not isinstance(self.path, str) or not self.path.startswith("/") or " " in self.path:
            raise LoadConfigError("request.path", self.path, "expected a path starting with '/'")
        if self.json is not None and self.body is not None:
            raise LoadConfigError("request", "json+body", "give either json or body, not both")
        if self.body is not None and not isinstance(self.body, str):
            raise LoadConfigError("request.body", self.body, "expected a string")
        if self.json is not None:
            try:
                _json.dumps(self.json)
            except (TypeError, ValueError) as e:
                raise LoadConfigError("request.json", self.json, "must be a JSON value") from e
        if not isinstance(self.headers, Mapping):
            raise LoadConfigError("request.headers", self.headers, "expected a mapping")
        for name, value in self.headers.items():
            if not isinstance(name, str) or not _TOKEN.fullmatch(name):
                raise LoadConfigError("request.headers", name, "invalid header name")
            if not isinstance(value, str) or "\n" in value or "\r" in value:
                raise LoadConfigError(f"request.headers.{name}", value, "invalid header value")
        object.__setattr__(self, "headers", dict(self.headers))

    def encoded_body(self) -> bytes:
        """The request body as sent on the wire (empty when there is none)."""
        if self.json is not None:
            return _json.dumps(self.json, separators=(",", ":")).encode()
        if self.body is not None:
            return self.body.encode()
        return b""


@dataclass(frozen=True, slots=True)
class LoadConfig:
    """One load: whom, how hard, what request, how to judge answers (see the module table)."""

    base_url: str
    users: int
    spawn_rate: float
    request: RequestSpec
    parent_pid: int
    timeout_s: float = 5.0
    per_user_rate: float | None = None
    harm: tuple[HarmRuleSpec, ...] = ()
    safe_state: SafeStateSpec = field(default_factory=SafeStateSpec)
    version: VersionSpec = field(default_factory=VersionSpec)
    heartbeat_s: float = 0.1
    max_body: int = DEFAULT_MAX_BODY

    def __post_init__(self) -> None:
        parts = urlsplit(self.base_url) if isinstance(self.base_url, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
            raise LoadConfigError("base_url", self.base_url, "expected http(s)://host[:port]")
        if parts.query or parts.fragment:
            raise LoadConfigError("base_url", self.base_url, "no query or fragment allowed")
        try:
            parts.port  # noqa: B018 (raises on a bad port)
        except ValueError as e:
            raise LoadConfigError("base_url", self.base_url, str(e)) from e
        _positive_int("users", self.users)
        _positive_number("spawn_rate", self.spawn_rate)
        _positive_number("timeout_s", self.timeout_s)
        _positive_number("heartbeat_s", self.heartbeat_s)
        _positive_int("max_body", self.max_body)
        if self.max_body > MAX_BODY_LIMIT:
            raise LoadConfigError("max_body", self.max_body, f"at most {MAX_BODY_LIMIT} bytes")
        if self.per_user_rate is not None:
            _positive_number("per_user_rate", self.per_user_rate)
        _positive_int("parent_pid", self.parent_pid)
        if not isinstance(self.request, RequestSpec):
            raise LoadConfigError("request", self.request, "expected a RequestSpec")
        if not isinstance(self.harm, tuple | list) or not all(
            isinstance(rule, HarmRuleSpec) for rule in self.harm
        ):
            raise LoadConfigError("harm", self.harm, "expected a list of HarmRuleSpec")
        object.__setattr__(self, "harm", tuple(self.harm))
        if not isinstance(self.safe_state, SafeStateSpec):
            raise LoadConfigError("safe_state", self.safe_state, "expected a SafeStateSpec")
        if not isinstance(self.version, VersionSpec):
            raise LoadConfigError("version", self.version, "expected a VersionSpec")

    def to_dict(self) -> dict[str, Any]:
        """The plain-data form (lists, dicts, numbers, strings) that :meth:`from_dict` reads."""
        return {
            "base_url": self.base_url,
            "users": self.users,
            "spawn_rate": self.spawn_rate,
            "request": {
                "method": self.request.method,
                "path": self.request.path,
                "json": self.request.json,
                "headers": dict(self.request.headers),
                "body": self.request.body,
            },
            "parent_pid": self.parent_pid,
            "timeout_s": self.timeout_s,
            "per_user_rate": self.per_user_rate,
            "harm": [
                {
                    "status": list(rule.status) if rule.status is not None else None,
                    "json_path": rule.json_path,
                    "regex": rule.regex,
                    "equals": rule.equals,
                    "header": rule.header,
                    "header_regex": rule.header_regex,
                    "latency_over_s": rule.latency_over_s,
                }
                for rule in self.harm
            ],
            "safe_state": {
                "statuses": list(self.safe_state.statuses),
                "connection_refused": self.safe_state.connection_refused,
                "connection_reset": self.safe_state.connection_reset,
            },
            "version": {"header": self.version.header, "json_path": self.version.json_path},
            "heartbeat_s": self.heartbeat_s,
            "max_body": self.max_body,
        }

    def to_json(self) -> str:
        """One line of JSON (no newline inside, none at the end)."""
        return _json.dumps(self.to_dict(), separators=(",", ":"))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LoadConfig:
        """Build and validate from plain data; raises :class:`LoadConfigError` naming the field."""
        data = _mapping("config", data, _CONFIG_KEYS)
        try:
            request = RequestSpec(**_mapping("request", data.get("request"), _REQUEST_KEYS))
            harm = tuple(
                _harm_rule(i, rule) for i, rule in enumerate(_list("harm", data.get("harm", [])))
            )
            safe = _mapping("safe_state", data.get("safe_state", {}), _SAFE_KEYS)
            version = _mapping("version", data.get("version", {}), _VERSION_KEYS)
            rest = {k: v for k, v in data.items() if k not in _NESTED_KEYS}
            return cls(
                request=request,
                harm=harm,
                safe_state=SafeStateSpec(**safe),
                version=VersionSpec(**version),
                **rest,
            )
        except HarmRuleError as e:
            raise LoadConfigError(e.field, e.value, e.reason) from e
        except TypeError as e:  # a required field is missing
            raise LoadConfigError("config", dict(data), str(e)) from e

    @classmethod
    def from_json(cls, text: str | bytes) -> LoadConfig:
        """Parse :meth:`to_json`'s form; raises :class:`LoadConfigError` on anything wrong."""
        try:
            data = _json.loads(text)
        except ValueError as e:
            raise LoadConfigError("config", text[:200], f"not JSON: {e}") from e
        return cls.from_dict(data)


_CONFIG_KEYS = frozenset(LoadConfig.__dataclass_fields__)
_REQUEST_KEYS = frozenset(RequestSpec.__dataclass_fields__)
_HARM_KEYS = frozenset(HarmRuleSpec.__dataclass_fields__)
_SAFE_KEYS = frozenset(SafeStateSpec.__dataclass_fields__)
_VERSION_KEYS = frozenset(VersionSpec.__dataclass_fields__)
_NESTED_KEYS = frozenset({"request", "harm", "safe_state", "version"})


def _mapping(name: str, value: object, allowed: frozenset[str]) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise LoadConfigError(name, value, "expected an object")
    unknown = sorted(set(value) - allowed)
    if unknown:
        raise LoadConfigError(name, unknown, f"unknown keys; allowed: {sorted(allowed)}")
    return dict(value)


def _list(name: str, value: object) -> list[Any]:
    if not isinstance(value, list | tuple):
        raise LoadConfigError(name, value, "expected a list")
    return list(value)


def _harm_rule(index: int, value: object) -> HarmRuleSpec:
    where = f"harm[{index}]"
    rule = _mapping(where, value, _HARM_KEYS)
    if isinstance(rule.get("status"), list):
        rule["status"] = tuple(rule["status"])
    try:
        return HarmRuleSpec(**rule)
    except HarmRuleError as e:
        field = where if e.field == "harm" else f"{where}.{e.field}"
        raise LoadConfigError(field, e.value, e.reason) from e


def _positive_int(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise LoadConfigError(name, value, "expected an integer >= 1")


def _positive_number(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise LoadConfigError(name, value, "expected a number > 0")
