"""The report's Human clock: an operator stop and a complaint set out against their deadline,
what a person or a notifier said shown as text, and the mapping to the texts on human
oversight stated only as far as the run's own verdicts go."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from harness.metrics import DeadlineVerdict
from harness.report import human_clock_lines, render_report
from harness.run_summary import RunSummary
from tests.report.human_runs import contest_summary, operator_summary, write_human_run
from tests.report.run_folder import IMG, PAYLOAD, SCRIPT, PageShape


def _section(page: str) -> str:
    """The Human clock section of a page."""
    start = page.index("<h2>Human clock</h2>")
    return page[start : page.index("</section>", start)]


def _claims(page: str) -> dict[str, str]:
    """Each row of 'What this shows': its claim and the status the page states."""
    table = _section(page).split("<h3>What this shows</h3>")[1]
    rows = re.findall(r"<tr><td><b>(.*?)</b>.*?<span class=\"pill [a-z_]+\">(.*?)</span>", table,
                      re.S)  # fmt: skip
    return dict(rows)


def test_an_operator_stop_report_shows_the_human_clock_against_its_deadline(
    tmp_path: Path,
) -> None:
    """Notified, acknowledged, acted and effective (with its bounds) from the incident, who
    acted through which path, each notification's outcome, the fallback unused, and the
    deadline drawn in the picture where it passed (notified 0.1 s + 5 s)."""
    page = render_report(write_human_run(tmp_path / "run", operator_summary()))
    section = _section(page)
    for step, since in (("notified", "0.100"), ("acknowledged", "1.050"), ("acted", "1.100"),
                        ("effective", "2.200")):  # fmt: skip
        assert re.search(rf"<b>{step}</b></td><td class=num>{since}</td>", section), step
    assert "[2.150, 2.250]" in section  # the effective instant's bounds
    assert "Acted: <b>alice</b> through <b>admin_api</b>" in section
    assert "The harness's fallback was not used." in section
    assert re.search(r"<td>oncall</td><td><span class=\"pill ok\">ok</span>", section)
    assert re.search(r"<td>console</td><td><span class=\"pill skipped\">skipped</span>", section)
    assert "stop deadline (5.1 s)" in section  # the picture marks the deadline
    assert '<svg xmlns="http://www.w3.org/2000/svg"' in section
    claims = _claims(page)
    assert claims == {
        "EU AI Act Art. 14(4)(e)": "met",
        "NIST AI RMF MANAGE 2.4": "met",
        "Users can compel reversal within the declared time": "not tested",
    }


def test_a_complaint_report_shows_the_reversal_against_its_deadline(tmp_path: Path) -> None:
    """A complaint sent 1 s after the incident and reversed 0.2 to 0.3 s later: the reversal
    instant is bounded from the complaint's call, the deadline passes at 1 + 3 s, the
    reversal claim is met and the overseer's stop is not claimed at all."""
    page = render_report(write_human_run(tmp_path / "run", contest_summary()))
    section = _section(page)
    assert re.search(r"<b>complaint filed</b></td><td class=num>1.000</td>", section)
    assert re.search(r"<b>reversed</b></td><td class=num>1.250</td>\s*<td class=num>"
                     r"\[1.200, 1.300\]", section)  # fmt: skip
    assert "Filed through <b>feedback</b>" in section
    assert "Reversed by <b>the service, on the complaint</b>" in section
    assert "reversal deadline (4 s)" in section
    assert _claims(page) == {
        "EU AI Act Art. 14(4)(e)": "not tested",
        "NIST AI RMF MANAGE 2.4": "met",
        "Users can compel reversal within the declared time": "met",
    }
    assert "time to reversal" in page  # and a headline tile


