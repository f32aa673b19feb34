"""Every shipped drill, and each control-path drill here, gives its expected outcome for real."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.helpers import ROOT, govdrill, labelled_processes, only_run, summary_of
from tests.operator.scripted_responder import check_operator_stop, responder_if_needed

HERE = ROOT / "tests" / "engine" / "drills"


def _on_reference_targets(drill: Path) -> bool:
    """Drills of a real server (a target with requirements.txt) run in tests/servers."""
    target = yaml.safe_load(drill.read_text())["target"]
    if not isinstance(target, str):
        return True
    return not (ROOT / "targets" / target / "requirements.txt").is_file()


DRILLS = [
    *sorted(p for p in (ROOT / "drills").rglob("*.yaml") if _on_reference_targets(p)),
    HERE / "hung-admin.yaml",
    HERE / "command-stop.yaml",
]

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("drill", DRILLS, ids=[p.stem for p in DRILLS])
def test_drill_outcome(drill: Path, results: Path, tmp_path: Path) -> None:
    """Healthy drills pass; a drill with ``expect`` ends exactly as declared (exit 0 either way).
    A drill that pages an operator gets the scripted responder as its on-call."""
    with responder_if_needed(drill, tmp_path / "responder") as responder:
        extra = () if responder is None else responder.overrides_for(drill)
        env = None if responder is None else responder.env
        done = govdrill("run", str(drill), "--results", str(results), "-q", *extra, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    if responder is not None:
        check_operator_stop(only_run(results), responder)
    summary = summary_of(only_run(results))
    assert labelled_processes(run_id=summary["run_id"]) == []
    expect = yaml.safe_load(drill.read_text()).get("expect")
    if expect is not None:
        assert summary["verdict"] == expect["verdict"]
        assert summary["expectation"] == {"met": True, "mismatches": []}
    else:
        assert summary["verdict"] == "passed", summary["deadlines"]
    truth = summary["ground_truth"]
    if truth and truth["stop_claimed_ns"] is not None and summary["stop"]["kind"] == "clean":
        assert truth["stop_within_bounds"], truth
