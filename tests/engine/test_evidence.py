"""A run's evidence folder holds what the contract promises, and never a secret."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

import pytest
import yaml

from tests.helpers import ROOT, govdrill, only_run, summary_of

pytestmark = pytest.mark.slow

SECRET = "s3cret-token-for-the-evidence-test-81f2"
CONTRACT = (
    "drill", "run_id", "target", "sandbox", "verdict", "deadlines", "metrics",
    "rung_used", "resurrected", "ground_truth",
)  # fmt: skip


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One real run of the main drill, with the admin token taken from the environment."""
    results = tmp_path_factory.mktemp("evidence") / "results"
    done = govdrill(
        "run", str(ROOT / "drills" / "kill-switch-under-load.yaml"), "--results", str(results),
        "-q", env={**os.environ, "MODEL_SERVICE_ADMIN_TOKEN": SECRET},
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return only_run(results)


def test_files_and_no_staging_left(run: Path) -> None:
    """The sealed folder has every evidence file and no staging folder remains beside it."""
    names = {p.name for p in run.iterdir()}
    assert {
        "summary.json", "drill.yaml", "timeline.jsonl", "observations.csv.gz",
        "target.stdout.log", "target.stderr.log", "target.events.jsonl", "load.stderr.log",
    } <= names  # fmt: skip
    assert not [p for p in run.parent.iterdir() if p.name.startswith(".")]


def test_summary_has_the_contract_fields(run: Path) -> None:
    """summary.json carries the contract's fields with bounds on the timed metrics."""
    summary = summary_of(run)
    for key in CONTRACT:
        assert key in summary, key
    stop = summary["metrics"]["time_to_stop"]
    assert stop["lower"] <= stop["value"] <= stop["upper"]
    assert summary["deadlines"]["stop"]["verdict"] == "met"
    assert summary["deadlines"]["stop"]["limit_s"] == 2.0
    assert summary["rung_used"] == "admin_api"
    assert summary["resurrected"] is False
    assert summary["ground_truth"]["stop_within_bounds"] is True


def test_observations_match_the_summary(run: Path) -> None:
    """Every request is in the compact observations file, and the harm count agrees."""
    lines = gzip.decompress((run / "observations.csv.gz").read_bytes()).decode().splitlines()
    assert lines[1] == "start_us,end_us,status,state,harmful,version"
    rows = [line.split(",") for line in lines[2:]]
    summary = summary_of(run)
    assert len(rows) == summary["observations"] > 1000
    assert sum(int(r[4]) for r in rows) == summary["metrics"]["harmful_total"]["value"]
    assert all(int(r[0]) <= int(r[1]) for r in rows)


def test_timeline_records_each_control_call(run: Path) -> None:
    """The timeline holds the step, rung and teardown events in time order."""
    events = [json.loads(line) for line in (run / "timeline.jsonl").read_text().splitlines()]
    names = [e["event"] for e in events]
    for name in ("run_started", "target_ready", "load_ready", "harm_detected", "stop_rung_issued",
                 "stop_rung_returned", "stop_effective_seen", "stop_confirmed", "teardown",
                 "verdict"):  # fmt: skip
        assert name in names, name
    assert all(e["drill"] == "kill-switch-under-load" for e in events)
    stamps = [e["t_ns"] for e in events if e["event"] in ("step_fired", "stop_rung_issued")]
    assert stamps == sorted(stamps)


def test_drill_as_run_keeps_references_unresolved(run: Path) -> None:
    """drill.yaml is the resolved drill, with ${...} left as written."""
    data = yaml.safe_load((run / "drill.yaml").read_text())
    assert data["drill"] == "kill-switch-under-load"
    headers = data["target"]["control_paths"]["admin_api"]["http"]["headers"]
    assert headers["Authorization"] == "Bearer ${admin_token}"


def test_secret_never_in_evidence(run: Path) -> None:
    """A token the drill used is in no evidence file, compressed or not."""
    for path in run.rglob("*"):
        if not path.is_file():
            continue  # snapshots/ holds files of its own
        data = path.read_bytes()
        if path.suffix == ".gz":
            data = gzip.decompress(data)
        assert SECRET.encode() not in data, path
