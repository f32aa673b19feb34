"""The report page: the run's facts set out for the templates, rendered with autoescape.

Python here draws the pictures (SVG whose every text is escaped) and gathers what the
templates show; the templates read the summary themselves with attribute syntax, which works
on a mapping and on a typed model alike. Nothing the target or the summary says is markup.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from jinja2 import Environment
from markupsafe import Markup

from harness.report._chart import COLORS, timeline_svg
from harness.report._data import Mark, RunData
from harness.report._human import human_claims, human_clocks
from harness.report._streams_chart import streams_svg
from harness.report._templates import render_page, report_templates
from harness.report._texts import DISCLAIMER, TEXTS, facts

__all__ = ["Picture", "Snapshot", "TargetEvent", "context", "render"]

_LEGEND = (
    ("ok", "answered, not harmful"),
    ("harmful", "harmful answer"),
    ("stopped", "refused (safe state: stopped)"),
    ("error", "error or timeout"),
)

_SNAPSHOT_TEXT = 2000
"""Characters of a snapshot's status or load view shown (the files hold the rest)."""


@dataclass(frozen=True, slots=True)
class Picture:
    """One timeline picture: its heading ('' for the first) and its harness-drawn SVG."""

    heading: str
    svg: Markup


@dataclass(frozen=True, slots=True)
class TargetEvent:
    """One event of the target's own log, in seconds since the run's zero."""

    t_s: float
    name: str
    fields: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The evidence kept before a rollback: its snapshot.json and its parts as text."""

    folder: str
    snapshot: dict[str, Any]
    parts: tuple[tuple[str, str], ...]


def _bin_width(span_s: float) -> float:
    """50 ms bins, wider for long runs so the picture stays under ~1500 bins."""
    width = 0.05
    while span_s / width > 1500:
        width *= 2
    return width


def _pictures(run: RunData, marks: list[Mark], claims: list[Mark]) -> list[Picture]:
    obs = run.observations
    if obs.last_end is None:
        return []
    hi = obs.last_end
    lo = obs.first_start if obs.first_start is not None else hi
    for m in marks:
        lo, hi = min(lo, m.t_s), max(hi, m.t_s)
    lo = max(0.0, lo - 0.1)
    hi += 0.1
    width = _bin_width(hi - lo)
    lo = int(lo / width) * width
    whole = timeline_svg(obs.bin(lo, hi, width), marks, title="The whole run", claims=claims)
    out = [Picture("", whole)]
    stop = next((m for m in marks if m.key == "stop"), None)
    if stop is not None:
        ends = [m.upper_s or m.t_s for m in marks if m.key in ("stop", "ack", "effective")]
        zlo = stop.t_s - 0.25
        zhi = max(ends) + 0.25
        zwidth = 0.005 if zhi - zlo < 3 else _bin_width(zhi - zlo) / 5
        around = obs.bin(zlo, zhi, zwidth)
        out.append(
            Picture(
                "Around the stop",
                timeline_svg(around, marks, title="Around the stop", claims=claims),
            )
        )
    if obs.streams:
        effective = next((m for m in marks if m.key == "effective"), None)
        band = (
            None
            if effective is None or effective.lower_s is None or effective.upper_s is None
            else (effective.lower_s, effective.upper_s)
        )
        title = "Streams: chunks, not only requests"
        out.append(Picture(title, streams_svg(obs.streams, stop_band=band, title=title)))
    return out


def _snapshots(run: RunData) -> list[Snapshot]:
    return [
        Snapshot(
            folder,
            entry["snapshot"],
            tuple(
                (name, json.dumps(entry[name], indent=1)[:_SNAPSHOT_TEXT])
                for name in ("status", "load-view")
                if name in entry
            ),
        )
        for folder, entry in run.snapshots.items()
    ]


def context(run: RunData) -> dict[str, Any]:
    """Every variable the templates receive (docs/report-templates.md describes each)."""
    marks = run.marks()
    claims = run.target_claims()
    rollback = run.event("rollback_issued")
    first = run.events[0] if run.events else {}
    clocks = human_clocks(run)
    return {
        "summary": run.summary,
        "drill": run.drill,
        "description": str(run.drill.get("description") or "").strip(),
        "started": str(first.get("wall", "—")),
        "zero_ns": run.zero_ns,
        "metric": run.metric,
        "marks": marks,
        "pictures": _pictures(run, marks, [Mark("claim", name, t) for t, name, _ in claims]),
        "colors": COLORS,
        "legend": _LEGEND,
        "target_events": [TargetEvent(t, name, fields) for t, name, fields in claims],
        "target_log": run.target_events,
        "rollback_event_t_s": None if rollback is None else float(rollback["t_s"]),
        "snapshots": _snapshots(run),
        "human_clocks": clocks,
        "human_claims": human_claims(clocks),
        "facts": facts(run.summary, snapshots=bool(run.snapshots)),
        "texts": TEXTS,
        "disclaimer": DISCLAIMER,
        "files": run.files,
    }


def render(run: RunData, templates: Environment | None = None) -> str:
    """The whole report page for ``run`` (``templates``: a user's, else the installed)."""
    return render_page(templates or report_templates(), context(run))
