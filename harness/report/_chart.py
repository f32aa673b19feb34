"""The run's timeline picture as inline SVG: answers per second, harmful answers, versions,
and the marks of the drill (incident, detection, stop, acknowledgement, effective stop with
its bounds, rollback, hold). Plain SVG with <title> tooltips: no script, no network.

The picture is the one piece of the page the harness writes as markup itself, so every text
in it (a version the target sent, a name from its log, a label from the drill) goes through
``escape``, and colours too, although the harness picks them."""

from __future__ import annotations

import math
from collections.abc import Callable

from markupsafe import Markup, escape

from harness.report._data import Bins, Mark

__all__ = ["COLORS", "fmt", "nice_step", "timeline_svg"]

COLORS = {
    "ok": "#6aaa7f",
    "harmful": "#d1342f",
    "stopped": "#9aa0a8",
    "error": "#e8a33d",
}
_VERSION_COLORS = ("#4a78c2", "#b05cc6", "#2f9e9e", "#c98a2b", "#7a7a7a")

Scale = Callable[[float], float]

_W = 1100
_LEFT, _RIGHT = 64, 18
_BADGE_ROW = 17
_RATE_H, _HARM_H, _VERSION_H, _GAP = 190, 70, 14, 16


def time_ticks(x: Scale, t0: float, t1: float, bottom: float) -> list[str]:
    """The time axis's ticks and their labels, about 12 over [t0, t1], under ``bottom``."""
    out = []
    step = nice_step(t1 - t0, 12)
    tick = math.ceil(t0 / step) * step
    while tick <= t1 + 1e-9:
        tx = x(tick)
        out.append(
            f'<line x1="{tx:.1f}" y1="{bottom}" x2="{tx:.1f}" y2="{bottom + 4}" stroke="#444"/>'
            f'<text x="{tx:.1f}" y="{bottom + 16}" class="tick" text-anchor="middle">'
            f"{fmt(tick)}</text>"
        )
        tick += step
    return out


def nice_step(span: float, target: int) -> float:
    """A round tick step (1, 2, 2.5 or 5 times a power of ten) giving about ``target`` ticks."""
    raw = span / max(1, target)
    power = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1.0
    for m in (1, 2, 2.5, 5, 10):
        if raw <= m * power:
            return m * power
    return 10 * power


def fmt(v: float) -> str:
    """A number to the millisecond, without trailing zeros."""
    text = f"{v:.3f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _layers(bins: Bins) -> list[tuple[str, list[float]]]:
    scale = 1.0 / bins.width_s
    return [
        ("ok", [c * scale for c in bins.ok]),
        ("harmful", [c * scale for c in bins.harmful]),
        ("stopped", [c * scale for c in bins.stopped]),
        ("error", [c * scale for c in bins.error]),
    ]


