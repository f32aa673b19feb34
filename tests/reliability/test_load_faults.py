"""When the load dies or stalls mid-drill, nothing that depended on it is reported as met."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import ROOT, labelled_processes, only_run, summary_of

pytestmark = pytest.mark.slow

TRUTH = ROOT / "tests" / "engine" / "drills" / "truth.yaml"


def wait_for_event(results: Path, event: str, timeout_s: float = 30.0) -> None:
    """Wait until the running drill's staged timeline records ``event``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for timeline in results.glob("*/.*.partial/timeline.jsonl"):
            with contextlib.suppress(OSError):
                # Only whole lines: the last one may still be being written.
                if any(f'"event": "{event}"' in line and line.endswith("}")
                       for line in timeline.read_text().splitlines()):  # fmt: skip
                    return
        time.sleep(0.02)
    raise AssertionError(f"the timeline never recorded {event!r}")


def load_child_of(harness_pid: int, timeout_s: float = 20.0) -> int:
    """The pid of the harness's Locust child, once it runs."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for pid, cmd in labelled_processes(owner=harness_pid):
            if "harness.load.child" in cmd:
                return pid
        time.sleep(0.02)
    raise AssertionError("no load child appeared")


@pytest.mark.parametrize("fault", ["kill", "stall"])
def test_load_fault_makes_verdicts_unverified(fault: str, tmp_path: Path) -> None:
    """A killed or SIGSTOPped load child is noticed within a second and nothing after it is met."""
    results = tmp_path / "results"
    proc = subprocess.Popen(
        [sys.executable, "-m", "harness", "run", str(TRUTH), "--results", str(results),
         "--set", "steps[1].delay=30s", "-q"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    child = load_child_of(proc.pid)
    # The load is up and the incident's harm was seen; the stop waits 30 s, far beyond this.
    wait_for_event(results, "harm_detected")
    faulted_at = time.monotonic()
    os.kill(child, signal.SIGKILL if fault == "kill" else signal.SIGSTOP)
    try:
        out, _ = proc.communicate(timeout=60)
    finally:
        with contextlib.suppress(ProcessLookupError):  # the harness's own stop may have won
            os.kill(child, signal.SIGKILL)
    ended_after = time.monotonic() - faulted_at
    assert proc.returncode == 1, out
    summary = summary_of(only_run(results))
    assert summary["load_failure"].startswith("dead" if fault == "kill" else "stalled")
    assert summary["deadlines"]["stop"]["verdict"] != "met"
    assert all(d["verdict"] != "met" for d in summary["deadlines"].values())
    assert ended_after < 10, "the harness should end soon after its load failed"
