"""Docker tests run against a real engine through the docker CLI; they skip only when no
engine is reachable and ``GOVDRILL_REQUIRE_DOCKER`` is unset.

The Docker SDK is never imported in the pytest process: importing it (or requests, urllib3)
before locust in one process breaks gevent's monkey-patching, and other test folders may
import locust. The harness under test runs as a subprocess, as a user would run it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.engine.conftest import ROOT

TARGET_DIR = ROOT / "targets" / "model-service"
LABEL_RUN = "org.govdrill.run-id"
LABEL_OWNER = "org.govdrill.owner"
LABEL_OWNER_PID = "org.govdrill.owner-pid"


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
    events = []
    for line in (run / "timeline.jsonl").read_text().splitlines():
        event = json.loads(line)
        if event.get("event") == name:
            events.append(event)
    return events


@pytest.fixture(scope="session", autouse=True)
def drill_docker_images() -> Iterator[dict[str, str]]:
    """A reachable engine and the target's images, built once per session (later builds by
    the harness hit the layer cache). Skips without an engine unless GOVDRILL_REQUIRE_DOCKER."""
    problem = engine_problem()
    if problem is not None:
        if os.environ.get("GOVDRILL_REQUIRE_DOCKER"):
            pytest.fail(f"GOVDRILL_REQUIRE_DOCKER is set but {problem}", pytrace=False)
        pytest.skip(f"{problem} (set GOVDRILL_REQUIRE_DOCKER=1 to make this a failure)")
    spec = yaml.safe_load((TARGET_DIR / "target.yaml").read_text())["sandboxes"]["docker"]
    base = os.environ.get("GOVDRILL_BASE_IMAGE") or spec["base_image"]
    images = {}
    for tag, stage in spec["versions"].items():
        image = f"{spec['image']}:{tag}"
        built = docker(
            "build", "-q", "--target", stage, "--build-arg", f"BASE_IMAGE={base}",
            "--label", f"{LABEL_OWNER}=govdrill", "-t", image, str(TARGET_DIR),
            timeout=600,
        )  # fmt: skip
        if built.returncode != 0:
            problem = (
                f"cannot build {image} on base {base!r} (set GOVDRILL_BASE_IMAGE to a local"
                " image with python3 >= 3.11; see README 'Docker and compose')"
            )
            if os.environ.get("GOVDRILL_REQUIRE_DOCKER"):
                pytest.fail(f"{problem}:\n{built.stderr[-2000:]}", pytrace=False)
            pytest.skip(f"{problem} (set GOVDRILL_REQUIRE_DOCKER=1 to make this a failure)")
        images[tag] = image
    yield images
    leftovers = labelled("container", f"{LABEL_OWNER}=govdrill")
    assert leftovers == [], f"containers of ours left after the docker tests: {leftovers}"
