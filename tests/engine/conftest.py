"""Shared helpers for end-to-end drill tests: run the real CLI, inspect the process table."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


def govdrill(*args: str, timeout: float = 120, **kw: Any) -> subprocess.CompletedProcess[str]:
    """Run ``govdrill`` as a user would, from the repository root."""
    return subprocess.run(
        [sys.executable, "-m", "harness", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=timeout,
        **kw,
    )


def only_run(results: Path) -> Path:
    """The single sealed run folder under ``results``."""
    runs = [p for p in results.glob("*/*") if p.is_dir() and not p.name.startswith(".")]
    assert len(runs) == 1, runs
    return runs[0]


def summary_of(run: Path) -> dict[str, Any]:
    """A run's summary.json."""
    data: dict[str, Any] = json.loads((run / "summary.json").read_text())
    return data


def labelled_processes() -> list[tuple[int, str]]:
    """Every live process carrying a govdrill run label, with its command line."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            env = (entry / "environ").read_bytes()
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if b"GOVDRILL_RUN_ID=" in env and state != "Z":
            found.append((int(entry.name), cmd))
    return found


def load_children() -> list[tuple[int, str]]:
    """Live Locust load children (they carry no run label: matched by module name)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if "harness.load.child" in cmd and state != "Z":
            found.append((int(entry.name), cmd))
    return found


@pytest.fixture
def results(tmp_path: Path) -> Path:
    """A fresh results folder."""
    return tmp_path / "results"
