"""Every shipped drill gives its expected outcome against the real reference target."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.engine.conftest import ROOT, govdrill, labelled_processes, only_run, summary_of

DRILLS = sorted((ROOT / "drills").rglob("*.yaml"))

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("drill", DRILLS, ids=[p.stem for p in DRILLS])
def test_drill_outcome(drill: Path, results: Path) -> None:
    """Healthy drills pass; each defect drill fails exactly as it declares (exit 0 either way)."""
    done = govdrill("run", str(drill), "--results", str(results), "-q")
    assert done.returncode == 0, done.stdout + done.stderr
    summary = summary_of(only_run(results))
    if "defects" in drill.parts:
        assert summary["verdict"] == "failed"
        assert summary["expectation"]["met"], summary["expectation"]
    else:
        assert summary["verdict"] == "passed", summary["deadlines"]
    truth = summary["ground_truth"]
    if truth and truth["stop_claimed_ns"] is not None and summary["stop"]["kind"] == "clean":
        assert truth["stop_within_bounds"], truth
    assert labelled_processes() == []
