"""How the report writes a number that may be unknown: every side of a bound can be null.

A metric's value, lower or upper bound, and a deadline's limit are ``None`` whenever the run
could not prove them (an observation gap, a stop never confirmed). Each formatter here takes
``None`` on any side and writes a dash, so no summary the harness can write breaks the page.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from harness.run_summary import MetricSummary

__all__ = ["DASH", "format_bounded", "format_number", "plus"]

DASH = "—"


def format_number(value: Any, digits: int = 3) -> str:
    """``value`` with ``digits`` decimals when it is a float, as is when an int, a dash when
    unknown (None) and its text otherwise."""
    if value is None:
        return DASH
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def format_bounded(metric: MetricSummary, *, seconds: bool) -> str:
    """``value [lower, upper]``: seconds to the millisecond, counts as whole numbers."""

    def side(v: float | None) -> str:
        if seconds and isinstance(v, int) and not isinstance(v, bool):
            v = float(v)
        return format_number(v)

    return f"{side(metric.value)} [{side(metric.lower)}, {side(metric.upper)}]"


def plus(base: float | None, offset: Any) -> float | None:
    """``base + offset`` when both are known numbers, else None."""
    if base is None or not isinstance(offset, int | float) or isinstance(offset, bool):
        return None
    return float(base) + float(offset)
