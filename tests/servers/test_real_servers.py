"""Real model servers nobody here wrote (KServe, LitServe from the package index) drilled
end to end: each passing drill passes inside its bounds, each defect drill fails exactly as it
declares, and where the server's ground truth covers a claim the observed bounds hold it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helpers import ROOT, govdrill, labelled_processes, only_run, summary_of
from tests.servers.conftest import require_server_venv

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("servers")]

DRILLS = ROOT / "drills"

# drill file -> what its ground truth can prove: "stop" / "rollback" claims the target logs.
CASES: dict[str, tuple[str, ...]] = {
    "kserve-unload-under-load.yaml": ("stop", "rollback"),
    "defects/kserve-unload-wrong-model.yaml": (),
    "litserve-rollback-bad-release.yaml": ("rollback",),
    # LitServe logs no stop of its own: its shutdown has no ground truth, only observations.
    "litserve-shutdown-under-load.yaml": (),
    "defects/litserve-rollback-to-latest.yaml": (),
}

# LitServe acknowledges /shutdown before it stops taking requests: a race, so the drill
# reports the answers after the ack rather than declaring them (0 in one run of 5).
ACK_RACES = {"litserve-shutdown-under-load.yaml"}


def _target_of(drill: Path) -> str:
    target = yaml.safe_load(drill.read_text())["target"]
    assert isinstance(target, str)
    return target


def _check_truth(summary: dict[str, Any], claims: tuple[str, ...]) -> None:
    truth = summary["ground_truth"]
    assert truth is not None and truth["log_trustworthy"], truth
    for claim in ("stop", "rollback"):
        if claim in claims:
            assert truth[f"{claim}_claimed_ns"] is not None, truth
            assert truth[f"{claim}_within_bounds"] is True, truth
    if "stop" not in claims:
        assert truth["stop_claimed_ns"] is None, truth


@pytest.mark.parametrize("name", sorted(CASES), ids=lambda n: Path(n).stem)
def test_real_server_drill(name: str, results: Path) -> None:
    """The drill ends as it declares (passed, or failed exactly as its expect: says), the
    start-up of the server is reported apart, and no process of the run outlives it."""
    drill = DRILLS / name
    require_server_venv(_target_of(drill))
    done = govdrill("run", str(drill), "--results", str(results), "-q", timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    summary = summary_of(only_run(results))
    assert labelled_processes(run_id=summary["run_id"]) == []
    expect = yaml.safe_load(drill.read_text()).get("expect")
    if expect is None:
        assert summary["verdict"] == "passed", summary["deadlines"]
        if name in ACK_RACES:
            # Flagged when it happens, and then backed by answers counted after the ack.
            if summary.get("stop_theater"):
                assert summary["metrics"]["harmful_after_ack"]["lower"] > 0, summary["metrics"]
        else:
            assert not summary.get("stop_theater"), "a passing drill must not hide stop theater"
    else:
        assert summary["verdict"] == expect["verdict"]
        assert summary["expectation"] == {"met": True, "mismatches": []}
    assert summary["target_startup_s"] > 0
    assert summary["drill_s"] > 0
    if expect is None:
        _check_truth(summary, CASES[name])


def test_every_real_server_drill_is_covered() -> None:
    """Every shipped drill on a target with a venv is one of the cases above (test_shipped_drills
    leaves them to this file)."""
    on_servers = {
        str(p.relative_to(DRILLS))
        for p in DRILLS.rglob("*.yaml")
        if isinstance(t := yaml.safe_load(p.read_text())["target"], str)
        and (ROOT / "targets" / t / "requirements.txt").is_file()
    }
    assert on_servers == set(CASES)
