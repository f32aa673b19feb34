"""The human clock drawn as a small inline SVG: one row per step (notified, acknowledged,
acted, effective, ...), each at its instant with its bounds shaded, over the deadline's window
and a line where the deadline passed. Plain SVG with <title> tooltips: no script.

Like the timeline picture, this is markup the harness writes itself, so every text in it (a
label, an operator's name, a deadline's name) goes through ``escape``."""

from __future__ import annotations

import math
from dataclasses import dataclass

from markupsafe import Markup, escape

from harness.report._chart import fmt, time_ticks

__all__ = ["ClockPicture", "clock_svg"]

_W = 1100
_LABELS = 170
"""The column of row labels, left of the plot."""
_RIGHT = 24
_TOP = 30
_ROW = 24
_AXIS = 40

_COLORS = {
    "start": "#7b3fa0",
    "detected": "#b8860b",
    "notified": "#1f5fa8",
    "complained": "#1f5fa8",
    "acknowledged": "#5a8fd0",
    "acted": "#2f6f9e",
    "fallback": "#c0262d",
    "effective": "#0b7a3e",
}
_DEADLINE = "#c0262d"


@dataclass(frozen=True, slots=True)
class ClockPicture:
    """What the picture shows, in seconds from the clock's start (None: not seen)."""

    title: str
    axis: str
    instants: tuple[tuple[str, float | None, float | None, float | None, str], ...]
    """(label, instant, lower, upper, key) per row, in the order the rows are drawn."""
    deadline: str | None
    """The deadline's name as shown ('stop deadline'), None without one."""
    deadline_start_s: float | None
    deadline_at_s: float | None


def _span(picture: ClockPicture) -> tuple[float, float]:
    known = [
        v
        for _label, t, lo, hi, _key in picture.instants
        for v in (t, lo, hi)
        if v is not None and math.isfinite(v)
    ]
    if picture.deadline_at_s is not None and math.isfinite(picture.deadline_at_s):
        known.append(picture.deadline_at_s)
    t0, t1 = min([0.0, *known]), max([0.0, *known])
    if t1 - t0 <= 0:
        t1 = t0 + 1.0
    pad = (t1 - t0) * 0.04
    return t0 - pad, t1 + pad


def clock_svg(picture: ClockPicture) -> Markup:
    """The picture as inline SVG markup (every text escaped)."""
    t0, t1 = _span(picture)
    left, plot_w = _LABELS, _W - _LABELS - _RIGHT
    rows = len(picture.instants)
    bottom = _TOP + rows * _ROW
    height = bottom + _AXIS

    def x(t: float) -> float:
        return left + (min(max(t, t0), t1) - t0) / (t1 - t0) * plot_w

    title = escape(picture.title)
    out: list[str] = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_W} {height}" width="{_W}"'
        f' height="{height}" role="img" aria-label="{title}" class="timeline clock">',
        f"<title>{title}</title>",
        f'<rect x="{left}" y="{_TOP - 6}" width="{plot_w}" height="{bottom - _TOP + 6}"'
        ' class="panel"/>',
    ]
    start, at = picture.deadline_start_s, picture.deadline_at_s
    if picture.deadline is not None and at is not None:
        name = escape(picture.deadline)
        if start is not None:
            lo, hi = x(start), x(at)
            out.append(
                f'<rect x="{lo:.1f}" y="{_TOP - 6}" width="{max(hi - lo, 1.0):.1f}"'
                f' height="{bottom - _TOP + 6}" fill="{_DEADLINE}" opacity="0.06">'
                f"<title>{name}: its clock ran from {fmt(start)} s to {fmt(at)} s</title></rect>"
            )
        dx = x(at)
        anchor = "end" if dx > left + plot_w * 0.75 else "start"
        shift = -4 if anchor == "end" else 4
        out.append(
            f'<g class="deadline"><title>{name} passed at {fmt(at)} s</title>'
            f'<line x1="{dx:.1f}" y1="{_TOP - 14}" x2="{dx:.1f}" y2="{bottom}"'
            f' stroke="{_DEADLINE}" stroke-width="2" stroke-dasharray="6 3"/>'
            f'<text x="{dx + shift:.1f}" y="{_TOP - 16}" class="title" text-anchor="{anchor}"'
            f' fill="{_DEADLINE}">{name} ({fmt(at)} s)</text></g>'
        )
    for row, (label, t, lower, upper, key) in enumerate(picture.instants):
        y = _TOP + row * _ROW + _ROW / 2 - 3
        color = _COLORS.get(key, "#333")
        text = escape(label)
        out.append(
            f'<text x="{left - 8}" y="{y + 4:.1f}" class="axis" text-anchor="end">{text}</text>'
            f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" class="grid"/>'
        )
        if lower is not None and upper is not None:
            lo, hi = x(lower), x(upper)
            out.append(
                f'<rect x="{lo:.1f}" y="{y - 7:.1f}" width="{max(hi - lo, 1.5):.1f}" height="14"'
                f' fill="{color}" opacity="0.25"><title>{text}: between {fmt(lower)} s and'
                f" {fmt(upper)} s</title></rect>"
            )
        if t is None:
            out.append(
                f'<text x="{left + 6}" y="{y + 4:.1f}" class="tick">not seen in this run</text>'
            )
            continue
        out.append(
            f'<g class="mark"><title>{text} at {fmt(t)} s</title>'
            f'<circle cx="{x(t):.1f}" cy="{y:.1f}" r="6" fill="{color}"/></g>'
        )
    out += time_ticks(x, t0, t1, bottom)
    out.append(
        f'<text x="{left + plot_w / 2:.0f}" y="{bottom + 32}" class="axis" text-anchor="middle">'
        f"{escape(picture.axis)}</text>"
    )
    out.append("</svg>")
    return Markup("".join(out))  # every text above was escaped as it went in
