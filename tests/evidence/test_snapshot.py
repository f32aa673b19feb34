"""Before a rollback the run keeps the target's status, the load's view and its logs."""

from __future__ import annotations

import json

import pytest

from tests.evidence.runs import Runs

pytestmark = pytest.mark.slow


def test_snapshot_is_taken_before_the_rollback(five_runs: Runs) -> None:
    """The snapshot shows the bad version still in place, and precedes the rollback call."""
    run = five_runs.runs[0]
    folder = run / "snapshots" / "before-rollback"
    status = json.loads((folder / "status.json").read_text())
    assert status["outcome"] == "acked"
    assert status["body"]["model_version"] == "v2" and status["body"]["state"] == "stopped"
    view = json.loads((folder / "load-view.json").read_text())
    assert view["last_version_served"] == "v2" and view["observations_so_far"] > 0
    log_then = (folder / "target.stderr.log").read_text()
    log_final = (run / "target.stderr.log").read_text()
    assert log_final.startswith(log_then)
    assert "rolled back" not in log_then and "rolled back" in log_final
    events = [json.loads(line) for line in (run / "timeline.jsonl").read_text().splitlines()]
    names = [e["event"] for e in events]
    assert names.index("snapshot_taken") < names.index("rollback_issued")
    taken = events[names.index("snapshot_taken")]
    assert taken["took_ms"] < 1000  # within the control path's own timeout