def timeline_svg(bins: Bins, marks: list[Mark], *, title: str, claims: list[Mark]) -> Markup:
    """One SVG picture of ``bins`` with ``marks`` (the harness's) and ``claims`` (the
    target's own log) over them."""
    t0 = bins.start_s
    t1 = bins.start_s + bins.width_s * len(bins)
    plot_w = _W - _LEFT - _RIGHT

    def x(t: float) -> float:
        return _LEFT + (min(max(t, t0), t1) - t0) / (t1 - t0) * plot_w

    visible = [m for m in marks if t0 <= m.t_s <= t1]
    rows: list[float] = []  # the right edge of the last badge in each row
    placed: list[tuple[Mark, int, int]] = []
    for number, mark in enumerate(marks, start=1):
        if mark not in visible:
            continue
        bx = x(mark.t_s)
        row = next((i for i, edge in enumerate(rows) if bx - edge >= 18), len(rows))
        if row == len(rows):
            rows.append(bx)
        rows[row] = bx
        placed.append((mark, number, row))
    badge_h = max(1, len(rows)) * _BADGE_ROW + 6
    claims_h = 26 if claims else 0
    top = badge_h + claims_h
    rate_top = top
    harm_top = rate_top + _RATE_H + _GAP
    version_top = harm_top + _HARM_H + _GAP
    bottom = version_top + _VERSION_H
    height = bottom + 34
    out: list[str] = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_W} {height}" width="{_W}"'
        f' height="{height}" role="img" aria-label="{escape(title)}" class="timeline">',
        f"<title>{escape(title)}</title>",
    ]
    # bounds bands first, under everything
    for mark, _number, _row in placed:
        if mark.lower_s is not None and mark.upper_s is not None:
            lo, hi = x(mark.lower_s), x(mark.upper_s)
            out.append(
                f'<rect x="{lo:.1f}" y="{rate_top}" width="{max(hi - lo, 1.5):.1f}"'
                f' height="{bottom - rate_top}" fill="{escape(mark.color)}" opacity="0.13">'
                f"<title>{escape(mark.label)}: between {fmt(mark.lower_s)} s and"
                f" {fmt(mark.upper_s)} s</title></rect>"
            )
    out += _rate_panel(bins, x, rate_top, plot_w)
    out += _harm_panel(bins, x, harm_top, plot_w)
    out += _version_lane(bins, x, version_top)
    # time axis
    out += time_ticks(x, t0, t1, bottom)
    out.append(
        f'<text x="{_LEFT + plot_w / 2:.0f}" y="{bottom + 31}" class="axis"'
        ' text-anchor="middle">seconds since the run started (host monotonic clock)</text>'
    )
    # the harness's marks
    for mark, number, row in placed:
        mx = x(mark.t_s)
        by = 4 + row * _BADGE_ROW + 7
        out.append(
            f'<g class="mark"><title>{number}. {escape(mark.label)} at {fmt(mark.t_s)} s'
            f"{escape(' — ' + mark.note) if mark.note else ''}</title>"
            f'<line x1="{mx:.1f}" y1="{by + 7}" x2="{mx:.1f}" y2="{bottom}"'
            f' stroke="{escape(mark.color)}"'
            ' stroke-width="1.3" stroke-dasharray="4 3"/>'
            f'<circle cx="{mx:.1f}" cy="{by}" r="7.5" fill="{escape(mark.color)}"/>'
            f'<text x="{mx:.1f}" y="{by + 3.5}" class="badge" text-anchor="middle">{number}</text>'
            "</g>"
        )
    # the target's own claims, in their own lane
    if claims:
        lane = badge_h + 9
        out.append(
            f'<text x="{_LEFT - 6}" y="{lane + 4}" class="tick" text-anchor="end">target log</text>'
        )
        for claim in claims:
            if not t0 <= claim.t_s <= t1:
                continue
            cx = x(claim.t_s)
            out.append(
                f'<g class="claim"><title>target says: {escape(claim.label)} at'
                f" {fmt(claim.t_s)} s</title>"
                f'<path d="M{cx:.1f} {lane - 5}l5 5-5 5-5-5z" fill="#fff" stroke="#222"/></g>'
            )
    out.append("</svg>")
    return Markup("".join(out))  # every text above was escaped as it went in


def _rate_panel(bins: Bins, x: Scale, top: int, plot_w: int) -> list[str]:
    layers = _layers(bins)
    totals = [sum(values[i] for _, values in layers) for i in range(len(bins))]
    peak = max(totals, default=0.0) or 1.0
    step = nice_step(peak, 4)
    peak = math.ceil(peak / step) * step
    h = _RATE_H

    def y(v: float) -> float:
        return top + h - v / peak * h

    out = [
        f'<rect x="{_LEFT}" y="{top}" width="{plot_w}" height="{h}" class="panel"/>',
        f'<text x="{_LEFT + 6}" y="{top + 14}" class="title">answers per second, by what they'
        f" were (bins of {fmt(bins.width_s * 1000)} ms)</text>",
    ]
    v = 0.0
    while v <= peak + 1e-9:
        out.append(
            f'<line x1="{_LEFT}" y1="{y(v):.1f}" x2="{_LEFT + plot_w}" y2="{y(v):.1f}"'
            ' class="grid"/>'
            f'<text x="{_LEFT - 6}" y="{y(v) + 4:.1f}" class="tick" text-anchor="end">'
            f"{fmt(v)}</text>"
        )
        v += step
    base = [0.0] * len(bins)
    for name, values in layers:
        if not any(values):
            continue
        tops = [b + v for b, v in zip(base, values, strict=True)]
        out.append(_band_path(bins, x, y, base, tops, COLORS[name], name))
        base = tops
    return out


