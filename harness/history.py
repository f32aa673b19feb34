"""Drills over time: time_to_stop, time_in_harm and rollback_time across sealed runs.

``collect`` reads every sealed run under a results folder; ``analyse`` gives p50 and p95 per
drill and metric and flags a regression two ways, so that "continuous improvement" cannot
quietly tolerate a slower stop:

- against a declared budget: the p95 of the last ``window`` runs' *upper* bounds (the
  conservative side, as deadlines are judged) exceeds the budget;
- against the drill's own best: the p50 of the last ``window`` runs is slower than the best
  p50 of any earlier window of that size by more than ``tolerance`` (relative) and
  ``min_delta`` (absolute, so that millisecond noise is not a regression).
"""

from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any

from harness.errors import SummaryError
from harness.run_summary import read_summary
from harness.spec.durations import parse_duration
from harness.spec.models import RunVerdict

__all__ = [
    "METRICS",
    "Duplicate",
    "HistoryReport",
    "MetricTrend",
    "Regression",
    "RunPoint",
    "analyse",
    "collect",
    "deduplicate",
    "history_html",
    "parse_budget",
    "percentile",
    "sparkline",
]

METRICS = ("time_to_stop", "time_in_harm", "rollback_time")
_SPARKS = "▁▂▃▄▅▆▇█"


@dataclass(frozen=True, slots=True)
class RunPoint:
    """One sealed run's timed metrics: metric → (value, lower, upper)."""

    drill: str
    run: str
    run_id: str
    verdict: str
    stamp: str
    values: dict[str, tuple[float, float, float]]


@dataclass(frozen=True, slots=True)
class Regression:
    """One flagged regression."""

    drill: str
    metric: str
    against: str
    detail: str

    def __str__(self) -> str:
        return f"REGRESSION {self.drill} {self.metric} ({self.against}): {self.detail}"


@dataclass(frozen=True, slots=True)
class MetricTrend:
    """One metric of one drill over its runs."""

    drill: str
    metric: str
    values: tuple[float, ...]
    p50: float | None
    p95: float | None
    recent_p50: float | None
    recent_p95_upper: float | None
    best_p50: float | None
    budget: float | None


@dataclass(frozen=True, slots=True)
class Duplicate:
    """Several folders holding one run id: the run is counted once, from ``kept``."""

    drill: str
    run_id: str
    kept: str
    ignored: tuple[str, ...]

    def __str__(self) -> str:
        return (
            f"DUPLICATE {self.drill} run id {self.run_id}: counted once (from {self.kept}); ignored"
            f" {', '.join(self.ignored)}"
        )


@dataclass(slots=True)
class HistoryReport:
    """Trends and regressions over a results folder."""

    window: int
    points: dict[str, list[RunPoint]] = field(default_factory=dict)
    trends: list[MetricTrend] = field(default_factory=list)
    regressions: list[Regression] = field(default_factory=list)
    skipped: int = 0
    duplicates: list[Duplicate] = field(default_factory=list)


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (0-100) with linear interpolation; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def parse_budget(text: str) -> tuple[str, float]:
    """``time_to_stop=0.5s`` → (metric, seconds); ValueError naming what is wrong."""
    metric, sep, limit = text.partition("=")
    metric = metric.strip()
    if not sep or metric not in METRICS:
        raise ValueError(f"--budget {text!r}: expected METRIC=DURATION, METRIC one of {METRICS}")
    try:
        seconds = float(limit)
    except ValueError:
        seconds = parse_duration(limit)
    return metric, seconds


def collect(results: Path, drill: str | None = None) -> tuple[list[RunPoint], int]:
    """Every sealed run under ``results`` (oldest first) with a usable verdict, and how many
    runs were skipped (error, interrupted, unreadable). Copies of one run are all here:
    ``deduplicate`` counts each run id once."""
    points = []
    skipped = 0
    for summary_path in sorted(results.glob("**/summary.json")):
        folder = summary_path.parent
        if any(part.startswith(".") for part in folder.relative_to(results).parts):
            continue  # a staging folder: not a finished run
        try:
            summary = read_summary(folder)
        except SummaryError:
            skipped += 1
            continue
        if drill is not None and summary.drill != drill:
            continue
        if summary.verdict not in (RunVerdict.PASSED, RunVerdict.FAILED):
            skipped += 1
            continue
        values = {}
        for name in METRICS:
            m = summary.metrics.get(name)
            known = None if m is None else m.known
            if known is not None:
                values[name] = known
        points.append(
            RunPoint(
                drill=summary.drill,
                run=folder.name,
                run_id=summary.run_id,
                verdict=summary.verdict.value,
                stamp=_stamp(folder.name),
                values=values,
            )
        )
    points.sort(key=lambda p: (p.stamp, p.run))
    return points, skipped


