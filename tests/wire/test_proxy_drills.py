"""Drills with incidents injected from outside run for real through the fault proxy, and their
evidence says so: proxy log in the run folder, rule on/off and counts in the timeline, the
summary's ``incidents``, and the proxy's stamp inside the detection bounds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import ROOT, events_of, govdrill, labelled_processes, only_run, summary_of

pytestmark = pytest.mark.slow

DRILLS = ROOT / "drills"


def _run(drill: Path, results: Path, *extra: str) -> Path:
    """Run one drill, which must end as declared (exit 0); its run folder."""
    done = govdrill("run", str(drill), "--results", str(results), "-q", *extra)
    assert done.returncode == 0, done.stdout + done.stderr
    run = only_run(results)
    assert labelled_processes(run_id=summary_of(run)["run_id"]) == []
    return run


def test_kill_switch_via_proxy_passes_with_proxy_log_inside_detection_bounds(
    results: Path,
) -> None:
    """The reference drill with bad_deploy replaced by a proxy rewrite passes; the proxy's
    rule_on lies between the inject step and the harm detected."""
    run = _run(DRILLS / "kill-switch-via-proxy.yaml", results)
    summary = summary_of(run)
    assert summary["verdict"] == "passed", summary["deadlines"]
    (incident,) = summary["incidents"]
    assert incident["outside"] is True and incident["via"] == "proxy"
    assert incident["where"] == "data" and incident["kind"] == "rewrite"
    assert incident["touched"] > 0 and incident["matched_nothing"] is False
    assert incident["injected_t_s"] <= incident["rule_on_t_s"] < incident["rule_off_t_s"]
    truth = summary["ground_truth"]
    assert truth["incident_within_bounds"] is True, truth
    log = [json.loads(line) for line in (run / "proxy.data.events.jsonl").read_text().splitlines()]
    assert [e["event"] for e in log][:2] == ["rule_on", "rule_off"]
    assert log[0]["t_ns"] == truth["incident_claimed_ns"]
    names = [e["event"] for e in events_of(run)]
    for name in ("proxy_started", "proxy_rule_on", "proxy_rule_off", "proxy_rule_counts"):
        assert name in names, name
    # The stop went to the real service: its own log says the kill switch was called.
    target_log = (run / "target.events.jsonl").read_text()
    assert '"stop_effective"' in target_log
    assert "proxy rule canary_leak on" in (run / "report.html").read_text()


def test_partition_escalates_to_sigterm(results: Path) -> None:
    """The admin API refused by the proxy: its rung fails at once, SIGTERM stops it in time,
    and the refusals are counted on the admin path's proxy."""
    run = _run(DRILLS / "control-plane-partition.yaml", results)
    summary = summary_of(run)
    assert summary["verdict"] == "passed" and summary["rung_used"] == "sigterm"
    rungs = {r["name"]: r["outcome"] for r in summary["rungs"]}
    assert rungs == {"admin_api": "failed", "sigterm": "acked"}
    partition = next(i for i in summary["incidents"] if i["name"] == "admin_partition")
    # The proxy refuses by closing its listener: the refused calls never reach it to be
    # counted, so the rule says nothing of matching (the admin rung's failure is the proof).
    assert partition["where"] == "admin_api" and partition["matched_nothing"] is None
    assert partition["rule_on_t_s"] is not None
    harmful = next(i for i in summary["incidents"] if i["name"] == "harmful_output")
    assert harmful["outside"] is False
    assert (run / "proxy.admin_api.events.jsonl").is_file()


def test_lying_control_plane_acknowledged_never_effective(results: Path) -> None:
    """The proxy answers the stop 200 and drops it: acked, never effective, as declared; the
    service's own log never saw a stop."""
    run = _run(DRILLS / "defects" / "lying-control-plane.yaml", results)
    summary = summary_of(run)
    assert summary["verdict"] == "failed"
    assert summary["expectation"] == {"met": True, "mismatches": []}
    lies = next(i for i in summary["incidents"] if i["name"] == "admin_lies")
    assert lies["touched"] >= 1
    assert '"stop_effective"' not in (run / "target.events.jsonl").read_text()


def test_rule_that_matches_nothing_is_reported(results: Path, tmp_path: Path) -> None:
    """A rewrite whose json_path selects nothing in the answers never crashes the run: the
    rule is counted unmatched and reported as matching nothing, and no harm is seen."""
    text = (DRILLS / "kill-switch-via-proxy.yaml").read_text()
    text = text.replace("json_path: $.output, append", "json_path: $.no_such_field, append")
    drill = tmp_path / "nothing.yaml"
    drill.write_text(text.replace("drill: kill-switch-via-proxy", "drill: matched-nothing"))
    done = govdrill(
        "run", str(drill), "--results", str(results), "-q", "--targets", str(ROOT / "targets")
    )
    assert done.returncode == 1, done.stdout + done.stderr  # nothing to detect: unverified
    run = only_run(results)
    summary = summary_of(run)
    (incident,) = summary["incidents"]
    assert incident["matched_nothing"] is True and incident["touched"] == 0
    assert incident["unmatched"] > 0
    names = [e["event"] for e in events_of(run)]
    assert "proxy_rule_matched_nothing" in names
    assert "MATCHED NOTHING" in (run / "report.html").read_text()


def test_the_first_incident_in_time_starts_the_detect_clock(results: Path, tmp_path: Path) -> None:
    """Steps listed out of time order: the partition (listed first, at 500 ms) is not what
    starts the incident's clock; the harmful output injected at 200 ms is. Detection was
    measured from the first-listed injection, which gave a negative detect."""
    text = (DRILLS / "control-plane-partition.yaml").read_text()
    harm = "  - at: 200ms\n    inject: harmful_output\n"
    partition = "  - id: partition\n    at: 500ms\n    inject: admin_partition\n"
    assert harm in text and partition in text
    text = text.replace(harm, "").replace(partition, partition + harm)
    drill = tmp_path / "control-plane-partition.yaml"
    drill.write_text(text)
    run = _run(drill, results)
    summary = summary_of(run)
    detect = summary["deadlines"]["detect"]
    assert detect["lower_s"] >= 0, detect
    harm_step = next(s for s in summary["steps"] if s["id"] == "inject")  # its action's name
    detected = next(e for e in events_of(run) if e["event"] == "harm_detected")
    assert detect["measured_s"] == pytest.approx(detected["t_s"] - harm_step["fired_t_s"], abs=0.01)
