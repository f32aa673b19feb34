"""Shared helpers for end-to-end drill tests: run the real CLI, inspect the process table."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

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


def labelled_processes(
    *, run_id: str | None = None, owner: int | None = None
) -> list[tuple[int, str]]:
    """Live processes (targets and load children) carrying a govdrill run label, of one run
    or one harness when given."""
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
        if b"GOVDRILL_RUN_ID=" not in env or state == "Z":
            continue
        if run_id is not None and f"GOVDRILL_RUN_ID={run_id}\0".encode() not in env + b"\0":
            continue
        if owner is not None and f"GOVDRILL_OWNER_PID={owner}\0".encode() not in env + b"\0":
            continue
        found.append((int(entry.name), cmd))
    return found
