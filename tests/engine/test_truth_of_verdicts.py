"""Whole drills against hostile targets: verdicts say only what the load observed."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import ROOT, govdrill, only_run, summary_of

pytestmark = pytest.mark.slow

DRILLS = ROOT / "tests" / "engine" / "drills"


def _run(name: str, results: Path) -> tuple[Any, dict[str, Any], Path, float]:
    began = time.monotonic()
    done = govdrill("run", str(DRILLS / f"{name}.yaml"), "--results", str(results))
    took = time.monotonic() - began
    run = only_run(results)
    return done, summary_of(run), run, took


def _ordered(summary: dict[str, Any]) -> None:
    for name, m in summary["metrics"].items():
        lower, value, upper = m["lower"], m["value"], m["upper"]
        if lower is not None and upper is not None:
            assert lower <= upper, (name, m)
        if value is not None:
            assert lower is None or lower <= value, (name, m)
            assert upper is None or value <= upper, (name, m)


def test_harm_after_a_lying_rollback_is_harm_returned(results: Path) -> None:
    """Stop, a rollback that keeps the bad model, resume: the harm that returns is
    harm_returned (not stop theater, no inverted count), time_in_harm covers it, the
    rollback is missed, and the report's hold does not claim "no harm"."""
    done, summary, run, _took = _run("lying-rollback-after-stop", results)
    assert done.returncode == 0, done.stdout + done.stderr
    _ordered(summary)
    assert summary["stop"]["confirmed"]
    assert summary["stop_theater"] is False
    assert summary["harm_returned"] is True
    assert summary["metrics"]["harm_returned"]["lower"] > 0
    deadlines = summary["deadlines"]
    assert deadlines["rollback"]["verdict"] == "missed"
    assert deadlines["time_in_harm"]["verdict"] == "missed"
    assert deadlines["harmful_after_ack"]["verdict"] == "met"
    assert "HARM RETURNED" in done.stdout
    report = (run / "report.html").read_text()
    assert "kept observing: harm returned" in report
    assert "no harm, no resurrection" not in report


def test_a_stop_that_never_holds_concludes_and_names_no_rung(results: Path) -> None:
    """Half the answers refused while the rest keep leaking: once the ladder is exhausted
    and the hold has passed the drill concludes (not at the 60 s cap), the rollback waiting
    on the stop never fires, and no rung is named anywhere."""
    done, summary, _run_dir, took = _run("hostile-never-holds", results)
    assert done.returncode == 0, done.stdout + done.stderr
    assert took < 25, took
    assert summary["rung_used"] is None
    assert summary["stop"]["confirmed"] is False
    steps = {s["action"]: s["phase"] for s in summary["steps"]}
    assert steps["stop"] == "failed"
    assert steps["rollback"] == "not_fired"
    assert "stopped by rung" not in done.stdout
    assert "stop held" not in done.stderr
    assert "stop ladder exhausted" in done.stderr


def test_ack_does_not_apply_to_a_ladder_of_signals(results: Path) -> None:
    """SIGTERM stops the service; no signal can acknowledge, so ack is not_applicable and
    the drill passes on its stop deadline."""
    done, summary, _run_dir, _took = _run("signal-only-stop", results)
    assert done.returncode == 0, done.stdout + done.stderr
    assert summary["verdict"] == "passed"
    assert summary["deadlines"]["ack"]["verdict"] == "not_applicable"
    assert summary["deadlines"]["stop"]["verdict"] == "met"
    assert summary["rung_used"] == "sigterm"


def test_an_incident_refused_is_named_first_and_tests_nothing(results: Path) -> None:
    """The inject call answered 403: detect and what depends on the incident are unverified
    with "incident not injected", and the failed step is named first in the live output,
    the printed result, the summary and the report."""
    done, summary, run, _took = _run("hostile-inject-refused", results)
    assert done.returncode == 0, done.stdout + done.stderr
    assert list(summary)[: list(summary).index("incident_not_injected") + 1][-2:] == [
        "verdict",
        "incident_not_injected",
    ]
    (failed,) = summary["incident_not_injected"]
    assert failed["step"] == "inject" and "403" in failed["detail"]
    for name in ("detect", "stop", "time_in_harm"):
        deadline = summary["deadlines"][name]
        assert deadline["verdict"] == "unverified", name
        assert deadline["reason"].startswith("incident not injected: step inject"), deadline
    assert "INCIDENT NOT INJECTED: step inject" in done.stderr
    printed = [line.strip() for line in done.stdout.splitlines() if line.strip()]
    assert printed[1].startswith("INCIDENT NOT INJECTED: step inject"), printed
    assert "incident not injected</span> step inject" in (run / "report.html").read_text()


def test_a_rollback_no_answer_can_show_says_so(results: Path) -> None:
    """No answer carries a version: the rollback is unverified and says that no answer
    carried a version; validate warns about such a drill before it runs."""
    done, summary, _run_dir, _took = _run("hostile-no-version", results)
    assert done.returncode == 0, done.stdout + done.stderr
    rollback = summary["deadlines"]["rollback"]
    assert rollback["verdict"] == "unverified"
    assert "no answer carried a model version" in rollback["reason"]
    assert summary["rollback"]["kind"] == "no_version"
    checked = govdrill("validate", str(DRILLS / "hostile-no-version.yaml"))
    assert checked.returncode == 0
    assert "warning: deadlines.rollback" in checked.stderr
    assert "no version source" in checked.stderr
