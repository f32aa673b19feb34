"""The run's report: ``report.html``, made from the run folder's files alone.

One self-contained page (inline CSS and SVG, no script, no network): the timeline picture
of what the load saw with the drill's marks, the deadlines and metrics with bounds, the
target's own claims beside the observations, and which texts each measured fact is evidence
for. Rendering is deterministic, so regenerating an untouched run gives the same bytes.
"""

from __future__ import annotations

from pathlib import Path

from harness.evidence import write_atomic
from harness.report._data import Observations, read_run
from harness.report._html import render

__all__ = ["REPORT", "Observations", "render_report", "write_report"]

REPORT = "report.html"


def render_report(folder: Path, observations: Observations | None = None) -> str:
    """The report page of the run in ``folder`` (``observations``: its columns, when the
    caller still holds them, instead of reading observations.csv.gz back)."""
    return render(read_run(folder, observations))


def write_report(
    folder: Path, out: Path | None = None, *, observations: Observations | None = None
) -> Path:
    """Write the report of the run in ``folder`` to ``out`` (default: its report.html)."""
    path = out or folder / REPORT
    write_atomic(path, render_report(folder, observations).encode("utf-8"))
    return path
