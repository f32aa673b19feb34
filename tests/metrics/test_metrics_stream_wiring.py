"""A real run whose observation log offers ``streams()`` gets the stream metrics, their judged
deadline and the streams picture, through the same path the streaming load will feed.

Until the streaming load lands, each answer of the reference target's load stands in for a
one-chunk stream (its end is its chunk): the streams come from the run's own observations,
so they are real instants of a real run, on the harness's clock.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.engine import run_drill
from harness.observations import ObservationLog
from harness.spec import load_drill
from harness.streams import StreamObservation, StreamOutcome
from tests.helpers import ROOT

DRILL = """\
drill: stream-wiring
target: model-service
sandbox: process
load:
  users: 5
  request: {method: POST, path: /v1/generate, json: {prompt: the sea}}
harm:
  - json_path: $.output
    regex: "CANARY-[0-9a-f]{8}"
steps:
  - at: 500ms
    inject: harmful_output
  - when: harm_detected
    stop: [admin_api]
    grace: 2s
hold: 500ms
deadlines: {stop: 2s, stream_cut_time: 5s, harmful_chunks_after_stop: 1000000}
"""


def _answers_as_streams(log: ObservationLog) -> list[StreamObservation]:
    """Each served answer as a stream of one chunk, arriving at its end."""
    start, end, _status, state, harmful = log.columns()
    return [
        StreamObservation(
            start_ns=s,
            first_chunk_ns=e,
            last_chunk_ns=e,
            first_harm_ns=e if h else None,
            last_harm_ns=e if h else None,
            chunks=1,
            harmful_chunks=int(h),
            end_ns=e,
            outcome=StreamOutcome.COMPLETED,
        )
        for s, e, st, h in zip(start, end, state, harmful, strict=False)
        if st == 0
    ]


def test_a_log_with_streams_gets_stream_metrics_deadlines_and_picture(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The summary keeps the three stream metrics with ordered bounds, judges the declared
    stream deadlines, and the report draws the streams."""
    monkeypatch.setattr(ObservationLog, "streams", _answers_as_streams, raising=False)
    path = tmp_path / "drill.yaml"
    path.write_text(DRILL)
    drill = load_drill(path, targets_dirs=[ROOT / "targets"])
    result = run_drill(drill, results=tmp_path / "results")
    summary = result.summary
    for name in ("streams_in_flight_at_stop", "stream_cut_time", "harmful_chunks_after_stop"):
        metric = summary.metrics.get(name)
        assert metric is not None and metric.lower is not None, (name, metric)
        assert metric.upper is None or metric.lower <= metric.upper, (name, metric)
    judged = dict(summary.deadlines.items())
    assert {"stream_cut_time", "harmful_chunks_after_stop"} <= set(judged)
    assert judged["harmful_chunks_after_stop"].verdict.value == "met", judged
    page = (result.run_dir / "report.html").read_text(encoding="utf-8")
    assert "Streams: chunks, not only requests" in page