def deduplicate(points: list[RunPoint]) -> tuple[list[RunPoint], list[Duplicate]]:
    """Each run id once, so that a replayed or copied run cannot dilute a trend. The copy
    kept is the one whose folder name carries its run id (the name it was sealed under,
    which ``govdrill verify`` checks), else the first in time; the others are flagged."""
    by_id: dict[tuple[str, str], list[RunPoint]] = {}
    for point in points:
        by_id.setdefault((point.drill, point.run_id), []).append(point)
    kept, duplicates = [], []
    for (drill, run_id), copies in by_id.items():
        genuine = [p for p in copies if p.run.endswith(f"-{run_id}")]
        keep = (genuine or copies)[0]
        kept.append(keep)
        if len(copies) > 1:
            ignored = tuple(sorted(p.run for p in copies if p is not keep))
            duplicates.append(Duplicate(drill, run_id, keep.run, ignored))
    kept.sort(key=lambda p: (p.stamp, p.run))
    return kept, duplicates


def _stamp(name: str) -> str:
    try:
        when = _dt.datetime.strptime(name.split("-")[0], "%Y%m%dT%H%M%SZ")
    except ValueError:
        return name
    return when.strftime("%Y-%m-%d %H:%M:%S")


def analyse(
    points: list[RunPoint],
    *,
    budgets: dict[str, float] | None = None,
    window: int = 5,
    tolerance: float = 0.25,
    min_delta: float = 0.05,
) -> HistoryReport:
    """p50/p95 per drill and metric over ``points``, and every regression flagged."""
    budgets = budgets or {}
    report = HistoryReport(window=window)
    points, report.duplicates = deduplicate(points)
    for point in points:
        report.points.setdefault(point.drill, []).append(point)
    for drill, runs in report.points.items():
        for metric in METRICS:
            series = [p.values[metric] for p in runs if metric in p.values]
            values = [v for v, _, _ in series]
            recent = series[-window:]
            recent_p50 = percentile([v for v, _, _ in recent], 50)
            recent_p95_upper = percentile([u for _, _, u in recent], 95)
            earlier = [percentile(values[i : i + window], 50) for i in range(len(values) - window)]
            best = min((p for p in earlier if p is not None), default=None)
            budget = budgets.get(metric)
            report.trends.append(
                MetricTrend(
                    drill, metric, tuple(values), percentile(values, 50),
                    percentile(values, 95), recent_p50, recent_p95_upper, best, budget,
                )
            )  # fmt: skip
            if budget is not None and recent_p95_upper is not None and recent_p95_upper > budget:
                report.regressions.append(
                    Regression(
                        drill, metric, f"budget {budget:g}s",
                        f"p95 of the upper bounds of the last {len(recent)} runs is"
                        f" {recent_p95_upper:.3f}s, over the budget of {budget:g}s",
                    )
                )  # fmt: skip
            if best is not None and recent_p50 is not None:
                allowed = max(tolerance * best, min_delta)
                if recent_p50 - best > allowed:
                    report.regressions.append(
                        Regression(
                            drill, metric, "best window",
                            f"p50 of the last {len(recent)} runs is {recent_p50:.3f}s; the best"
                            f" earlier window of {window} had {best:.3f}s (allowed slack"
                            f" {allowed:.3f}s)",
                        )
                    )  # fmt: skip
    return report


def sparkline(values: Sequence[float]) -> str:
    """The values as a one-line chart of block characters."""
    if not values:
        return ""
    lo, hi = min(values), max(values)
    span = hi - lo
    top = len(_SPARKS) - 1
    return "".join(_SPARKS[0 if span == 0 else round((v - lo) / span * top)] for v in values)


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}s"


def print_report(report: HistoryReport, out: Any) -> None:
    """The runs and the trends as rich tables, then the regressions, on ``out``."""
    from rich.console import Console
    from rich.markup import escape as markup_escape
    from rich.table import Table

    console = Console(file=out, width=None if out.isatty() else 132, highlight=False)
    for drill, runs in report.points.items():
        table = Table(title=f"{drill}: {len(runs)} runs", title_justify="left")
        table.add_column("run (UTC)")
        table.add_column("id")
        table.add_column("verdict")
        for metric in METRICS:
            table.add_column(f"{metric} [lower, upper]", justify="right")
        for p in runs:
            cells = [
                f"{p.values[m][0]:.3f} [{p.values[m][1]:.3f}, {p.values[m][2]:.3f}]"
                if m in p.values
                else "—"
                for m in METRICS
            ]
            table.add_row(p.stamp, p.run_id, p.verdict, *cells)
        console.print(table)
        trends = Table(title=f"{drill}: over runs (last {report.window} = recent)",
                       title_justify="left")  # fmt: skip
        for name in ("metric", "runs", "p50", "p95", "recent p50", "recent p95 (upper)",
                     "best p50", "budget", "trend", "status"):  # fmt: skip
            trends.add_column(name, justify="left" if name in ("metric", "trend") else "right")
        for t in (t for t in report.trends if t.drill == drill):
            flagged = [r for r in report.regressions if r.drill == drill and r.metric == t.metric]
            trends.add_row(
                t.metric, str(len(t.values)), _fmt(t.p50), _fmt(t.p95), _fmt(t.recent_p50),
                _fmt(t.recent_p95_upper), _fmt(t.best_p50), _fmt(t.budget),
                sparkline(t.values), "[bold red]REGRESSION[/]" if flagged else "ok",
            )  # fmt: skip
        console.print(trends)
    for regression in report.regressions:
        console.print(f"[bold red]{markup_escape(str(regression))}[/]")
    for duplicate in report.duplicates:
        console.print(f"[bold yellow]{markup_escape(str(duplicate))}[/]")
    if report.skipped:
        console.print(f"({report.skipped} run(s) without a measured verdict skipped)")


