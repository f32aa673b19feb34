"""Durations as drills write them (``250ms``, ``2s``, ``1.5s``, ``1m``, or a number of seconds),
and their one conversion to the integer nanoseconds of the harness's monotonic clock.

A loaded spec keeps seconds (as its files say and its summary reports); everything that waits
or compares instants uses the spec's ``*_ns`` properties, which all go through ``to_ns``.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any

from pydantic import BeforeValidator

__all__ = ["MAX_DURATION_S", "NS_PER_S", "Duration", "format_duration", "parse_duration", "to_ns"]

NS_PER_S = 1_000_000_000
"""Nanoseconds in a second: the unit of ``time.monotonic_ns``, the harness's one clock."""

MAX_DURATION_S = 24 * 3600.0
"""The longest duration a drill may write (24h): a drill is minutes long, and a larger value
would overflow the clocks and waits it feeds (``3000000h`` did, on every call)."""

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_DURATION = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*(ms|s|m|h)\s*$")


def parse_duration(value: Any) -> float:
    """Return seconds for a duration string or number; raises ValueError otherwise."""
    if isinstance(value, bool):
        raise ValueError("expected a duration like 250ms, 2s or 1m, not a boolean")
    if isinstance(value, int | float):
        try:
            seconds = float(value)
        except OverflowError:  # an int beyond any float
            raise ValueError("duration must be at most 24h") from None
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
    if seconds > MAX_DURATION_S:
        raise ValueError(f"duration must be at most 24h, got {value!r}")
    return seconds


def to_ns(seconds: float) -> int:
    """Whole nanoseconds of ``seconds``, rounded (``int(0.3 * 1e9)`` would give 299999999)."""
    return round(seconds * NS_PER_S)


def format_duration(seconds: float) -> str:
    """Render seconds the way a drill would write them."""
    if seconds < 1 and seconds != 0:
        return f"{seconds * 1000:g}ms"
    return f"{seconds:g}s"


Duration = Annotated[float, BeforeValidator(parse_duration)]
"""A number of seconds in [0, 24h], written in a drill as ``250ms``, ``2s`` or ``1m``."""
