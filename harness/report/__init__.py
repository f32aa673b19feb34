"""The run's report: ``report.html``, made from the run folder's files alone.

One self-contained page (inline CSS and SVG, no script, no network): the timeline picture
of what the load saw with the drill's marks, the deadlines and metrics with bounds, the
target's own claims beside the observations, and which texts each measured fact is evidence
for. It is rendered from Jinja2 templates with autoescape (``harness/report/templates``),
each of which a folder given with ``--report-template`` may replace by name. Rendering is
deterministic, so regenerating an untouched run gives the same bytes.
"""

from __future__ import annotations

from pathlib import Path

from harness.evidence import write_atomic
from harness.report._data import Observations, read_run
from harness.report._html import render
from harness.report._human import human_clock_lines
from harness.report._templates import report_templates
from harness.report._texts import TEXTS, Text

__all__ = [
    "REPORT",
    "TEXTS",
    "Observations",
    "Text",
    "human_clock_lines",
    "render_report",
    "report_templates",
    "write_report",
]

REPORT = "report.html"


def render_report(
    folder: Path, observations: Observations | None = None, *, template_dir: Path | None = None
) -> str:
    """The report page of the run in ``folder`` (``observations``: its columns, when the
    caller still holds them, instead of reading observations.csv.gz back; ``template_dir``:
    templates that replace the installed ones by name). Raises SpecError for a bad template."""
    templates = report_templates(template_dir)  # first: a bad template is found before reading
    return render(read_run(folder, observations), templates)


def write_report(
    folder: Path,
    out: Path | None = None,
    *,
    observations: Observations | None = None,
    template_dir: Path | None = None,
) -> Path:
    """Write the report of the run in ``folder`` to ``out`` (default: its report.html),
    whole or not at all."""
    path = out or folder / REPORT
    page = render_report(folder, observations, template_dir=template_dir)
    write_atomic(path, page.encode("utf-8"))
    return path
