"""The stream metrics and their judged deadlines reach summary.json's models and the CLI line."""

from __future__ import annotations

import dataclasses
import io

from harness.cli import _stream_line
from harness.metrics import judge
from harness.run_summary import MeasuredMetrics
from harness.spec.models import Deadlines, InFlight
from harness.summary import judged_deadlines, measured_metrics
from tests.metrics.test_metrics_streams import _run


def test_stream_metrics_and_deadlines_are_in_the_summary_models() -> None:
    """A drained run's three stream metrics and two missed deadlines are kept by name."""
    metrics = _run(drain=True)
    measured = measured_metrics(metrics)
    names = [n for n, _ in measured.items()]
    assert names[-3:] == [
        "streams_in_flight_at_stop",
        "stream_cut_time",
        "harmful_chunks_after_stop",
    ]
    judged = judged_deadlines(judge(metrics, Deadlines(harmful_chunks_after_stop=0), InFlight.CUT))
    assert [(n, d.verdict.value) for n, d in judged.items()] == [
        ("harmful_chunks_after_stop", "missed"),
        ("stream_cut_time", "missed"),
    ]
    # What summary.json holds reads back as the same models.
    again = MeasuredMetrics.model_validate_json(measured.model_dump_json())
    assert again == measured


def test_a_run_without_streams_keeps_its_summary_as_before() -> None:
    """Without streams read, no stream metric appears (summary.json is unchanged)."""
    names = [
        n for n, _ in measured_metrics(dataclasses.replace(_run(drain=False), streams=None)).items()
    ]
    assert not {"streams_in_flight_at_stop", "stream_cut_time"} & set(names)


def test_the_cli_prints_one_line_on_streams() -> None:
    """The result lines say how many streams were in flight and how long they went on."""
    out = io.StringIO()
    _stream_line(measured_metrics(_run(drain=True)), out)
    line = out.getvalue()
    assert line.startswith("  streams in flight at the stop [") and "harmful chunks" in line
    empty = io.StringIO()
    _stream_line(MeasuredMetrics(), empty)
    assert empty.getvalue() == ""
