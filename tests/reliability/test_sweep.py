"""The leftover sweep proves a run dead by taking its lock, never by pid numbers: it spares
live runs (in this PID namespace or another) and, for a dead run, kills its processes and
removes its work folder with the secrets in it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import ROOT, govdrill, labelled_processes, only_run, summary_of
from tests.reliability.standins import private_env, process_alive, registrants

NEEDS_UNSHARE = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("unshare") is None,
    reason="a new PID namespace needs root and util-linux unshare",
)
# How a shell starts a harness: its own process group, which its children join.
OWN_GROUP = ("setsid",)
# Another PID namespace, as a container or CI sandbox on the same host has.
OTHER_NAMESPACE = ("setsid", "unshare", "--pid", "--fork", "--mount-proc", "--kill-child")
THEATER = ROOT / "drills" / "defects" / "stop-theater.yaml"
TRUTH = ROOT / "tests" / "engine" / "drills" / "truth.yaml"


def sweep_now(env: dict[str, str]) -> str:
    """Run the sweep every run starts with, in a process of its own; return what it said."""
    done = subprocess.run(
        [sys.executable, "-c", "from harness.sandbox import reaper; print(reaper.sweep())"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


def wait_until(condition: object, what: str, deadline_s: float = 10.0) -> None:
    """Poll ``condition()`` until it holds, or fail naming ``what``."""
    end = time.monotonic() + deadline_s
    while not condition():  # type: ignore[operator]
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


@NEEDS_UNSHARE
def test_sweep_spares_a_live_run_in_another_pid_namespace(tmp_path: Path) -> None:
    """A live harness in another PID namespace, sharing the registry: its child's labels
    name owner pid 1 (its namespace's numbering, some other process here). The sweep
    signals nothing; the old sweep killed the harness's whole process group."""
    env = private_env(tmp_path, GOVDRILL_RUNTIME_DIR=str(tmp_path / "runtime"))
    with registrants(env, ("ns0001", "--child"), prefix=OTHER_NAMESPACE) as (harness,):
        before = labelled_processes(run_id="ns0001")
        assert len(before) == 1, before
        sweep_now(env)
        assert harness.alive(), "the sweep killed a live harness in another PID namespace"
        assert labelled_processes(run_id="ns0001") == before


@NEEDS_UNSHARE
def test_sweep_never_signals_another_pid_namespace(tmp_path: Path) -> None:
    """Even when this registry holds a dead run of that very id, a process in another PID
    namespace carrying its labels is not this run's: it is never signalled."""
    env = private_env(tmp_path, GOVDRILL_RUNTIME_DIR=str(tmp_path / "runtime"))
    with registrants(env, ("ns0002",)) as (dead,):
        dead.proc.kill()  # leaves its entry behind with a free lock: a dead run
        dead.proc.wait()
    elsewhere = private_env(tmp_path, GOVDRILL_RUNTIME_DIR=str(tmp_path / "other-runtime"))
    with registrants(elsewhere, ("ns0002", "--child"), prefix=OTHER_NAMESPACE) as (harness,):
        before = labelled_processes(run_id="ns0002")
        assert len(before) == 1, before
        sweep_now(env)
        assert harness.alive()
        assert labelled_processes(run_id="ns0002") == before
    assert not (tmp_path / "runtime" / "runs" / "ns0002.json").exists(), "dead entry kept"


def test_sweep_trusts_the_lock_not_the_owner_pid(tmp_path: Path) -> None:
    """A live run whose children's owner label cannot be checked (a pid that is not its
    harness here) is alive by its lock: the sweep leaves the harness and its group alone."""
    env = private_env(tmp_path, GOVDRILL_RUNTIME_DIR=str(tmp_path / "runtime"))
    specs = ("cafe0201", "--child", "--owner-pid", "999999")
    with registrants(env, specs, prefix=OWN_GROUP) as (harness,):
        assert harness.child_pid is not None
        sweep_now(env)
        assert harness.alive(), "the sweep killed a live harness"
        assert process_alive(harness.child_pid), "the sweep killed a live run's child"


def test_sweep_removes_a_dead_runs_processes_and_secrets(tmp_path: Path) -> None:
    """While the harness lives its child and its work folder (with a secret) are left alone;
    once it is SIGKILLed the next sweep kills the child, removes the folder and the entry."""
    env = private_env(tmp_path, GOVDRILL_RUNTIME_DIR=str(tmp_path / "runtime"))
    specs = ("cafe0202", "--child", "--work-folder")
    with registrants(env, specs, prefix=OWN_GROUP) as (harness,):
        folder, child = harness.work_folder, harness.child_pid
        assert folder is not None and child is not None
        assert (folder / "secrets" / "admin-token").read_text() == "s3cret-token\n"
        sweep_now(env)
        assert harness.alive() and process_alive(child) and folder.is_dir()
        harness.proc.kill()
        harness.proc.wait()
        assert process_alive(child), "a leftover to sweep (it has no death signal)"
        said = sweep_now(env)
        assert not folder.exists(), said
        wait_until(lambda: not process_alive(child), "the leftover child to be killed")
        assert "cafe0202" in said
    assert not (tmp_path / "runtime" / "runs" / "cafe0202.json").exists()


@pytest.mark.slow
def test_next_run_removes_a_sigkilled_harness_work_folder(tmp_path: Path) -> None:
    """A real harness SIGKILLed mid-drill leaves its work folder (secrets included) in
    $TMPDIR; the next run's sweep removes it and records it in its evidence."""
    env = private_env(tmp_path, GOVDRILL_RUNTIME_DIR=str(tmp_path / "runtime"), CI="1")
    tmp = Path(env["TMPDIR"])
    proc = subprocess.Popen(
        [sys.executable, "-m", "harness", "run", str(THEATER), "--results",
         str(tmp_path / "killed")],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    for line in proc.stdout:
        if "load ready" in line:
            break
    folders = list(tmp.glob("govdrill-*-*"))
    assert len(folders) == 1, folders
    assert [p for p in folders[0].rglob("*") if p.is_file()], "expected the target's secrets"
    proc.kill()
    proc.wait(timeout=10)
    assert folders[0].is_dir()
    done = govdrill("run", str(TRUTH), "--results", str(tmp_path / "next"), "-q", env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert not folders[0].exists()
    assert list(tmp.glob("govdrill-*-*")) == []
    swept = summary_of(only_run(tmp_path / "next"))["swept_leftovers"]
    assert {"kind": "work_folder", "name": str(folders[0]), "run_id": swept[-1]["run_id"]} in (
        swept
    )


@pytest.mark.slow
def test_load_child_has_its_own_process_group(tmp_path: Path) -> None:
    """The load child leads a process group of its own, so a group kill aimed at it (a
    sweep, an operator's ``kill -- -PGID``) can never take the harness down with it."""
    env = private_env(tmp_path, GOVDRILL_RUNTIME_DIR=str(tmp_path / "runtime"), CI="1")
    proc = subprocess.Popen(
        [sys.executable, "-m", "harness", "run", str(THEATER), "--results",
         str(tmp_path / "results"), "--set", "hold=600s", "--set", "max_duration=600s"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if "load ready" in line:
                break
        (child,) = [
            pid for pid, cmd in labelled_processes(owner=proc.pid) if "harness.load.child" in cmd
        ]
        assert os.getpgid(child) == child != os.getpgid(proc.pid) == proc.pid
    finally:
        proc.terminate()
        proc.communicate(timeout=60)
    assert proc.returncode == 143
