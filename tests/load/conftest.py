"""A switchable HTTP/1.1 test target and helpers for running real loads against it."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from harness.load.config import LoadConfig
from harness.observations import ObservationLog
from harness.spec.models import HarmRule, RequestSpec, SafeState


@dataclass(frozen=True)
class Behaviour:
    """How the target answers every request until switched."""

    status: int = 200
    output: str = "a harmless answer"
    version: str = "v1"
    delay_s: float = 0.0
    close: bool = False
    """Close the connection without answering."""
    headers: dict[str, str] = field(default_factory=dict)


class DrillTarget:
    """A stdlib threaded HTTP/1.1 server (keep-alive, TCP_NODELAY) whose answers a test switches."""

    def __init__(self) -> None:
        self.behaviour = Behaviour()
        self.connections_accepted = 0
        self.requests_answered = 0
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        target = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                with target._lock:
                    target.connections_accepted += 1
                    target._open.add(self.connection)

            def finish(self) -> None:
                with target._lock:
                    target._open.discard(self.connection)
                super().finish()

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                b = target.behaviour
                if b.delay_s:
                    time.sleep(b.delay_s)
                if b.close:
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                body = json.dumps({"output": b.output}).encode()
                self.send_response(b.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("X-Model-Version", b.version)
                for name, value in b.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)
                with target._lock:
                    target.requests_answered += 1

            do_GET = _answer
            do_POST = _answer

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        self._closed = False

    def switch(self, **changes: Any) -> None:
        """Change how every following request is answered."""
        self.behaviour = replace(self.behaviour, **changes)

    def close_listener(self) -> None:
        """Stop listening and cut every open connection: new connects are refused."""
        if self._closed:
            return
        self._closed = True
        self._server.shutdown()
        self._server.server_close()
        with self._lock:
            open_sockets = list(self._open)
        for sock in open_sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


@pytest.fixture
def drill_target() -> Iterator[DrillTarget]:
    """A fresh switchable target on 127.0.0.1, closed after the test."""
    target = DrillTarget()
    yield target
    target.close_listener()


@pytest.fixture
def drill_load_config(drill_target: DrillTarget) -> Callable[..., LoadConfig]:
    """Build a small LoadConfig against the test target; keyword arguments override fields."""

    def build(**overrides: Any) -> LoadConfig:
        fields: dict[str, Any] = {
            "base_url": drill_target.url,
            "users": 3,
            "spawn_rate": 100.0,
            "request": RequestSpec(method="POST", path="/v1/generate", json={"prompt": "hi"}),
            "parent_pid": os.getpid(),
            "timeout_s": 2.0,
            "per_user_rate": 50.0,
            "harm": (HarmRule(json_path="$.output", regex="CANARY-[0-9a-f]{8}"),),
            "safe_state": SafeState(),
            "heartbeat_s": 0.05,
        }
        fields.update(overrides)
        return LoadConfig(**fields)

    return build


@pytest.fixture
def drill_log() -> ObservationLog:
    """An empty observation log."""
    return ObservationLog()


@pytest.fixture
def drill_stderr(tmp_path: Path) -> Path:
    """Where the load child's stderr goes."""
    return tmp_path / "load.stderr"


def _wait_for(predicate: Callable[[], bool], timeout_s: float, step_s: float = 0.01) -> bool:
    deadline = time.monotonic_ns() + int(timeout_s * 1e9)
    while time.monotonic_ns() < deadline:
        if predicate():
            return True
        time.sleep(step_s)
    return predicate()


@pytest.fixture
def drill_wait_for() -> Callable[..., bool]:
    """``wait_for(predicate, timeout_s)``: poll until true or the timeout; return the last value."""
    return _wait_for


HOSTILE_TARGET = Path(__file__).resolve().parents[1] / "reliability" / "hostile_load_target.py"


@contextlib.contextmanager
def hostile_target(workdir: Path, *args: str) -> Iterator[str]:
    """Run ``tests/reliability/hostile_load_target.py`` with ``args``; yield its base URL."""
    import subprocess
    import sys

    workdir.mkdir(parents=True, exist_ok=True)
    port_file = workdir / "port"
    proc = subprocess.Popen(
        [sys.executable, str(HOSTILE_TARGET), "--port-file", str(port_file),
         "--events", str(workdir / "events.jsonl"), *args],
    )  # fmt: skip
    try:
        if not _wait_for(lambda: port_file.exists() or proc.poll() is not None, 20.0):
            raise AssertionError("the hostile target did not write its port in 20 s")
        if proc.poll() is not None:
            raise AssertionError(f"the hostile target exited with code {proc.returncode}")
        yield f"http://127.0.0.1:{int(port_file.read_text())}"
    finally:
        proc.kill()
        proc.wait()


def peak_rss_mb(pid: int) -> float:
    """A live process's peak resident set (VmHWM), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmHWM for pid {pid}")
