"""Fixtures of the external sandbox tests: a service the test starts itself, as a plain
process the harness never started, and a target file and drill that point at it."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers import wait_for

SERVICE = Path(__file__).resolve().parent / "service.py"


@dataclass(frozen=True)
class Service:
    """A running service of the test's own: its process and its root URL."""

    proc: subprocess.Popen[bytes]
    base_url: str


@pytest.fixture
def external_service(tmp_path: Path) -> Iterator[Callable[..., Service]]:
    """Start ``tests/external/service.py`` with the given flags; every one started is ended
    by the test (never by the harness) when the test is done."""
    started: list[subprocess.Popen[bytes]] = []

    def start(*flags: str) -> Service:
        port_file = tmp_path / f"service-{len(started)}.port"
        proc = subprocess.Popen(
            [sys.executable, str(SERVICE), "--port-file", str(port_file), *flags]
        )
        started.append(proc)
        assert wait_for(lambda: port_file.exists() or proc.poll() is not None, 20.0)
        assert proc.poll() is None, f"the service exited with code {proc.returncode}"
        return Service(proc, f"http://127.0.0.1:{int(port_file.read_text())}")

    yield start
    for proc in started:
        proc.kill()
        proc.wait()


TARGET = """\
target: ext-service
description: a service of the test's own, already running
sandboxes:
  external: {{base_url: "{base_url}"{extra}}}
ready: {{path: /readyz, timeout: 10s, interval: 20ms}}
control_paths:
  admin_api:
    http:
      timeout: 2s
      stop: {{path: /admin/stop}}
      resume: {{path: /admin/resume}}
  sigterm:
    signal: {{signal: SIGTERM}}
incidents:
  leak:
    via: admin_api
    enable: {{path: /admin/incidents/leak}}
    disable: {{method: DELETE, path: /admin/incidents/leak}}
"""

DRILL = """\
drill: external-stop
target: ext-service
sandbox: external
warmup: 100ms
load:
  users: 3
  request: {{method: POST, path: /v1/generate, json: {{prompt: hi}}}}
harm:
  - json_path: $.output
    regex: "CANARY-[0-9a-f]{{8}}"
steps:
  - at: 200ms
    inject: leak
  - when: harm_detected
    stop: [{ladder}]
    grace: 1s
hold: 300ms
deadlines: {{stop: 2s}}
"""
STOP_LINE = 15
"""The line of ``stop:`` in DRILL."""


def write_files(
    folder: Path, base_url: str, *, extra: str = "", ladder: str = "admin_api"
) -> tuple[Path, Path]:
    """The target file (under ``folder/targets``) and the drill; returns (targets, drill)."""
    targets = folder / "targets"
    (targets / "ext-service").mkdir(parents=True, exist_ok=True)
    (targets / "ext-service" / "target.yaml").write_text(
        TARGET.format(base_url=base_url, extra=extra)
    )
    drill = folder / "external-stop.yaml"
    drill.write_text(DRILL.format(ladder=ladder))
    return targets, drill
