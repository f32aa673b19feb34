"""The answer every route returns, and the error raised for a request it cannot parse."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

__all__ = ["BadRequest", "Reply", "parse_json_object"]


@dataclass(frozen=True, slots=True)
class Reply:
    """An HTTP answer: status, JSON payload, and whether to close the connection after it.

    ``version`` is the ``X-Model-Version`` header; routes that ran the model set it to the
    version that really answered, others leave it to the server (the version now serving).
    """

    status: int
    payload: dict[str, Any]
    version: str | None = None
    close: bool = False
    stream: Any = None
    """A :class:`~model_service.streaming.StreamPlan`: the answer is that stream, and the
    request stays in flight until the handler has sent it."""


class BadRequest(Exception):
    """The request body or its fields are malformed (answered with 400)."""


def parse_json_object(body: bytes, *, empty_ok: bool = False) -> dict[str, Any]:
    """Decode ``body`` as a JSON object, or raise :class:`BadRequest`."""
    if not body.strip():
        if empty_ok:
            return {}
        raise BadRequest("the body must be a JSON object")
    try:
        value = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(f"the body is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise BadRequest("the body must be a JSON object")
    return value
