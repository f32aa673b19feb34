"""The container is hardened as documented, keeps the token out of ``docker inspect``, and
never outlives the harness: Ctrl-C tears it down, and after a SIGKILLed harness the next run
sweeps it (and says so in its timeline)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.docker.docker_cli import (
    LABEL_OWNER_PID,
    LABEL_RUN,
    docker,
    labelled,
    timeline_events,
    wait_labelled,
)
from tests.helpers import ROOT, govdrill, only_run, summary_of

# One xdist worker runs every docker test: a docker run sweeps the containers of dead
# harnesses machine-wide, so another worker's run would take a test's leftovers first.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("docker")]

THEATER = ROOT / "drills" / "defects" / "stop-theater.yaml"
TOKEN = "drill-token-9f3c2e7a51b04d68"


def start_harness(results: Path) -> subprocess.Popen[str]:
    """``govdrill run`` of a long drill under docker, in the background, until its load is
    ready; the admin token is a known value so ``docker inspect`` can be searched for it."""
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "harness", "run", str(THEATER), "--sandbox", "docker",
            "--results", str(results), "--set", "steps[0].at=20s", "--set", "max_duration=40s",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "CI": "1", "MODEL_SERVICE_ADMIN_TOKEN": TOKEN},
    )  # fmt: skip
    assert proc.stdout is not None
    for line in proc.stdout:
        if "load ready" in line:
            return proc
    raise AssertionError(f"harness never got its load ready (exit {proc.wait()})")


def inspect_of(harness_pid: int) -> dict[str, Any]:
    """``docker inspect`` of the one container the harness ``harness_pid`` runs."""
    (name,) = labelled("container", f"{LABEL_OWNER_PID}={harness_pid}")
    out = docker("inspect", name)
    assert out.returncode == 0, out.stderr
    data: dict[str, Any] = json.loads(out.stdout)[0]
    return data


def test_container_hardened_and_interrupt_leaves_nothing(results: Path) -> None:
    """Read-only root, no capabilities, no-new-privileges, nobody, limits, own network, port
    on 127.0.0.1 only, token as a read-only file and nowhere in inspect; Ctrl-C removes it."""
    proc = start_harness(results)
    try:
        info = inspect_of(proc.pid)
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
    host = info["HostConfig"]
    assert host["ReadonlyRootfs"] is True
    assert host["CapDrop"] == ["ALL"] and not host.get("CapAdd")
    assert host["SecurityOpt"] == ["no-new-privileges"]
    assert host["Privileged"] is False
    assert info["Config"]["User"] == "65534:65534"
    assert host["Memory"] == 512 * 1024 * 1024
    assert host["NanoCpus"] == 1_000_000_000
    assert host["PidsLimit"] == 256
    assert "/tmp" in host["Tmpfs"]
    bindings = [b for port in host["PortBindings"].values() for b in port]
    assert bindings and all(b["HostIp"] == "127.0.0.1" for b in bindings)
    run_id = info["Config"]["Labels"][LABEL_RUN]
    assert list(info["NetworkSettings"]["Networks"]) == [f"govdrill-{run_id}"]
    token_mount = [m for m in info["Mounts"] if m["Destination"] == "/run/secrets/admin_token"]
    assert len(token_mount) == 1 and token_mount[0]["RW"] is False
    assert TOKEN not in json.dumps(info)
    # The interrupt tore everything down and kept the run, marked interrupted.
    assert proc.returncode == 130, out
    assert wait_labelled("container", f"{LABEL_RUN}={run_id}", present=False) == []
    assert labelled("network", f"{LABEL_RUN}={run_id}") == []
    assert summary_of(only_run(results))["verdict"] == "interrupted"


def test_sigkilled_harness_is_swept_by_the_next_run(results: Path) -> None:
    """SIGKILL leaves the container running (nothing in a container dies with its parent);
    the next docker run removes it and its network, and records them as swept."""
    proc = start_harness(results / "killed")
    proc.kill()
    proc.wait(timeout=10)
    owner = f"{LABEL_OWNER_PID}={proc.pid}"
    (left,) = labelled("container", owner)
    assert labelled("network", owner) != []
    done = govdrill(
        "run", str(ROOT / "tests" / "docker" / "drills" / "docker-stop.yaml"),
        "--results", str(results / "next"), "-q", timeout=180,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert labelled("container", owner) == []
    assert labelled("network", owner) == []
    swept = timeline_events(only_run(results / "next"), "swept_leftover")
    kinds = {(e.get("kind"), e.get("resource")) for e in swept}
    assert ("container", left) in kinds, swept
    assert any(kind == "network" for kind, _ in kinds), swept