@pytest.mark.parametrize(
    ("summary", "claims"),
    [
        (operator_summary(verdict=DeadlineVerdict.UNVERIFIED),
         ("EU AI Act Art. 14(4)(e)", "NIST AI RMF MANAGE 2.4")),
        (operator_summary(acted=False),
         ("EU AI Act Art. 14(4)(e)", "NIST AI RMF MANAGE 2.4")),
        (contest_summary(verdict=DeadlineVerdict.UNVERIFIED),
         ("NIST AI RMF MANAGE 2.4", "Users can compel reversal within the declared time")),
    ],
    ids=["stop-unverified", "stop-met-but-no-person-seen", "reversal-unverified"],
)  # fmt: skip
def test_a_claim_the_run_could_not_prove_is_stated_unverified(
    tmp_path: Path, summary: RunSummary, claims: tuple[str, ...]
) -> None:
    """An unverified deadline verdict, or a stop in time with no person's call seen, makes the
    mapping say 'unverified' and never 'met'."""
    page = render_report(write_human_run(tmp_path / "run", summary))
    stated = _claims(page)
    for claim in claims:
        assert stated[claim] == "unverified", stated
    assert "met" not in stated.values()


def test_the_fallback_is_a_missed_deadline_in_the_mapping(tmp_path: Path) -> None:
    """No one acted; at the deadline the harness's fallback stopped the service: the page says
    the fallback ran and both texts are stated as missed, never met by the fallback."""
    summary = operator_summary(verdict=DeadlineVerdict.MISSED, acted=False, fallback=True)
    page = render_report(write_human_run(tmp_path / "run", summary, fallback=True))
    section = _section(page)
    assert '<span class="pill missed">fallback used</span>' in section
    assert "admin_api → sigterm" in section
    assert re.search(r"<b>fallback started</b></td><td class=num>5.100</td>", section)
    stated = _claims(page)
    assert stated["EU AI Act Art. 14(4)(e)"] == "missed"
    assert stated["NIST AI RMF MANAGE 2.4"] == "missed"


def test_a_run_without_a_person_has_no_human_clock(tmp_path: Path) -> None:
    """A drill whose stop the harness pressed itself gets no Human clock section."""
    summary = operator_summary().with_changes(human_clock=None)
    page = render_report(write_human_run(tmp_path / "run", summary))
    assert "<h2>Human clock</h2>" not in page


def test_names_a_person_or_a_notifier_gives_are_text(tmp_path: Path) -> None:
    """An operator name <script> typed at the terminal (and logged as the control call's
    identity), a path name and a notifier answer with markup: the page has no element or
    attribute that the same run with plain names does not have, and the payloads are text."""
    benign = render_report(write_human_run(tmp_path / "benign", operator_summary()))
    hostile_summary = operator_summary(operator=SCRIPT, path=PAYLOAD, detail=f"HTTP 200 {IMG}")
    hostile = render_report(write_human_run(tmp_path / "hostile", hostile_summary, who=SCRIPT))
    shape, plain = PageShape(hostile), PageShape(benign)
    assert shape.live == []
    assert shape.tags <= plain.tags, shape.tags - plain.tags
    assert shape.attributes <= plain.attributes, shape.attributes - plain.attributes
    text = "".join(shape.text)
    assert f"Acted: {SCRIPT} through {PAYLOAD}" in text
    assert f"HTTP 200 {IMG}" in text
    assert f"{SCRIPT} stopped the service" in text  # in the mapping's sentence too


def test_the_cli_lines_name_the_human_clock(tmp_path: Path) -> None:
    """The result's human clock line: each instant from the incident, who acted and how,
    the effective bounds and the deadline's verdict; a complaint's line its reversal; and a
    name with terminal control codes printed inert."""
    (line,) = human_clock_lines(operator_summary(operator="alice\x1b[2J"))
    assert line == (
        "human clock (from the incident): notified +0.100s, acknowledged +1.050s, acted"
        " +1.100s by alice?[2J via admin_api, effective +2.200s [2.150, 2.250];"
        " stop deadline 5s: met"
    )
    (fallback,) = human_clock_lines(
        operator_summary(verdict=DeadlineVerdict.MISSED, acted=False, fallback=True)
    )
    assert "acted not seen" in fallback and fallback.endswith(
        "stop deadline 5s: missed; FALLBACK: the harness's own ladder stopped it"
    )
    (complaint,) = human_clock_lines(contest_summary())
    assert complaint == (
        "complaint (contest): acked; time to reversal 0.250s [0.200, 0.300];"
        " reversal deadline 3s: met"
    )
