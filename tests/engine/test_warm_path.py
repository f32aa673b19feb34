"""The warm load path through whole drills: the load child is spawned before the target is
ready, the second drill of one ``govdrill run`` takes a spare spawned during the first (a
killed spare is replaced), and no load child outlives the invocation or a SIGKILLed harness."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import (
    ROOT,
    TARGETS,
    events_of,
    govdrill,
    govdrill_in_process,
    labelled_processes,
    small_drill,
    summary_of,
    wait_for,
)

pytestmark = pytest.mark.slow


def runs_under(results: Path) -> list[Path]:
    """The sealed run folders under ``results``, in the order they ran."""
    runs = [p for p in results.glob("*/*") if p.is_dir() and not p.name.startswith(".")]
    return sorted(runs, key=lambda run: events_of(run)[0]["t_ns"])


def first(events: list[dict[str, Any]], name: str) -> dict[str, Any]:
    """The first timeline entry called ``name``."""
    return next(e for e in events if e["event"] == name)


def drill_files(tmp_path: Path, *names: str) -> list[str]:
    """Small real drills (a few seconds each) written to ``tmp_path``."""
    paths = []
    for name in names:
        path = tmp_path / f"{name}.yaml"
        path.write_text(small_drill(name))
        paths.append(str(path))
    return paths


def load_children(owner: int) -> list[int]:
    """Load children labelled with harness pid ``owner`` that still run."""
    return [pid for pid, cmd in labelled_processes(owner=owner) if "harness.load.child" in cmd]


def test_a_drill_spawns_its_load_child_before_the_target_is_ready(tmp_path: Path) -> None:
    """The timeline shows the load child spawned before ``target_ready`` (by the command,
    before the run began) and warm (Locust imported) by the time its config was handed over
    after it; the drill passes."""
    (drill,) = drill_files(tmp_path, "one")
    done = govdrill("run", drill, "--targets", str(TARGETS), "--results", str(tmp_path / "r"), "-q")
    assert done.returncode == 0, done.stdout + done.stderr
    (run,) = runs_under(tmp_path / "r")
    events = events_of(run)
    names = [e["event"] for e in events]
    spawned, ready = first(events, "load_spawned"), first(events, "target_ready")
    assert names.index("load_spawned") < names.index("target_ready") < names.index("load_starting")
    assert spawned["source"] == "spare"
    assert spawned["spawned_ns"] < first(events, "run_started")["t_ns"] < ready["t_ns"]
    warm_ns = first(events, "load_ready")["warm_ns"]
    assert spawned["spawned_ns"] < warm_ns <= first(events, "load_ready")["t_ns"]


def test_the_second_drill_takes_a_spare_spawned_during_the_first_and_nothing_survives(
    tmp_path: Path,
) -> None:
    """``govdrill run a b`` in this process: b's load child was spawned while a ran (after a's
    load was ready, before a's verdict), is a process of its own, and once the command
    returns no load child labelled with this process is left."""
    a, b = drill_files(tmp_path, "a", "b")
    done = govdrill_in_process(
        "run", a, b, "--targets", str(TARGETS), "--results", str(tmp_path / "r"), "-q"
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert load_children(os.getpid()) == []  # checked before this process could exit
    first_run, second_run = runs_under(tmp_path / "r")
    one, two = events_of(first_run), events_of(second_run)
    assert first(one, "load_spawned")["source"] == "spare"  # spawned while loading the drills
    spare = first(two, "load_spawned")
    assert spare["source"] == "spare"
    assert first(one, "load_ready")["t_ns"] <= spare["spawned_ns"] < first(one, "verdict")["t_ns"]
    assert spare["spawned_ns"] < first(two, "run_started")["t_ns"]
    assert spare["pid"] != first(one, "load_spawned")["pid"]
    assert summary_of(second_run)["verdict"] == "passed"


def test_a_killed_spare_is_replaced_and_the_next_drill_still_runs(tmp_path: Path) -> None:
    """SIGKILL the spare while the first drill runs: the second drill gets a fresh child
    (``respawned``), passes, and nothing is left behind."""
    a, b = drill_files(tmp_path, "a", "b")
    results = tmp_path / "r"
    proc = subprocess.Popen(
        [sys.executable, "-m", "harness", "run", a, b, "--targets", str(TARGETS),
         "--results", str(results), "-q"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        # Two load children of this harness: the first drill's and the spare.
        assert wait_for(lambda: len(load_children(proc.pid)) == 2, 60.0)
        staged = next(results.glob("*/.*.partial/timeline.jsonl"))
        current = json.loads(staged.read_text().splitlines()[1])  # load_spawned
        assert current["event"] == "load_spawned"
        (spare,) = [pid for pid in load_children(proc.pid) if pid != current["pid"]]
        os.kill(spare, signal.SIGKILL)
        out, _ = proc.communicate(timeout=120)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == 0, out
    _, second_run = runs_under(results)
    replaced = first(events_of(second_run), "load_spawned")
    assert replaced["source"] == "respawned" and replaced["pid"] != spare
    assert summary_of(second_run)["verdict"] == "passed"
    assert wait_for(lambda: labelled_processes(owner=proc.pid) == [], 5.0)


def test_a_sigkilled_harness_leaves_no_load_child_and_no_spare(tmp_path: Path) -> None:
    """SIGKILL ``govdrill run a b`` while a's load runs and b's spare waits: both load
    children (and the target) are gone within 5 s."""
    a, b = drill_files(tmp_path, "a", "b")
    proc = subprocess.Popen(
        [sys.executable, "-m", "harness", "run", a, b, "--targets", str(TARGETS),
         "--results", str(tmp_path / "r"), "-q", "--set", "hold=60s"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        assert wait_for(lambda: len(load_children(proc.pid)) == 2, 60.0)
        before = labelled_processes(owner=proc.pid)
        proc.kill()
        proc.wait(timeout=10)
        assert wait_for(lambda: labelled_processes(owner=proc.pid) == [], 5.0), before
    finally:
        proc.kill()
        proc.wait()
        for pid, _ in labelled_processes(owner=proc.pid):  # do not leak them if it failed
            os.kill(pid, signal.SIGKILL)


def test_a_pytest_session_of_drills_shares_one_pool_and_kills_its_last_spare(
    pytester: pytest.Pytester,
) -> None:
    """Two drill files in one in-process pytest session: the first takes the child spawned
    when collection found drills, the second the spare spawned during the first; the spare
    started during the second is killed when the session ends."""
    pytester.makefile(".yaml", a=small_drill("a"), b=small_drill("b"))
    result = pytester.runpytest(
        f"--drill-targets={TARGETS}", f"--drill-results={pytester.path / 'results'}"
    )
    result.assert_outcomes(passed=2)
    assert load_children(os.getpid()) == []
    sources = [first(events_of(run), "load_spawned")["source"] for run in
               runs_under(pytester.path / "results")]  # fmt: skip
    assert sources == ["spare", "spare"]