def _band_path(
    bins: Bins, x: Scale, y: Scale, low: list[float], high: list[float], color: str, name: str
) -> str:
    """A stepped area between ``low`` and ``high`` across the bins."""
    edges = [bins.start_s + i * bins.width_s for i in range(len(bins) + 1)]
    upper = []
    for i, v in enumerate(high):
        upper.append(f"{x(edges[i]):.1f},{y(v):.1f}")
        upper.append(f"{x(edges[i + 1]):.1f},{y(v):.1f}")
    lower = []
    for i in range(len(low) - 1, -1, -1):
        lower.append(f"{x(edges[i + 1]):.1f},{y(low[i]):.1f}")
        lower.append(f"{x(edges[i]):.1f},{y(low[i]):.1f}")
    return (
        f'<path d="M{" L".join(upper + lower)}Z" fill="{escape(color)}" stroke="none">'
        f"<title>{escape(name)}</title></path>"
    )


def _harm_panel(bins: Bins, x: Scale, top: int, plot_w: int) -> list[str]:
    h = _HARM_H
    peak = max(bins.harmful, default=0)
    out = [
        f'<rect x="{_LEFT}" y="{top}" width="{plot_w}" height="{h}" class="panel"/>',
        f'<text x="{_LEFT + 6}" y="{top + 14}" class="title">harmful answers per bin'
        f" (peak {peak})</text>",
        f'<text x="{_LEFT - 6}" y="{top + 10}" class="tick" text-anchor="end">{peak}</text>',
        f'<text x="{_LEFT - 6}" y="{top + h}" class="tick" text-anchor="end">0</text>',
    ]
    if peak:
        for i, count in enumerate(bins.harmful):
            if not count:
                continue
            left = x(bins.start_s + i * bins.width_s)
            right = x(bins.start_s + (i + 1) * bins.width_s)
            bar = max(2.0, count / peak * (h - 18))
            out.append(
                f'<rect x="{left:.1f}" y="{top + h - bar:.1f}" width="{max(right - left, 1.5):.1f}"'
                f' height="{bar:.1f}" fill="{COLORS["harmful"]}"><title>{count} harmful answer(s)'
                f" ending at {fmt(bins.start_s + i * bins.width_s)} s</title></rect>"
            )
    return out


def _version_lane(bins: Bins, x: Scale, top: int) -> list[str]:
    names = sorted({v for v in bins.version if v})
    color = {v: _VERSION_COLORS[i % len(_VERSION_COLORS)] for i, v in enumerate(names)}
    out = [f'<text x="{_LEFT - 6}" y="{top + 11}" class="tick" text-anchor="end">version</text>']
    i = 0
    while i < len(bins):
        version = bins.version[i]
        j = i
        while j + 1 < len(bins) and bins.version[j + 1] == version:
            j += 1
        if version:
            left = x(bins.start_s + i * bins.width_s)
            right = x(bins.start_s + (j + 1) * bins.width_s)
            out.append(
                f'<rect x="{left:.1f}" y="{top}" width="{max(right - left, 1):.1f}"'
                f' height="{_VERSION_H}" fill="{color[version]}"><title>{escape(version)}'
                "</title></rect>"
            )
            if right - left > 24:
                out.append(
                    f'<text x="{(left + right) / 2:.1f}" y="{top + 11}" class="vlabel"'
                    f' text-anchor="middle">{escape(version)}</text>'
                )
        i = j + 1
    return out
