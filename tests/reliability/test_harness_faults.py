"""Harness faults: no process outlives a run after a pass, a failure, Ctrl-C, SIGTERM or a
SIGKILLed harness, and an interrupted run keeps its evidence."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import (
    ROOT,
    govdrill,
    labelled_processes,
    only_run,
    summary_of,
)

pytestmark = pytest.mark.slow

TRUTH = ROOT / "tests" / "engine" / "drills" / "truth.yaml"
THEATER = ROOT / "drills" / "defects" / "stop-theater.yaml"


def wait_gone(
    *, run_id: str | None = None, owner: int | None = None, deadline_s: float = 5.0
) -> list[tuple[int, str]]:
    """Labelled processes of one run or harness still alive after up to ``deadline_s``."""
    end = time.monotonic() + deadline_s
    left = labelled_processes(run_id=run_id, owner=owner)
    while left and time.monotonic() < end:
        time.sleep(0.05)
        left = labelled_processes(run_id=run_id, owner=owner)
    return left


def start_harness(drill: Path, results: Path) -> subprocess.Popen[str]:
    """Start ``govdrill run`` in the background and wait until its load is ready."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "harness", "run", str(drill), "--results", str(results)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "CI": "1"},
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        if "load ready" in line:
            return proc
    raise AssertionError(f"harness never got its load ready (exit {proc.wait()})")


def test_nothing_left_after_pass_and_failure(results: Path) -> None:
    """A passing run and a failing run both leave no target and no load child."""
    assert govdrill("run", str(TRUTH), "--results", str(results / "pass"), "-q").returncode == 0
    assert wait_gone(run_id=summary_of(only_run(results / "pass"))["run_id"]) == []
    failing = govdrill(
        "run", str(THEATER), "--results", str(results / "fail"), "-q", "--set", "expect=null"
    )  # fmt: skip
    assert failing.returncode == 1, failing.stdout + failing.stderr
    assert wait_gone(run_id=summary_of(only_run(results / "fail"))["run_id"]) == []


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_interrupt_tears_down_and_keeps_evidence(results: Path, signum: int) -> None:
    """Ctrl-C (or SIGTERM) mid-drill: exit 128+n, target gone, run kept and marked interrupted."""
    proc = start_harness(THEATER, results)
    time.sleep(1.0)  # the incident is on and the stop issued: the drill is mid-step
    proc.send_signal(signum)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 128 + signum, out
    assert wait_gone(owner=proc.pid) == []
    run = only_run(results)
    summary = summary_of(run)
    assert summary["verdict"] == "interrupted"
    assert summary["observations"] > 0
    events = [
        json.loads(line)["event"] for line in (run / "timeline.jsonl").read_text().splitlines()
    ]
    assert "interrupted" in events and "teardown" in events
    # Stop injecting before leaving: the incident it switched on is switched off again.
    assert "incident_undone" in events
    assert events.index("interrupted") < events.index("incident_undone") < events.index("teardown")


def test_sigkilled_harness_leaves_no_orphan(results: Path) -> None:
    """SIGKILL of the harness: its target and load die with it; nothing is presented as done."""
    proc = start_harness(THEATER, results)
    before = labelled_processes(owner=proc.pid)
    assert len(before) >= 2, f"target and load child should run during the drill: {before}"
    proc.kill()
    proc.wait(timeout=10)
    assert wait_gone(owner=proc.pid) == []
    drill_dir = results / "defect-stop-theater"
    assert [p.name for p in drill_dir.iterdir() if not p.name.startswith(".")] == []
    assert any(p.name.endswith(".partial") for p in drill_dir.iterdir())


def test_harness_process_never_imports_locust(tmp_path: Path) -> None:
    """A whole drill run in one Python process leaves locust and gevent out of it."""
    code = f"""
import sys
from pathlib import Path
from harness.engine import run_drill
from harness.spec import load_drill
result = run_drill(load_drill({str(TRUTH)!r}), results=Path({str(tmp_path)!r}))
assert result.summary.observations > 0, result.summary
# greenlet alone is fine (structlog probes for it); gevent would mean monkey-patching.
bad = sorted(m for m in sys.modules if m.split(".")[0] in ("locust", "gevent"))
print("IMPORTED", bad)
"""
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "IMPORTED []" in done.stdout
