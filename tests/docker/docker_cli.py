"""The docker CLI as the docker tests use it (never the SDK in the pytest process: see the
conftest), and the labels the harness puts on what it makes, from the harness itself."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

from harness.sandbox.labels import LABEL_OWNER, LABEL_OWNER_PID, LABEL_RUN
from tests.helpers import ROOT, events_of

__all__ = [
    "LABEL_OWNER",
    "LABEL_OWNER_PID",
    "LABEL_RUN",
    "TARGET_DIR",
    "docker",
    "engine_problem",
    "labelled",
    "timeline_events",
    "wait_labelled",
]

TARGET_DIR = ROOT / "targets" / "model-service"


def docker(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run the docker CLI; never raises on a non-zero exit."""
    return subprocess.run(
        ["docker", *args], capture_output=True, text=True, timeout=timeout, check=False
    )


def engine_problem() -> str | None:
    """Why no Docker engine can be used here, or None when one answers."""
    if shutil.which("docker") is None:
        return "no docker CLI on PATH"
    try:
        info = docker("info", "--format", "{{.ServerVersion}}", timeout=20)
    except subprocess.TimeoutExpired:
        return "docker info timed out"
    if info.returncode != 0:
        return f"no Docker engine reachable: {(info.stderr or info.stdout).strip()[:200]}"
    return None


def labelled(kind: str, label: str) -> list[str]:
    """Names of containers (``ps``) or networks carrying ``label`` (``key=value``)."""
    if kind == "container":
        out = docker("ps", "-a", "--filter", f"label={label}", "--format", "{{.Names}}")
    else:
        out = docker("network", "ls", "--filter", f"label={label}", "--format", "{{.Name}}")
    return [line for line in out.stdout.splitlines() if line.strip()]


def wait_labelled(kind: str, label: str, *, present: bool, deadline_s: float = 30) -> list[str]:
    """Poll until resources with ``label`` exist (or are gone); return the last listing."""
    end = time.monotonic() + deadline_s
    found = labelled(kind, label)
    while bool(found) != present and time.monotonic() < end:
        time.sleep(0.1)
        found = labelled(kind, label)
    return found


def timeline_events(run: Path, name: str) -> list[dict[str, Any]]:
    """Every timeline event called ``name`` of a run folder."""
    return [event for event in events_of(run) if event.get("event") == name]
