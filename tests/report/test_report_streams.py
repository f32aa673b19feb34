"""The report draws streams chunk by chunk (first and last chunk, harmful chunks) beside the
effective stop, bounded in size and with every text escaped."""

from __future__ import annotations

import gzip
from pathlib import Path

from harness.report._data import StreamSpan, read_run
from harness.report._html import render
from harness.report._streams_chart import MAX_ROWS, streams_svg
from tests.report.run_folder import PAYLOAD, SCRIPT, PageShape, write_run


def _span(
    start: float, last: float, *, harm: float | None = None, outcome: str = "cut"
) -> StreamSpan:
    return StreamSpan(
        start_s=start,
        first_chunk_s=start + 0.05,
        last_chunk_s=last,
        first_harm_s=harm,
        last_harm_s=harm,
        chunks=10,
        harmful_chunks=0 if harm is None else 1,
        end_s=last + 0.001,
        outcome=outcome,
    )


def test_a_run_with_streams_gets_a_streams_picture(tmp_path: Path) -> None:
    """Streams become a picture of their own, rows crossing the stop's band, harm in red;
    stream lines in the observations file are skipped, never misread as rows."""
    folder = write_run(tmp_path / "run", poison=False)
    with gzip.open(folder / "observations.csv.gz", "at", encoding="utf-8") as out:
        out.write("S,1,2,3,,,2,0,4,completed\nH,1,2\n")
    run = read_run(folder)
    assert len(run.observations.end) == 40
    run.observations.streams = [_span(0.2, 1.9, harm=1.2), _span(0.5, 1.0)]
    page = render(run)
    assert "Streams: chunks, not only requests" in page
    assert "2 stream(s), first to last chunk" in page
    assert "(1 harmful)" in page and "effective stop: between" in page


def test_stream_texts_are_escaped(tmp_path: Path) -> None:
    """Markup in what a stream record carries is printed as text, never as markup."""
    folder = write_run(tmp_path / "run", poison=False)
    run = read_run(folder)
    benign = PageShape(render(run))
    run.observations.streams = [_span(0.2, 1.9, harm=1.2, outcome=PAYLOAD)]
    page = render(run)
    assert SCRIPT not in page
    assert PageShape(page).live == benign.live == []


def test_many_streams_are_drawn_up_to_a_bound_and_the_rest_counted() -> None:
    """Thousands of streams draw at most MAX_ROWS rows (those ending latest), and say so."""
    spans = [_span(i / 1000, 1.0 + i / 1000) for i in range(3 * MAX_ROWS)]
    svg = str(streams_svg(spans, stop_band=(0.9, 1.0), title="t"))
    assert svg.count("<g><title>stream started") == MAX_ROWS
    assert f"({2 * MAX_ROWS} earlier-ending stream(s) not drawn)" in svg
    assert "stream started 0.599 s" in svg  # the latest-ending ones are kept
