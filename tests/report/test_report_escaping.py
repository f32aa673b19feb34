"""The report shows what a target or a summary.json says as text: never as markup that runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import SummaryError
from harness.report import render_report
from tests.helpers import ROOT, govdrill, only_run
from tests.report.run_folder import IMG, PAYLOAD, SCRIPT, PageShape, write_run

DRILL = ROOT / "tests" / "report" / "markup.yaml"


def _assert_only_template_markup(hostile: PageShape, benign: PageShape) -> None:
    assert hostile.live == []
    assert hostile.tags <= benign.tags, hostile.tags - benign.tags
    assert hostile.attributes <= benign.attributes, hostile.attributes - benign.attributes


def test_a_summary_with_markup_in_every_field_renders_it_as_text(tmp_path: Path) -> None:
    """A summary.json (and drill, timeline, target log, snapshot) with <script> and
    <img onerror> in every free-text string: the page has only the template's elements and
    attributes, and the payloads are there as text."""
    benign = PageShape(render_report(write_run(tmp_path / "benign", poison=False)))
    hostile_page = render_report(write_run(tmp_path / "hostile", poison=True))
    hostile = PageShape(hostile_page)
    _assert_only_template_markup(hostile, benign)
    text = "".join(hostile.text)
    assert SCRIPT in text and IMG in text
    assert text.count(PAYLOAD) >= 20


def test_a_summary_with_markup_in_numbers_and_enums_is_not_a_runs(tmp_path: Path) -> None:
    """Markup where the summary holds a number or an enum is refused by the typed summary,
    naming the file, instead of being drawn."""
    folder = write_run(tmp_path / "hostile", poison=True, numbers=True)
    with pytest.raises(SummaryError, match="not a govdrill run summary") as info:
        render_report(folder)
    assert str(folder / "summary.json") in str(info.value)


@pytest.mark.slow
def test_a_target_that_answers_markup_everywhere_gets_a_report_of_text(tmp_path: Path) -> None:
    """A real drill against a target whose every answer, header, version, control-call
    answer, log line and event carries markup: report.html has no element or attribute
    that the same drill against a plain-spoken target does not have, and no script."""
    pages = {}
    for name, extra in (("benign", ["--set", "target_args=[--plain]"]), ("hostile", [])):
        results = tmp_path / name
        done = govdrill("run", str(DRILL), "--results", str(results), "-q", *extra)
        assert done.returncode == 0, done.stdout + done.stderr
        pages[name] = (only_run(results) / "report.html").read_text(encoding="utf-8")
    hostile, benign = PageShape(pages["hostile"]), PageShape(pages["benign"])
    _assert_only_template_markup(hostile, benign)
    text = "".join(hostile.text)
    assert SCRIPT in text and IMG in text  # shown, as text
    assert "v2<img src=x onerror=alert(1)>" in text  # the version header, in the picture
    assert "plain" in "".join(benign.text) and SCRIPT not in "".join(benign.text)