def history_html(report: HistoryReport) -> str:
    """A self-contained page with one SVG chart per drill and metric."""
    sections = []
    for drill, runs in report.points.items():
        charts = [
            _metric_svg(t, [p for p in runs if t.metric in p.values])
            for t in report.trends
            if t.drill == drill
        ]
        flags: list[Regression | Duplicate] = [*report.regressions, *report.duplicates]
        flagged = "".join(f"<li>{escape(str(r))}</li>" for r in flags if r.drill == drill)
        sections.append(
            f"<section><h2>{escape(drill)} <small>{len(runs)} runs</small></h2>"
            + (f'<ul class="bad">{flagged}</ul>' if flagged else "<p>No regression flagged.</p>")
            + "".join(charts)
            + "</section>"
        )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>govdrill history'
        "</title><style>body{font:14px system-ui,'DejaVu Sans',sans-serif;margin:24px;"
        "color:#1d2330}section{margin-bottom:28px}.bad{color:#c0262d;font-weight:600}"
        "svg text{font-size:11px;fill:#444}small{color:#777;font-weight:normal}</style>"
        "</head><body><h1>govdrill: drills over time</h1><p>Each point is one run's measured"
        " value, its whisker the lower and upper bounds. Green dashes: the best p50 over any"
        f" window of {report.window} runs; blue: the p50 of the last {report.window}; red: the"
        " declared budget.</p>" + "".join(sections) + "</body></html>\n"
    )


def _metric_svg(trend: MetricTrend, runs: list[RunPoint]) -> str:
    w, h, left, right, top, bottom = 900, 190, 60, 16, 22, 30
    plot_w, plot_h = w - left - right, h - top - bottom
    uppers = [p.values[trend.metric][2] for p in runs]
    peak = max([*uppers, trend.budget or 0.0, 1e-3]) * 1.1

    def y(v: float) -> float:
        return top + plot_h - v / peak * plot_h

    def x(i: int) -> float:
        return left + (i + 0.5) / max(1, len(runs)) * plot_w

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}"'
        f' viewBox="0 0 {w} {h}"><text x="{left}" y="14" style="font-weight:600">'
        f"{escape(trend.metric)} (s)</text>",
        f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="#fcfcfd"'
        ' stroke="#d0d4db"/>',
    ]
    for frac in (0, 0.5, 1):
        v = peak * frac
        out.append(f'<text x="{left - 6}" y="{y(v) + 4:.1f}" text-anchor="end">{v:.3f}</text>')
    for value, color, label in (
        (trend.budget, "#c0262d", "budget"),
        (trend.best_p50, "#0b7a3e", "best p50"),
        (trend.recent_p50, "#1f5fa8", "recent p50"),
    ):
        if value is not None:
            out.append(
                f'<line x1="{left}" x2="{left + plot_w}" y1="{y(value):.1f}" y2="{y(value):.1f}"'
                f' stroke="{color}" stroke-dasharray="5 4"><title>{label} {value:.3f}s</title>'
                "</line>"
            )
    for i, p in enumerate(runs):
        value, lower, upper = p.values[trend.metric]
        cx = x(i)
        out.append(
            f"<g><title>{escape(p.stamp)} {escape(p.run_id)}: {value:.3f}s [{lower:.3f},"
            f" {upper:.3f}] {escape(p.verdict)}</title>"
            f'<line x1="{cx:.1f}" x2="{cx:.1f}" y1="{y(lower):.1f}" y2="{y(upper):.1f}"'
            ' stroke="#555"/>'
            f'<circle cx="{cx:.1f}" cy="{y(value):.1f}" r="3.5"'
            f' fill="{"#0b7a3e" if p.verdict == "passed" else "#c0262d"}"/></g>'
        )
    out.append(
        f'<text x="{left + plot_w / 2}" y="{h - 8}" text-anchor="middle">runs, oldest to'
        " newest</text></svg>"
    )
    return "".join(out)
