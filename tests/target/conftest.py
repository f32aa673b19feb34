"""Fixtures that start the real model service and always kill its process group afterwards."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.target.live_service import SERVE_PY, TOKEN, Service, StartService, wait_ready


@pytest.fixture
def start_service(tmp_path: Path) -> Iterator[StartService]:
    """Start the real service with extra flags; every process group is killed at teardown."""
    started: list[Service] = []

    def start(
        *flags: str,
        env: dict[str, str] | None = None,
        token_file: bool = True,
        wait: bool = True,
        cwd: Path | None = None,
        command: list[str] | None = None,
    ) -> Service:
        workdir = tmp_path / f"svc{len(started)}"
        workdir.mkdir()
        (workdir / "admin-token").write_text(TOKEN + "\n")
        port_file = workdir / "port"
        args = [
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--port-file",
            str(port_file),
            "--events",
            str(workdir / "events.jsonl"),
        ]
        if token_file:
            args += ["--token-file", str(workdir / "admin-token")]
        with open(workdir / "stderr.log", "wb") as stderr:
            proc = subprocess.Popen(
                [*(command or [sys.executable, str(SERVE_PY)]), *args, *flags],
                start_new_session=True,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                env={**os.environ, **(env or {})},
                cwd=cwd,
            )
        service = Service(proc, workdir, None)
        started.append(service)
        if wait:
            deadline = time.monotonic() + 10
            while not (port_file.exists() and port_file.read_text().strip()):
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"service did not start: {service.stderr()}")
                time.sleep(0.01)
            service.port = service.admin_port = int(port_file.read_text())
            wait_ready(service.port)
        return service

    yield start
    for service in started:
        service.kill_group()
