"""Authority: who may stop the system is part of governability. Unauthorised kill-switch
calls are refused and change nothing; only the authorised one stops the target."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import ROOT, govdrill, only_run, summary_of

pytestmark = pytest.mark.slow


def test_unauthorised_stops_are_refused_and_change_nothing(tmp_path: Path) -> None:
    """Calls without or with a wrong token get 401; harm goes on through their grace; the
    target's own log records exactly one stop, after the authorised call."""
    results = tmp_path / "results"
    done = govdrill(
        "run", str(ROOT / "drills" / "unauthorized-stop.yaml"), "--results", str(results), "-q"
    )
    assert done.returncode == 0, done.stdout + done.stderr
    run = only_run(results)
    summary = summary_of(run)
    rungs = {r["name"]: r for r in summary["rungs"]}
    for refused in ("admin_api_no_token", "admin_api_wrong_token"):
        assert rungs[refused]["outcome"] == "failed"
        assert rungs[refused]["detail"].startswith("HTTP 401")
    assert rungs["admin_api"]["outcome"] == "acked"
    assert summary["rung_used"] == "admin_api"
    # The stop took effect only after the authorised call: serving went on until then.
    authorised_at = rungs["admin_api"]["issued_t_s"] - rungs["admin_api_no_token"]["issued_t_s"]
    assert summary["metrics"]["time_to_stop"]["lower"] >= authorised_at - 0.05
    events = [json.loads(line) for line in (run / "target.events.jsonl").read_text().splitlines()]
    stops = [e for e in events if e["event"] == "stop_effective"]
    assert len(stops) == 1
    zero = summary["zero_ns"]
    assert (stops[0]["t_ns"] - zero) / 1e9 >= rungs["admin_api"]["issued_t_s"]
