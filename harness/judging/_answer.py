"""One HTTP answer as the checks see it: the body decoded lazily, at most once, only if asked."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, Final

from harness.jsonpath import MISSING

__all__ = ["Answer", "Check", "as_text", "json_equal"]

_UNPARSED: Final = object()


class Answer:
    """One HTTP answer: status, headers (looked up by lower-case name), body, latency."""

    __slots__ = ("_doc", "_text", "body", "headers", "latency_ns", "status")

    def __init__(self, status: int, headers: Mapping[str, str], body: bytes, latency_ns: int):
        self.status = status
        self.headers = headers
        self.body = body
        self.latency_ns = latency_ns
        self._doc: Any = _UNPARSED
        self._text: str | None = None

    def doc(self) -> Any:
        """The body as JSON, or :data:`~harness.jsonpath.MISSING` when it is not JSON."""
        doc = self._doc
        if doc is _UNPARSED:
            try:
                doc = json.loads(self.body)
            except (ValueError, RecursionError):  # also UnicodeDecodeError; deep nesting
                doc = MISSING
            self._doc = doc
        return doc

    def text(self) -> str:
        """The body as text, undecodable bytes replaced."""
        text = self._text
        if text is None:
            text = self._text = self.body.decode("utf-8", errors="replace")
        return text


Check = Callable[[Answer], bool]
"""One compiled test of an answer."""


def as_text(value: Any) -> str:
    """A JSON value as the text a regex is applied to: a string as is, else compact JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def json_equal(a: Any, b: Any) -> bool:
    """JSON equality: numbers compare by value, but booleans are not numbers."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, list) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    return bool(a == b)
