"""Whole drills with a person in the clock, run as a user runs them (``govdrill run`` on the
complaint service): the result's human clock line, report.html's Human clock with an
operator who calls itself <script> and a notifier answering markup shown as text, and the
JUnit and Prometheus exports carrying the human clock and time_to_reversal."""

from __future__ import annotations

import html
from pathlib import Path

from tests.helpers import ROOT, govdrill, only_run
from tests.operator.drills import CONTEST, OPERATOR, write
from tests.report.hostile_responder import HostileResponder
from tests.report.run_folder import IMG, SCRIPT, PageShape

TARGETS = ROOT / "tests" / "operator"


def _operator_drill(url: str) -> str:
    return OPERATOR.replace(
        """  oncall:
    alertmanager: {url: "http://127.0.0.1:9093/api/v2/alerts"}""",
        f"""  oncall:
    webhook: {{url: "{url}", json: {{base: "{{base_url}}"}}}}""",
    ).replace("notify: [oncall, console]", "notify: [oncall]")


def test_an_operator_stop_by_a_hostile_operator_in_the_cli_report_and_exports(
    tmp_path: Path,
) -> None:
    """The responder stops the service as '<script>': the CLI prints the human clock line
    naming it, the report shows it and the notifier's markup answer as text and nothing that
    runs, and the JUnit and Prometheus files carry the human clock."""
    results, junit, prom = tmp_path / "results", tmp_path / "junit.xml", tmp_path / "run.prom"
    with HostileResponder() as responder:
        drill = write(tmp_path, _operator_drill(responder.url))
        done = govdrill(
            "run", str(drill), "--targets", str(TARGETS), "--results", str(results), "-q",
            "--junit", str(junit), "--prometheus-textfile", str(prom),
        )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert responder.stopped.is_set()
    line = next(x for x in done.stdout.splitlines() if "human clock" in x)
    assert line.startswith("  human clock (from the incident): notified +"), line
    assert f"by {SCRIPT} via admin_api, effective +" in line
    assert line.endswith("stop deadline 5s: met"), line
    page = (only_run(results) / "report.html").read_text(encoding="utf-8")
    shape = PageShape(page)
    assert shape.live == [] and "script" not in shape.tags
    text = "".join(shape.text)
    assert f"Acted: {SCRIPT} through admin_api" in text
    assert IMG in text  # the webhook's answer, as the notification's detail
    assert "EU AI Act Art. 14(4)(e)" in text
    assert html.escape(SCRIPT, quote=False) in junit.read_text(encoding="utf-8")
    metrics = prom.read_text(encoding="utf-8")
    for instant in ("notified", "acknowledged", "acted", "effective"):
        assert f'instant="{instant}"' in metrics, instant
    assert 'govdrill_human_clock_fallback_used{drill="operator-stop-test"} 0.0' in metrics


def test_a_complaint_in_the_cli_line_and_the_prometheus_metrics(tmp_path: Path) -> None:
    """A complaint the service reverses: the CLI prints its reversal against the deadline and
    the textfile carries time_to_reversal with its bounds."""
    results, prom = tmp_path / "results", tmp_path / "run.prom"
    drill = write(tmp_path, CONTEST)
    done = govdrill("run", str(drill), "--targets", str(TARGETS), "--results", str(results),
                    "-q", "--prometheus-textfile", str(prom))  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    line = next(x for x in done.stdout.splitlines() if "complaint (contest)" in x)
    assert "acked; time to reversal " in line and line.endswith("reversal deadline 3s: met")
    metrics = prom.read_text(encoding="utf-8")
    for bound in ("value", "lower", "upper"):
        assert (
            f'govdrill_metric_seconds{{bound="{bound}",drill="contest-test",'
            'metric="time_to_reversal"}' in metrics
        )
    page = (only_run(results) / "report.html").read_text(encoding="utf-8")
    assert "<h2>Human clock</h2>" in page
    assert "Reversed by <b>the service, on the complaint</b>" in page
