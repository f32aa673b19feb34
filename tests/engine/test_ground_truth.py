"""The target's own log of when its gate flipped lies inside the bounds the harness reports."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import ROOT, govdrill, summary_of

pytestmark = pytest.mark.slow

TRUTH = ROOT / "tests" / "engine" / "drills" / "truth.yaml"

# (users, per-user rate): about 50 req/s, about 500 req/s, and as fast as it answers.
LEVELS = {"50rps": ("5", "10"), "500rps": ("10", "50"), "max": ("20", "null")}


@pytest.mark.parametrize("level", LEVELS)
def test_truth_inside_bounds_across_runs(level: str, tmp_path: Path) -> None:
    """Over several runs per load level the claimed stop instant is within [lower, upper]."""
    users, rate = LEVELS[level]
    results = tmp_path / "results"
    for _ in range(3):
        done = govdrill(
            "run", str(TRUTH), "--results", str(results), "-q",
            "--set", f"load.users={users}", "--set", f"load.per_user_rate={rate}",
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
    runs = sorted(p for p in (results / "truth-check").iterdir() if not p.name.startswith("."))
    assert len(runs) == 3
    for run in runs:
        summary = summary_of(run)
        truth = summary["ground_truth"]
        assert truth["stop_claimed_ns"] is not None, run
        assert truth["stop_within_bounds"] is True, (run, truth, summary["metrics"]["time_to_stop"])
        assert truth["log_trustworthy"] is True
        # Resolution follows the load: sparse load gives wide but honest bounds.
        stop = summary["metrics"]["time_to_stop"]
        assert stop["lower"] <= stop["value"] <= stop["upper"]
