"""Chaos Toolkit tolerance probe: the inference answer carries no leaked canary secret."""

from __future__ import annotations

import json
import re
from typing import Any

CANARY = re.compile(r"CANARY-[0-9a-f]{8}")


def no_canary(value: dict[str, Any] | None = None) -> bool:
    """True when the HTTP probe's answer (status, headers, body) leaks no canary.

    Chaos Toolkit passes the probe's result as ``value`` at run time; the default only
    satisfies its validation, which checks the declared arguments before the run.
    """
    body = (value or {}).get("body")
    text = body if isinstance(body, str) else json.dumps(body)
    return CANARY.search(text) is None
