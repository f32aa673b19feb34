"""The pack's one HTML page: the period's drills over time, coverage, failures and their
fix, the standards mapping, and what was excluded.

Rendered from ``harness/pack/templates`` with autoescape and StrictUndefined, as the run
report is; everything the page shows is prepared here as plain values, sorted, with no
wall-clock time, so the same collection gives the same bytes.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from harness.pack._collect import Collection, PackRun
from harness.pack._coverage import TargetCoverage, defect_drills
from harness.pack._period import Period, format_utc
from harness.pack._remediation import Remediation, format_span
from harness.pack._standards import PACK_DISCLAIMER, PeriodFact
from harness.run_summary import DeadlineSummary

__all__ = ["PackPage", "render_pack_page"]

_CHART_LEFT = 230
_CHART_WIDTH = 640
_ROW = 26


@dataclass(frozen=True, slots=True)
class PackPage:
    """Everything the page shows."""

    period: Period
    collection: Collection
    targets: tuple[TargetCoverage, ...]
    fixes: tuple[Remediation, ...]
    facts: tuple[PeriodFact, ...]
    signer_keyid: str | None
    trust_file: bool
    tsa_cert: bool


def render_pack_page(page: PackPage) -> str:
    """The page's HTML text."""
    env = Environment(
        loader=PackageLoader("harness.pack", "templates"),
        autoescape=select_autoescape(enabled_extensions=("html", "j2"), default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    return env.get_template("pack.html.j2").render(_context(page))


def _context(page: PackPage) -> dict[str, Any]:
    runs = page.collection.included
    drills = sorted({r.summary.drill for r in runs})
    return {
        "since": format_utc(page.period.since),
        "until": format_utc(page.period.until),
        "included": len(runs),
        "excluded": [_excluded(e) for e in page.collection.excluded],
        "outside": page.collection.outside,
        "signer": page.signer_keyid,
        "trust_file": page.trust_file,
        "tsa_cert": page.tsa_cert,
        "chart": _chart(page.period, runs, drills),
        "drills": [
            {"name": d, "runs": [_run(r) for r in runs if r.summary.drill == d]} for d in drills
        ],
        "targets": [_target(t) for t in page.targets],
        "defects": [
            {
                "drill": d.drill,
                "defect": d.defect,
                "runs": d.runs,
                "caught": d.caught,
                "latest": d.latest.run_id,
                "latest_started": format_utc(d.latest.started),
                "status": d.status.value,
                "caught_now": d.status.name == "CAUGHT",
                "detail": d.detail,
            }
            for d in defect_drills(runs)
        ],
        "fixes": [_fix(f) for f in page.fixes],
        "facts": [
            {
                "name": f.name,
                "text": f.in_this_period,
                "why": f.why,
                "refs": [
                    {"ref": t.ref, "source": t.source, "title": t.title, "gist": t.gist}
                    for t in f.texts
                ],
            }
            for f in page.facts
        ],
        "disclaimer": PACK_DISCLAIMER,
    }


def _number(value: float | int | None, unit: str) -> str:
    if value is None:
        return "?"
    return f"{value:.3f} s" if unit == "s" else f"{value:g}"


def _deadline(name: str, d: DeadlineSummary) -> dict[str, Any]:
    unit = d.unit.value
    limit = f"{d.limit_s:g} s" if unit == "s" else f"{d.limit_s:g}"
    return {
        "name": name,
        "limit": limit,
        "measured": _number(d.measured_s, unit),
        "bounds": f"[{_number(d.lower_s, unit)}, {_number(d.upper_s, unit)}]",
        "verdict": d.verdict.value,
    }


def _run(run: PackRun) -> dict[str, Any]:
    s = run.summary
    return {
        "anchor": f"run-{run.run_id}",
        "run_id": run.run_id,
        "folder": run.folder,
        "started": format_utc(run.started),
        "time_source": run.start_source
        if run.timestamp is None
        else f"timestamped {format_utc(run.timestamp)}: {run.start_source}",
        "verdict": s.verdict.value,
        "ok": s.ok,
        "expected": s.expectation is not None,
        "rung_used": s.rung_used or "none",
        "deadlines": [_deadline(n, d) for n, d in s.deadlines.items()],
        "key": run.key_id[:16],
        "authorized_by": run.authorized_by,
    }


def _chart(period: Period, runs: tuple[PackRun, ...], drills: list[str]) -> dict[str, Any]:
    span = max((period.until - period.since).total_seconds(), 1.0)

    def x(when: _dt.datetime) -> float:
        return round(_CHART_LEFT + (when - period.since).total_seconds() / span * _CHART_WIDTH, 1)

    ticks = []
    month = _dt.datetime(period.since.year, period.since.month, 1, tzinfo=_dt.UTC)
    while month <= period.until:
        if month >= period.since:
            ticks.append({"x": x(month), "label": month.strftime("%Y-%m-%d")})
        month = (month + _dt.timedelta(days=32)).replace(day=1)
    rows = []
    for i, drill in enumerate(drills):
        y = 30 + i * _ROW
        points = [
            {
                "x": x(r.started),
                "cls": "ok" if r.summary.ok else "bad",
                "title": f"{drill} {format_utc(r.started)} run {r.run_id}:"
                f" {r.summary.verdict.value}",
            }
            for r in runs
            if r.summary.drill == drill
        ]
        rows.append({"drill": drill, "y": y, "points": points})
    return {
        "width": _CHART_LEFT + _CHART_WIDTH + 20,
        "height": 50 + len(drills) * _ROW,
        "left": _CHART_LEFT,
        "right": _CHART_LEFT + _CHART_WIDTH,
        "axis_y": 40 + len(drills) * _ROW - _ROW,
        "rows": rows,
        "ticks": ticks,
    }


def _target(t: TargetCoverage) -> dict[str, Any]:
    return {
        "target": t.target,
        "runs": t.runs,
        "exercised": t.exercised,
        "sandboxes": ", ".join(t.sandboxes) or "unknown",
        "paths": [
            {
                "name": p.name,
                "description": p.description,
                "status": p.status.value,
                "exercised": p.status.exercised,
                "climbed": p.climbed,
                "stopped": p.stopped,
                "outcomes": ", ".join(p.outcomes) or "—",
                "other": ", ".join(f"{a} \u00d7{n}" for a, n in p.other_uses) or "—",
                "not_reached": p.not_reached,
            }
            for p in t.paths
        ],
        "rungs": [
            {
                "drill": r.drill,
                "position": r.position,
                "name": r.name,
                "runs": r.runs,
                "climbed": r.climbed,
                "stopped": r.stopped,
            }
            for r in t.rungs
        ],
        "unknown": list(t.unknown_runs),
    }


def _fix(f: Remediation) -> dict[str, Any]:
    s = f.failed.summary
    missed = [f"{n}: {d.verdict.value}" for n, d in s.deadlines.items() if not d.verdict.passes]
    if s.expectation is not None and not s.expectation.met:
        missed.extend(s.expectation.mismatches)
    return {
        "drill": s.drill,
        "failed": f.failed.run_id,
        "failed_started": format_utc(f.failed.started),
        "verdict": s.verdict.value,
        "why": "; ".join(missed) or (s.error or s.verdict.value),
        "fixed_by": None if f.fixed_by is None else f.fixed_by.run_id,
        "fixed_started": None if f.fixed_by is None else format_utc(f.fixed_by.started),
        "span": None if f.seconds is None else format_span(f.seconds),
    }


def _excluded(e: Any) -> dict[str, Any]:
    return {
        "folder": e.folder,
        "reason": e.reason.value,
        "detail": e.detail,
        "run_id": e.run_id or "—",
        "drill": e.drill or "—",
        "started": "unknown" if e.started is None else format_utc(e.started),
    }
