"""``govdrill halt`` from another terminal stops a running drill the way Ctrl-C does."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import ROOT, govdrill, labelled_processes, only_run, summary_of

pytestmark = pytest.mark.slow

THEATER = ROOT / "drills" / "defects" / "stop-theater.yaml"


def test_halt_button(tmp_path: Path) -> None:
    """Halt tears the target down, keeps the evidence, records who halted it, exits 143."""
    env = {**os.environ, "GOVDRILL_RUNTIME_DIR": str(tmp_path / "runtime"), "CI": "1"}
    results = tmp_path / "results"
    # A ten-minute hold: the drill runs until the halt arrives, however slow the machine.
    proc = subprocess.Popen(
        [sys.executable, "-m", "harness", "run", str(THEATER), "--results", str(results),
         "--set", "hold=600s", "--set", "max_duration=600s"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    for line in proc.stdout:
        if "load ready" in line:
            break
    listed = govdrill("halt", "--list", env=env)
    assert listed.returncode == 0 and "defect-stop-theater" in listed.stdout, listed.stdout
    halted = govdrill("halt", "--reason", "drill overran its window", env=env)
    assert halted.returncode == 0, halted.stdout + halted.stderr
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 143, out
    deadline = time.monotonic() + 5
    while labelled_processes(owner=proc.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert labelled_processes(owner=proc.pid) == []
    run = only_run(results)
    summary = summary_of(run)
    assert summary["verdict"] == "interrupted"
    assert summary["halted_by"]["reason"] == "drill overran its window"
    events = [json.loads(line) for line in (run / "timeline.jsonl").read_text().splitlines()]
    assert any(e["event"] == "interrupted" and e.get("halted_by") for e in events)
    assert govdrill("halt", "--list", env=env).stdout.strip() == "no drills running"


def test_halt_with_nothing_running(tmp_path: Path) -> None:
    """Halting when nothing runs says so and exits 1."""
    env = {**os.environ, "GOVDRILL_RUNTIME_DIR": str(tmp_path / "runtime")}
    done = govdrill("halt", env=env)
    assert done.returncode == 1
    assert "no drills running" in done.stdout + done.stderr
