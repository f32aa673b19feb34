"""A signed run is bound to its folder: copies under another name, stray entries of any kind
and replayed duplicates in history are all caught."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from harness.history import analyse, collect
from tests.evidence.runs import Runs
from tests.helpers import govdrill, govdrill_in_process

pytestmark = pytest.mark.slow


def verify(run: Path, five_runs: Runs) -> tuple[int, str]:
    """`govdrill verify --key` (in-process) with the signer's public key; exit code and stdout."""
    done = govdrill_in_process("verify", str(run), "--key", str(five_runs.public_key))
    return done.returncode, done.stdout


@pytest.mark.parametrize("rename", ["another-stamp", "another-id"])
def test_signed_copy_under_another_name_is_refused(
    five_runs: Runs, tmp_path: Path, rename: str
) -> None:
    """A signed run copied under another folder name fails verify --key (exit 1)."""
    source = five_runs.runs[0]
    stamp, run_id = source.name.split("-")
    name = f"20991231T235959Z-{run_id}" if rename == "another-stamp" else f"{stamp}-0badc0de"
    copy = tmp_path / name
    shutil.copytree(source, copy)
    code, out = verify(copy, five_runs)
    assert code == 1, out
    assert f"not this run: manifest.json: the folder is named {name!r}" in out


def test_copy_under_its_own_name_elsewhere_verifies(five_runs: Runs, tmp_path: Path) -> None:
    """An auditor's copy keeps the folder name and verifies wherever it lives."""
    copy = tmp_path / "audit" / five_runs.runs[1].name
    shutil.copytree(five_runs.runs[1], copy)
    assert verify(copy, five_runs)[0] == 0


def test_extra_directory_is_refused(run_copy: Path, five_runs: Runs) -> None:
    """An empty directory the manifest does not list fails verify, named."""
    (run_copy / "snapshots" / "extra").mkdir()
    code, out = verify(run_copy, five_runs)
    assert code == 1 and "added: snapshots/extra: a directory not in the manifest" in out, out


def test_symlinks_are_refused(run_copy: Path, five_runs: Runs, tmp_path: Path) -> None:
    """A listed file replaced by a link to an identical copy, and a new link, both fail."""
    outside = tmp_path / "drill.yaml"
    shutil.copy(run_copy / "drill.yaml", outside)
    (run_copy / "drill.yaml").unlink()
    (run_copy / "drill.yaml").symlink_to(outside)
    (run_copy / "also").symlink_to(outside)
    code, out = verify(run_copy, five_runs)
    assert code == 1, out
    assert "not a regular file: drill.yaml: a symbolic link" in out
    assert "added: also: a symbolic link, not in the manifest" in out


def test_fifos_are_refused_without_hanging(run_copy: Path, five_runs: Runs) -> None:
    """FIFOs in a run (a new one, and one in place of summary.json) are named, never opened."""
    os.mkfifo(run_copy / "pipe")
    (run_copy / "summary.json").unlink()
    os.mkfifo(run_copy / "summary.json")
    code, out = verify(run_copy, five_runs)
    assert code == 1, out
    assert "added: pipe: a FIFO, not in the manifest" in out
    assert "not a regular file: summary.json: a FIFO" in out


def test_history_counts_a_replayed_run_once(five_runs: Runs, tmp_path: Path) -> None:
    """A good run copied in under another name is counted once and flagged as a duplicate."""
    results = tmp_path / "results"
    shutil.copytree(five_runs.results, results)
    source = five_runs.runs[0]
    run_id = source.name.split("-")[1]
    for stamp in ("20991231T235958Z", "20991231T235959Z"):
        shutil.copytree(source, results / "evidence-short" / f"{stamp}-{run_id}")
    (results / "evidence-short" / f"20991231T235959Z-{run_id}").rename(
        results / "evidence-short" / "20991231T235959Z-replayed"
    )
    done = govdrill("history", str(results), "--drill", "evidence-short")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "evidence-short: 5 runs" in done.stdout
    assert f"DUPLICATE evidence-short run id {run_id}: counted once (from {source.name})" in (
        done.stdout.replace("\n", " ")
    )
    points, _ = collect(results, "evidence-short")
    assert len(points) == 7
    report = analyse(points)
    assert len(report.points["evidence-short"]) == 5
    (duplicate,) = report.duplicates
    assert duplicate.kept == source.name and len(duplicate.ignored) == 2
