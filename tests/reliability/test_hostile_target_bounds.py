"""A hostile target cannot exhaust the harness: sprayed versions, gigabyte bodies and a flooded
event log all end in a normal run within bounded memory, and a fault in the harness's own load
reader is a harness error with its cause."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import ROOT, only_run, summary_of

pytestmark = pytest.mark.slow

HOSTILE = ROOT / "tests" / "reliability" / "hostile_load_target.py"


def hostile_drill(tmp_path: Path, mode: str) -> Path:
    """A short drill against the hostile target in ``mode``: load, then SIGTERM at 2 s."""
    text = textwrap.dedent(
        f"""\
        drill: hostile-{mode}
        target:
          target: hostile
          version_header: X-Model-Version
          sandboxes:
            process:
              command: ["{{python}}", "{HOSTILE}", "--mode", "{mode}",
                        "--port-file", "{{workdir}}/port", "--events", "{{workdir}}/events.jsonl"]
              port_file: "{{workdir}}/port"
              events: "{{workdir}}/events.jsonl"
          ready: {{path: /readyz, timeout: 30s, interval: 20ms}}
          control_paths:
            sigterm: {{signal: {{signal: SIGTERM}}}}
        load: {{users: 4, request: {{path: /v1/generate, json: {{prompt: x}}}}}}
        steps:
          - at: 2s
            stop: [sigterm]
        hold: 500ms
        deadlines: {{stop: 2s}}
        """
    )
    path = tmp_path / f"{mode}.yaml"
    path.write_text(text)
    return path


def run_probed(tmp_path: Path, drill: Path, *wrapper: str) -> tuple[int, str, Path]:
    """Run the drill through a wrapper module (``tests.reliability.<name>`` and its first
    argument); return the exit code, the output and the results folder."""
    results = tmp_path / "results"
    done = subprocess.run(
        [sys.executable, "-m", *wrapper, "run", str(drill), "--results", str(results), "-q"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    return done.returncode, done.stdout + done.stderr, results


def peaks(path: Path) -> dict[str, float]:
    """The peaks rss_probe recorded."""
    data: dict[str, float] = json.loads(path.read_text())
    return data


def test_version_spray_is_folded_not_a_load_failure(tmp_path: Path) -> None:
    """A new version in every answer (thousands) keeps the load healthy: the first 1024 are
    kept by name, the rest counted in one entry, and the run ends normally."""
    out_file = tmp_path / "rss.json"
    drill = hostile_drill(tmp_path, "versions")
    code, out, results = run_probed(tmp_path, drill, "tests.reliability.rss_probe", str(out_file))
    assert code == 0, out
    summary = summary_of(only_run(results))
    assert "load_failure" not in summary, summary.get("load_failure")
    versions: dict[str, Any] = summary["observed_versions"]
    assert versions["kept"] >= 300
    if versions["folded_answers"]:
        assert versions["kept"] == 1024 and versions["folded_distinct"] > 0
    assert peaks(out_file)["harness_mib"] < 300


def test_gigabyte_bodies_keep_the_load_child_small(tmp_path: Path) -> None:
    """Answers of 1 GiB are read to the 1 MiB cap and counted as truncated; no process of the
    run grows anywhere near the body's size."""
    out_file = tmp_path / "rss.json"
    drill = hostile_drill(tmp_path, "big-body")
    code, out, results = run_probed(tmp_path, drill, "tests.reliability.rss_probe", str(out_file))
    measured = peaks(out_file)
    assert measured["children_mib"] < 200, measured
    assert measured["harness_mib"] < 300, measured
    assert code == 0, out
    summary = summary_of(only_run(results))
    assert "load_failure" not in summary, summary.get("load_failure")
    assert summary["observations_truncated"] > 0


def test_event_log_flood_is_read_capped(tmp_path: Path) -> None:
    """A 209 MB event log is read to its cap: the harness stays small, the report embeds a
    bounded excerpt and says how much it left out, and the summary says the log was cut."""
    out_file = tmp_path / "rss.json"
    drill = hostile_drill(tmp_path, "flood-events")
    code, out, results = run_probed(tmp_path, drill, "tests.reliability.rss_probe", str(out_file))
    measured = peaks(out_file)
    assert measured["harness_mib"] < 300, measured
    assert code == 0, out
    run = only_run(results)
    events = summary_of(run)["target_events"]
    assert events["complete"] is False
    assert events["bytes_left_out"] > 190_000_000
    assert events["file_bytes"] > 200_000_000  # the real size, though the run keeps a cut copy
    assert (run / "target.events.jsonl").stat().st_size <= 9 << 20
    report = run / "report.html"
    assert report.stat().st_size < 2_000_000
    assert "bytes are not shown" in report.read_text()


def test_reader_failure_is_a_harness_error(tmp_path: Path) -> None:
    """An exception in the harness's load reader ends the run with exit 3, its cause in the
    summary and the timeline, and is not reported as a stalled or dead load."""
    drill = ROOT / "tests" / "engine" / "drills" / "truth.yaml"
    code, out, results = run_probed(tmp_path, drill, "tests.reliability.reader_fault", "50")
    assert code == 3, out
    run = only_run(results)
    summary = summary_of(run)
    assert summary["verdict"] == "error"
    assert "MemoryError: injected: the observation store is exhausted" in summary["error"]
    assert "load_failure" not in summary
    errors = [
        json.loads(line)
        for line in (run / "timeline.jsonl").read_text().splitlines()
        if '"harness_error"' in line
    ]
    assert errors and "the observation store is exhausted" in errors[0]["error"]


def test_reader_failure_while_the_load_drains_is_a_harness_error(tmp_path: Path) -> None:
    """A reader that fails on the child's final line, after the drill's loop has ended, still
    makes the run a harness error with its cause, not a pass on a partial stream."""
    drill = ROOT / "tests" / "engine" / "drills" / "truth.yaml"
    code, out, results = run_probed(tmp_path, drill, "tests.reliability.reader_fault", "final")
    assert code == 3, out
    summary = summary_of(only_run(results))
    assert summary["verdict"] == "error"
    assert "MemoryError: injected: the final count could not be kept" in summary["error"]
