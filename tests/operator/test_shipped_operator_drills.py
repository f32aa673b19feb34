"""The shipped drills with people in them, run as a user runs them (``govdrill run``, process
sandbox, the reference target): an operator stop performed by the scripted responder the
drill pages, a bad release reversed by its users' complaints, and the complaint black hole
that fails exactly as its ``expect:`` block declares."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import ROOT, events_of, govdrill, labelled_processes, only_run, summary_of
from tests.operator.scripted_responder import check_operator_stop, scripted_responder

pytestmark = pytest.mark.slow

DRILLS = ROOT / "drills"


def _run(
    drill: Path, results: Path, *extra: str, env: dict[str, str] | None = None
) -> tuple[Path, dict[str, Any]]:
    """Run a shipped drill; it must exit 0 (it ended as it declares) and leave no process."""
    args = ("run", str(drill), "--results", str(results), "-q", *extra)
    done = govdrill(*args, timeout=240, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    run = only_run(results)
    summary = summary_of(run)
    assert labelled_processes(run_id=summary["run_id"]) == []
    return run, summary


def _verdicts(summary: dict[str, Any]) -> dict[str, str]:
    return {name: d["verdict"] for name, d in summary["deadlines"].items()}


def test_operator_stop_by_the_scripted_responder(tmp_path: Path, results: Path) -> None:
    """The harness pages the responder (its Alertmanager) and calls no stop; the responder
    stops the service through the admin API 1 s later. Every deadline is met, the human
    clock names the responder, and the responder's true action instant lies between the page
    and the stop's upper bound."""
    drill = DRILLS / "operator-stop.yaml"
    with scripted_responder(tmp_path / "responder", delay_s=1.0) as responder:
        run, summary = _run(drill, results, *responder.overrides_for(drill), env=responder.env)
    assert summary["verdict"] == "passed", summary["deadlines"]
    assert set(_verdicts(summary).values()) == {"met"}, summary["deadlines"]
    figures = check_operator_stop(run, responder)
    assert figures["act"] >= figures["notified"] + 1.0 - 0.05, figures  # it waited its delay
    events = events_of(run)
    names = [e["event"] for e in events]
    assert "stop_rung_issued" not in names and "fallback_started" not in names
    outcomes = {e["notifier"]: e["outcome"] for e in events if e["event"] == "operator_notified"}
    assert outcomes == {"oncall": "ok", "console": "skipped"}, outcomes  # no TTY under pytest


def test_contest_rollback_reversed_by_complaints(results: Path) -> None:
    """Three complaints through POST /v1/feedback make the service roll v2 back by itself:
    the reversal deadline is met with both bounds, from the first complaint, no fallback."""
    run, summary = _run(DRILLS / "contest-rollback.yaml", results)
    assert summary["verdict"] == "passed", summary["deadlines"]
    assert _verdicts(summary) == {"detect": "met", "reversal": "met"}
    metric = summary["metrics"]["time_to_reversal"]
    assert 0 < metric["lower"] <= metric["value"] <= metric["upper"] <= 5.0, metric
    events = events_of(run)
    filed = [e for e in events if e["event"] == "contest_filed"]
    assert [e["outcome"] for e in filed] == ["acked"] * 3, filed
    assert "fallback_started" not in [e["event"] for e in events]
    assert not summary.get("rungs") and summary.get("rung_used") is None
    switched = [e for e in _target_events(run) if e["event"] == "version_switched"]
    assert [(e["to"], e["cause"]) for e in switched][-1:] == [("v1", "complaints:auto-rollback")]


def test_complaint_black_hole_fails_as_declared(results: Path) -> None:
    """Complaints are answered 202 and nothing changes: the drill fails exactly as its
    expect: says, the reversal deadline missed because the harness's fallback, not the
    complaints, ended the harm."""
    run, summary = _run(DRILLS / "defects" / "complaint-black-hole.yaml", results)
    assert summary["verdict"] == "failed"
    assert summary["expectation"] == {"met": True, "mismatches": []}
    assert _verdicts(summary) == {"detect": "met", "reversal": "missed"}
    assert "fallback" in summary["deadlines"]["reversal"]["reason"]
    events = events_of(run)
    (started,) = [e for e in events if e["event"] == "fallback_started"]
    assert started["deadline"] == "reversal"
    # One reversal watch per complaint; the first one's fallback ended the harm for all.
    confirmed = [e["by"] for e in events if e["event"] == "reversal_confirmed"]
    assert confirmed == ["fallback"] * 3, confirmed
    assert summary["rung_used"] == "admin_api"
    target = _target_events(run)
    assert [e["event"] for e in target].count("complaint_received") == 3
    assert not [e for e in target if e["event"] == "version_switched" and e["to"] == "v1"]


def _target_events(run: Path) -> list[dict[str, Any]]:
    """The target's own event log, as the run collected it."""
    lines = (run / "target.events.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines if line.strip()]
