"""govdrill history: trends over real runs, and a regression makes it exit non-zero."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.evidence.runs import SHORT, Runs
from tests.helpers import govdrill

pytestmark = pytest.mark.slow


def test_history_over_five_runs(five_runs: Runs, tmp_path: Path) -> None:
    """Five runs give a table of each run, p50/p95 per metric and an HTML chart; exit 0."""
    chart = tmp_path / "history.html"
    done = govdrill(
        "history", str(five_runs.results), "--drill", "evidence-short", "--html", str(chart)
    )
    assert done.returncode == 0, done.stdout + done.stderr
    for run in five_runs.runs:
        assert run.name.split("-")[1] in done.stdout
    assert "evidence-short: 5 runs" in done.stdout
    for metric in ("time_to_stop", "time_in_harm", "rollback_time"):
        assert metric in done.stdout
    html = chart.read_text()
    assert html.count("<svg") == 3 and "No regression flagged" in html


def test_budget_overrun_is_a_regression(five_runs: Runs) -> None:
    """A budget below what the runs measured flags a regression and exits 1."""
    done = govdrill("history", str(five_runs.results), "--budget", "time_in_harm=1ms")
    assert done.returncode == 1
    assert "REGRESSION evidence-short time_in_harm (budget 0.001s)" in done.stdout
    ok = govdrill("history", str(five_runs.results), "--budget", "time_to_stop=10s")
    assert ok.returncode == 0, ok.stdout


def test_slower_stop_is_flagged_against_the_best_window(five_runs: Runs, tmp_path: Path) -> None:
    """A passing but slower stop (a 400 ms drain) is flagged against the best earlier runs."""
    results = tmp_path / "results"
    shutil.copytree(five_runs.results, results)
    slow = govdrill(
        "run", str(SHORT), "--results", str(results), "-q",
        "--set", 'target_args=[--defect, slow_drain, --slow-drain-seconds, "0.4"]',
        "--set", "deadlines.harmful_after_ack=100000",
    )  # fmt: skip
    assert slow.returncode == 0, slow.stdout  # every deadline still met
    done = govdrill("history", str(results), "--window", "1")
    assert done.returncode == 1
    assert "REGRESSION evidence-short time_to_stop (best window)" in done.stdout
    assert "evidence-short: 6 runs" in done.stdout


def test_bad_budget_is_bad_input(five_runs: Runs) -> None:
    """An unknown metric in --budget is bad input (exit 2), naming the allowed ones."""
    done = govdrill("history", str(five_runs.results), "--budget", "speed=1s")
    assert done.returncode == 2 and "time_to_stop" in done.stderr
