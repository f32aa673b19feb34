"""A full disk or an unusable results folder is a clear harness error: exit 3, nothing claimed."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import ROOT, govdrill, labelled_processes

pytestmark = pytest.mark.slow

TRUTH = ROOT / "tests" / "engine" / "drills" / "truth.yaml"


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 40 KiB tmpfs: enough to start a run, too small to finish writing its evidence."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root (CI runs as root)")
    mount = tmp_path / "tiny"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=40k", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):
            subprocess.run(["umount", str(mount)], check=True)


def test_full_disk(tiny_disk: Path) -> None:
    """Evidence that cannot be written: exit 3, a clear message, no sealed run, no orphan."""
    done = govdrill("run", str(TRUTH), "--results", str(tiny_disk / "results"), "-q")
    assert done.returncode == 3, done.stdout + done.stderr
    assert "No space left on device" in done.stderr
    assert "Traceback" not in done.stderr
    runs = list((tiny_disk / "results" / "truth-check").iterdir())
    assert runs and all(p.name.startswith(".") and p.name.endswith(".partial") for p in runs)
    for partial in runs:  # ``.<UTC-time>-<run-id>.partial``: nothing of the run is left
        run_id = partial.name.removesuffix(".partial").rsplit("-", 1)[1]
        assert labelled_processes(run_id=run_id) == []


def test_results_path_is_a_file(tmp_path: Path) -> None:
    """A results path that cannot hold folders fails before anything starts."""
    blocker = tmp_path / "results"
    blocker.write_text("not a folder")
    done = govdrill("run", str(TRUTH), "--results", str(blocker), "-q")
    assert done.returncode == 3
    assert "cannot create the run folder" in done.stderr and "Not a directory" in done.stderr
    assert blocker.read_text() == "not a folder"
