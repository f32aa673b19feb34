"""Durations as drills write them (``250ms``, ``2s``, ``1.5s``, ``1m``, or a number of seconds)."""

from __future__ import annotations

import math
import re
from typing import Annotated, Any

from pydantic import BeforeValidator

__all__ = ["Duration", "format_duration", "parse_duration"]

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_DURATION = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*(ms|s|m|h)\s*$")


def parse_duration(value: Any) -> float:
    """Return seconds for a duration string or number; raises ValueError otherwise."""
    if isinstance(value, bool):
        raise ValueError("expected a duration like 250ms, 2s or 1m, not a boolean")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        match = _DURATION.match(value)
        if match is None:
            raise ValueError(f"expected a duration like 250ms, 2s or 1m, got {value!r}")
        seconds = float(match.group(1)) * _UNITS[match.group(2)]
    else:
        raise ValueError(f"expected a duration like 250ms, 2s or 1m, got {type(value).__name__}")
    if not math.isfinite(seconds):
        raise ValueError("duration must be finite")
    if seconds < 0:
        raise ValueError(f"duration must not be negative, got {value!r}")
    return seconds


def format_duration(seconds: float) -> str:
    """Render seconds the way a drill would write them."""
    if seconds < 1 and seconds != 0:
        return f"{seconds * 1000:g}ms"
    return f"{seconds:g}s"


Duration = Annotated[float, BeforeValidator(parse_duration)]
"""A non-negative number of seconds, written in a drill as ``250ms``, ``2s`` or ``1m``."""
