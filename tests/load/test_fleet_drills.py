"""Whole drills on Locust's master/worker mode through the CLI: the shipped distributed drill
passes on both workers, skewed worker clocks keep the target's own stop instant inside the
bounds, and a worker killed mid-drill makes the verdicts unverified within a second."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.load.factory import SKEWS_ENV
from tests.helpers import ROOT, events_of, govdrill, labelled_processes, only_run, summary_of

pytestmark = pytest.mark.slow

DISTRIBUTED = ROOT / "drills" / "distributed-load.yaml"
TRUTH = ROOT / "tests" / "engine" / "drills" / "truth.yaml"
MS = 1_000_000
SKEWS = (250 * MS, -400 * MS)


def test_distributed_drill_passes_on_both_workers(tmp_path: Path) -> None:
    """drills/distributed-load.yaml passes; both workers streamed observations, which add up
    to the run's; each worker's clock and the widening are in summary.json and the timeline."""
    results = tmp_path / "results"
    done = govdrill("run", str(DISTRIBUTED), "--results", str(results), "-q")
    assert done.returncode == 0, done.stdout + done.stderr
    run = only_run(results)
    summary = summary_of(run)
    assert summary["verdict"] == "passed", summary["deadlines"]
    workers = summary["load_workers"]["workers"]
    assert [w["index"] for w in workers] == [0, 1]
    assert all(w["observations"] > 0 for w in workers), workers
    assert sum(w["observations"] for w in workers) == summary["observations"]
    u = max(w["uncertainty_ns"] for w in workers)
    assert summary["load_workers"]["clock_uncertainty_s"] == u / 1e9
    assert any(e["event"] == "load_workers" for e in events_of(run))
    assert "load on 2 workers (clocks read to" in (run / "report.html").read_text()
    assert {p.name for p in run.glob("load-*.stderr.log")} == {
        "load-master.stderr.log", "load-worker-0.stderr.log", "load-worker-1.stderr.log",
    }  # fmt: skip
    assert summary["ground_truth"]["stop_within_bounds"] is True
    assert labelled_processes(run_id=summary["run_id"]) == []


def test_skewed_worker_clocks_keep_the_truth_inside_the_bounds(tmp_path: Path) -> None:
    """Workers whose clocks run +250 ms and -400 ms off, over three runs: every run's stop
    bounds contain the instant the target's own log says its gate closed (coverage 100 %),
    and each offset is estimated within its uncertainty."""
    results = tmp_path / "results"
    env = {**os.environ, SKEWS_ENV: ",".join(str(s) for s in SKEWS)}
    for _ in range(3):
        done = govdrill(
            "run", str(TRUTH), "--results", str(results), "-q", "--load-workers", "2",
            "--set", "load.users=6", "--set", "load.per_user_rate=50", env=env,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
    runs = sorted(p for p in (results / "truth-check").iterdir() if not p.name.startswith("."))
    assert len(runs) == 3
    for run in runs:
        summary = summary_of(run)
        for worker, skew in zip(summary["load_workers"]["workers"], SKEWS, strict=True):
            assert worker["skew_ns"] == skew
            assert abs(worker["offset_ns"] - skew) <= worker["uncertainty_ns"], worker
            assert worker["observations"] > 0
        truth = summary["ground_truth"]
        assert truth["stop_claimed_ns"] is not None, run
        assert truth["stop_within_bounds"] is True, (run, truth, summary["stop"])
        stop = summary["metrics"]["time_to_stop"]
        assert stop["lower"] <= stop["value"] <= stop["upper"]


def _worker_of(harness_pid: int, index: int, timeout_s: float = 60.0) -> int:
    """The pid of worker ``index`` of the harness's load fleet, once it runs."""
    deadline = time.monotonic() + timeout_s
    want = f"GOVDRILL_LOAD_ROLE=worker-{index}\0".encode()
    while time.monotonic() < deadline:
        for pid, _cmd in labelled_processes(owner=harness_pid):
            with contextlib.suppress(OSError):
                if want in Path(f"/proc/{pid}/environ").read_bytes() + b"\0":
                    return pid
        time.sleep(0.02)
    raise AssertionError(f"no worker {index} appeared")


def _wait_for_event(results: Path, event: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for timeline in results.glob("*/.*.partial/timeline.jsonl"):
            with contextlib.suppress(OSError):
                if any(f'"event": "{event}"' in line and line.endswith("}")
                       for line in timeline.read_text().splitlines()):  # fmt: skip
                    return
        time.sleep(0.02)
    raise AssertionError(f"the timeline never recorded {event!r}")


def test_a_killed_worker_makes_the_verdicts_unverified_within_a_second(tmp_path: Path) -> None:
    """SIGKILL one worker mid-drill: the timeline's load_failed comes within 1 s of the kill,
    names the worker, and no deadline that needed the load after it is met."""
    results = tmp_path / "results"
    proc = subprocess.Popen(
        [sys.executable, "-m", "harness", "run", str(TRUTH), "--results", str(results),
         "--load-workers", "2", "--set", "steps[1].delay=30s", "-q"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    victim = _worker_of(proc.pid, 1)
    _wait_for_event(results, "harm_detected")  # the stop waits 30 s, far beyond this
    killed_ns = time.monotonic_ns()
    os.kill(victim, signal.SIGKILL)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 1, out
    run = only_run(results)
    failed = [e for e in events_of(run) if e["event"] == "load_failed"]
    assert len(failed) == 1
    assert failed[0]["state"] == "dead" and failed[0]["detail"].startswith("worker 1"), failed
    assert 0 <= failed[0]["t_ns"] - killed_ns < 1_000_000_000, failed[0]["t_ns"] - killed_ns
    summary = summary_of(run)
    assert summary["load_failure"].startswith("dead: worker 1")
    assert summary["deadlines"]["stop"]["verdict"] == "unverified"
    assert all(d["verdict"] != "met" for d in summary["deadlines"].values())
    assert labelled_processes(run_id=summary["run_id"]) == []
