"""The streams picture: one row per stream, from its first chunk to its last, harmful chunks
marked, with the effective stop's bounds behind them, as inline SVG.

Chunks, not only requests: a stream that began before the stop and went on sending after it
shows as a line crossing the stop's band. At most :data:`MAX_ROWS` streams are drawn (those
whose last chunk came latest: the ones that matter after a stop), and the picture says how
many were left out. Every text goes through ``escape``.
"""

from __future__ import annotations

from markupsafe import Markup, escape

from harness.report._chart import COLORS, Scale, fmt, time_ticks
from harness.report._data import StreamSpan

__all__ = ["MAX_ROWS", "streams_svg"]

MAX_ROWS = 200
"""A picture of a few hundred rows stays readable and small; the rest are counted."""

_W = 1100
_LEFT, _RIGHT = 64, 18
_ROW = 4
_TOP = 24


def streams_svg(
    spans: list[StreamSpan], *, stop_band: tuple[float, float] | None, title: str
) -> Markup:
    """The streams of ``spans`` as rows, with ``stop_band`` (the effective stop's lower and
    upper bounds) shaded behind them."""
    drawn = sorted(spans, key=lambda s: s.last_chunk_s or s.end_s, reverse=True)[:MAX_ROWS]
    drawn.sort(key=lambda s: s.start_s)
    left_out = len(spans) - len(drawn)
    t0 = min((s.start_s for s in drawn), default=0.0)
    t1 = max((s.end_s for s in drawn), default=1.0)
    if stop_band is not None:
        t0, t1 = min(t0, stop_band[0]), max(t1, stop_band[1])
    t0, t1 = t0 - 0.05, t1 + 0.05
    plot_w = _W - _LEFT - _RIGHT
    bottom = _TOP + max(1, len(drawn)) * _ROW + 6
    height = bottom + 34

    def x(t: float) -> float:
        return _LEFT + (min(max(t, t0), t1) - t0) / (t1 - t0) * plot_w

    heading = f"{len(drawn)} stream(s), first to last chunk; harmful chunks in red"
    if left_out:
        heading += f" ({left_out} earlier-ending stream(s) not drawn)"
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_W} {height}" width="{_W}"'
        f' height="{height}" role="img" aria-label="{escape(title)}" class="timeline">',
        f"<title>{escape(title)}</title>",
        f'<rect x="{_LEFT}" y="{_TOP - 4}" width="{plot_w}" height="{bottom - _TOP + 4}"'
        ' class="panel"/>',
        f'<text x="{_LEFT + 6}" y="{_TOP - 8}" class="title">{escape(heading)}</text>',
    ]
    if stop_band is not None:
        lo, hi = x(stop_band[0]), x(stop_band[1])
        out.append(
            f'<rect x="{lo:.1f}" y="{_TOP - 4}" width="{max(hi - lo, 1.5):.1f}"'
            f' height="{bottom - _TOP + 4}" fill="#333" opacity="0.18">'
            f"<title>effective stop: between {fmt(stop_band[0])} s and"
            f" {fmt(stop_band[1])} s</title></rect>"
        )
    for row, span in enumerate(drawn):
        out.append(_row(span, x, _TOP + row * _ROW + 2))
    out += time_ticks(x, t0, t1, bottom)
    out.append(
        f'<text x="{_LEFT + plot_w / 2:.0f}" y="{bottom + 31}" class="axis"'
        ' text-anchor="middle">seconds since the run started (host monotonic clock)</text>'
    )
    out.append("</svg>")
    return Markup("".join(out))  # every text above was escaped as it went in


def _row(span: StreamSpan, x: Scale, y: float) -> str:
    """One stream: grey from its start to its first chunk, green (red once harmful) from
    its first to its last chunk, a red tick at its first and last harmful chunk."""
    tip = escape(
        f"stream started {fmt(span.start_s)} s, {span.chunks} chunk(s)"
        f" ({span.harmful_chunks} harmful), last chunk"
        f" {'—' if span.last_chunk_s is None else fmt(span.last_chunk_s) + ' s'},"
        f" ended {fmt(span.end_s)} s: {span.outcome}"
    )
    parts = [f"<g><title>{tip}</title>"]
    first = span.first_chunk_s if span.first_chunk_s is not None else span.end_s
    parts.append(
        f'<line x1="{x(span.start_s):.1f}" y1="{y:.1f}" x2="{x(first):.1f}" y2="{y:.1f}"'
        f' stroke="{COLORS["stopped"]}" stroke-width="1"/>'
    )
    if span.first_chunk_s is not None and span.last_chunk_s is not None:
        parts.append(
            f'<line x1="{x(span.first_chunk_s):.1f}" y1="{y:.1f}" x2="{x(span.last_chunk_s):.1f}"'
            f' y2="{y:.1f}" stroke="{COLORS["ok"]}" stroke-width="2.5"/>'
        )
    if span.first_harm_s is not None and span.last_harm_s is not None:
        parts.append(
            f'<line x1="{x(span.first_harm_s):.1f}" y1="{y:.1f}" x2="{x(span.last_harm_s):.1f}"'
            f' y2="{y:.1f}" stroke="{COLORS["harmful"]}" stroke-width="2.5"/>'
        )
        for t in {span.first_harm_s, span.last_harm_s}:
            parts.append(
                f'<line x1="{x(t):.1f}" y1="{y - 2:.1f}" x2="{x(t):.1f}" y2="{y + 2:.1f}"'
                f' stroke="{COLORS["harmful"]}" stroke-width="1.5"/>'
            )
    parts.append("</g>")
    return "".join(parts)
