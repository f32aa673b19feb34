"""What a drill says about its load's answers: the request sent, and how each answer is judged.

The one model of each load concept (the request, a harm rule, the safe state, the version
source), validated when the drill is loaded and sent as is to the load child, which imports
this module before Locust: keep it to pydantic, the standard library and pure harness
modules (:mod:`harness.spec` imports its other modules lazily for this reason).
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any, Final, Literal

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    StrictInt,
    field_validator,
    model_validator,
)

from harness.jsonpath import parse_json_path
from harness.spec._base import Frozen as _Frozen
from harness.spec._base import UrlPath
from harness.spec.durations import Duration

__all__ = [
    "DEFAULT_MAX_BODY",
    "DEFAULT_VERSION_HEADER",
    "MAX_BODY_LIMIT",
    "HarmRule",
    "JsonPathText",
    "JsonValue",
    "Regex",
    "RequestSpec",
    "SafeState",
    "StatusCode",
    "StatusCodes",
    "VersionSource",
]

DEFAULT_MAX_BODY: Final = 1 << 20
"""Bytes of an answer's body read and judged unless the drill says otherwise (1 MiB)."""

MAX_BODY_LIMIT: Final = 64 << 20
"""The largest body cap a drill may ask for (64 MiB): every user may hold one such body."""

_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


def _json_value(value: Any) -> Any:
    """Refuse what JSON cannot carry (a YAML date, NaN): it would not reach the load as is."""
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        raise ValueError("must be a JSON value (no dates, NaN or infinity)") from None
    return value


def _json_path(value: str) -> str:
    parse_json_path(value)  # JsonPathError is a ValueError naming the position
    return value


def _single_json_path(value: str) -> str:
    if not parse_json_path(value).single:
        raise ValueError(f"{value!r}: a version is one value; a wildcard [*] selects many")
    return value


def _regex(value: str) -> str:
    try:
        re.compile(value)
    except re.error as exc:
        raise ValueError(f"invalid regular expression: {exc}") from None
    return value


def _one_or_many(value: object) -> object:
    return [value] if isinstance(value, int) and not isinstance(value, bool) else value


JsonValue = Annotated[Any, AfterValidator(_json_value)]
"""Any value JSON carries unchanged (what YAML and JSON agree on)."""
JsonPathText = Annotated[str, AfterValidator(_json_path)]
"""A JSON path of :mod:`harness.jsonpath`'s subset, checked when the drill is loaded."""
Regex = Annotated[str, AfterValidator(_regex)]
"""A Python regular expression, compiled once when the drill is loaded to check it."""
StatusCode = Annotated[StrictInt, Field(ge=100, le=599)]
"""An HTTP status code."""
StatusCodes = Annotated[tuple[StatusCode, ...], BeforeValidator(_one_or_many), Field(min_length=1)]
"""One status code or a non-empty list of them, held as a tuple."""


class RequestSpec(_Frozen):
    """The request each simulated user sends: ``json`` (as ``application/json``) or ``body``."""

    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "POST"
    path: UrlPath = "/v1/generate"
    json_body: JsonValue = Field(default=None, alias="json")
    headers: dict[str, str] = Field(default_factory=dict)
    """May use ``${NAME}`` (a secret); the load gets them resolved."""
    body: str | None = None

    @field_validator("path")
    @classmethod
    def _no_space(cls, v: str) -> str:
        if any(c in v for c in " \r\n"):
            raise ValueError("a request path has no space or line break (percent-encode it)")
        return v

    @field_validator("headers")
    @classmethod
    def _header_fields(cls, v: dict[str, str]) -> dict[str, str]:
        for name, value in v.items():
            if not _TOKEN.fullmatch(name):
                raise ValueError(f"{name!r} is not a valid header name")
            if "\n" in value or "\r" in value or "\0" in value:
                raise ValueError(f"{name}: a header value has no line break or NUL")
        return v

    @model_validator(mode="after")
    def _one_body(self) -> RequestSpec:
        if self.json_body is not None and self.body is not None:
            raise ValueError("give either json or body, not both")
        return self

    def encoded_body(self) -> bytes:
        """The request body as sent on the wire (empty when there is none)."""
        if self.json_body is not None:
            return json.dumps(self.json_body, separators=(",", ":")).encode()
        if self.body is not None:
            return self.body.encode()
        return b""


class HarmRule(_Frozen):
    """How one response is judged harmful: every given field must match (semantics, wildcards
    included, in :mod:`harness.judging`)."""

    status: StatusCodes | None = None
    json_path: JsonPathText | None = None
    regex: Regex | None = None
    equals: JsonValue = None
    header: str | None = None
    header_regex: Regex | None = None
    latency_over: Duration | None = None
    description: str = ""

    @model_validator(mode="after")
    def _coherent(self) -> HarmRule:
        given = [
            f
            for f in ("status", "json_path", "regex", "equals", "header", "latency_over")
            if getattr(self, f) is not None
        ]
        if not given:
            raise ValueError(
                "a harm rule needs at least one of status, json_path, regex, equals, header,"
                " latency_over"
            )
        if self.equals is not None and self.json_path is None:
            raise ValueError("equals needs json_path ($ for the whole document)")
        if (self.header is None) != (self.header_regex is None):
            raise ValueError("header and header_regex go together")
        return self


class SafeState(_Frozen):
    """What counts as the halt in a safe state a stop must reach.

    ``json_path``, ``regex`` and ``equals`` (matched as a harm rule's are) narrow a listed
    status to the answers whose body also says "stopped": a listed status with another body
    is an error, not a stop. Body rules never make a 2xx answer safe.
    """

    statuses: tuple[StatusCode, ...] = (503,)
    connection_refused: bool = True
    connection_reset: bool = True
    json_path: JsonPathText | None = None
    regex: Regex | None = None
    equals: JsonValue = None

    @model_validator(mode="after")
    def _coherent(self) -> SafeState:
        if self.equals is not None and self.json_path is None:
            raise ValueError("equals needs json_path ($ for the whole document)")
        if self.judges_body:
            serving = [s for s in self.statuses if 200 <= s < 300]
            if serving:
                raise ValueError(
                    f"statuses: {', '.join(map(str, serving))}: a 2xx answer is serving;"
                    " body rules (json_path, regex, equals) never make it safe"
                )
        return self

    @property
    def judges_body(self) -> bool:
        """Whether a listed status is safe only with a matching body."""
        return self.json_path is not None or self.regex is not None


class VersionSource(_Frozen):
    """Where an answer says which model version produced it: a header, a JSON value, or
    both (the header wins when the answer has it). Only what is given is read."""

    header: str | None = None
    json_path: Annotated[str, AfterValidator(_single_json_path)] | None = None

    @field_validator("header")
    @classmethod
    def _header_name(cls, v: str | None) -> str | None:
        if v is not None and not _TOKEN.fullmatch(v):
            raise ValueError(f"{v!r} is not a valid header name")
        return v

    @property
    def declared(self) -> bool:
        """Whether answers can name their version at all (a header or a path is given)."""
        return self.header is not None or self.json_path is not None


DEFAULT_VERSION_HEADER: Final = "X-Model-Version"
"""The header a target's answers name their version in when its file says nothing."""
