"""Readiness as a command (exit 0 = ready) and the process sandbox's fixed port: every wait is
bounded, a hung attempt is killed with its group, and each failure says what went wrong."""

from __future__ import annotations

import os
import socket
import sys
import threading
import time
from pathlib import Path

import pytest

from harness.errors import Interrupted, SandboxError
from harness.halt import Halt
from harness.redact import SecretValues
from harness.sandbox.base import Endpoint
from harness.sandbox.process import HOST, ProcessSandbox, free_port
from harness.sandbox.ready import wait_ready
from harness.spec.models import ProcessSandboxSpec, ReadySpec
from tests.helpers import wait_for

SECRET = "ready-secret-5e4d3c2b1a"
ENDPOINT = Endpoint("http://127.0.0.1:8765", "127.0.0.1", 8765)


def ready(command: list[str], timeout: str = "5s") -> ReadySpec:
    """A readiness check by ``command``."""
    return ReadySpec.model_validate({"command": command, "timeout": timeout, "interval": "20ms"})


def wait(
    spec: ReadySpec, *, halt: Halt | None = None, places: dict[str, str] | None = None
) -> None:
    """Wait for ``spec`` against a target that never exits, its secret redacted."""
    wait_ready(
        spec,
        ENDPOINT,
        deadline_ns=time.monotonic_ns() + spec.timeout_ns,
        clock=time.monotonic_ns,
        exited=lambda: None,
        halt=halt,
        places=places,
        redactor=SecretValues({"token": SECRET}).redactor,
    )


def test_ready_once_the_command_exits_zero(tmp_path: Path) -> None:
    """The command runs again until it exits 0; ``{base_url}``, ``{port}``, ``{workdir}``
    are filled."""
    seen = tmp_path / "seen"
    script = (
        "import sys, pathlib; p = pathlib.Path(sys.argv[1]);"
        " n = int(p.read_text()) if p.exists() else 0; p.write_text(str(n + 1));"
        " open(p.with_name('args'), 'w').write(' '.join(sys.argv[2:])); sys.exit(n < 2)"
    )
    wait(
        ready(["{python}", "-c", script, "{workdir}/seen", "{base_url}", "{port}"]),
        places={"workdir": str(tmp_path)},
    )
    assert seen.read_text() == "3"
    assert (tmp_path / "args").read_text() == "http://127.0.0.1:8765 8765"


def test_failure_names_the_exit_code_and_redacted_output() -> None:
    """Never ready: the error names the last exit code and the end of what the command said,
    its secret redacted and its flood of output cut."""
    half = len(SECRET) // 2  # written in two halves: the secret is not in the argv shown
    script = (
        f"print('x' * 100000); print('backend down, token ' + {SECRET[:half]!r}"
        f" + {SECRET[half:]!r}); raise SystemExit(7)"
    )
    with pytest.raises(SandboxError) as caught:
        wait(ready([sys.executable, "-c", script], timeout="3s"))
    message = str(caught.value)
    assert "last exited with code 7" in message
    assert "backend down, token [REDACTED:token]" in message and SECRET not in message
    assert len(message) < 1000


def test_hung_attempt_is_killed_with_its_group_at_the_deadline(tmp_path: Path) -> None:
    """An attempt that never ends is killed at the readiness deadline, with what it started."""
    pid_file = tmp_path / "pid"
    began = time.monotonic()
    with pytest.raises(SandboxError, match="still running at the deadline"):
        wait(ready(["sh", "-c", f"sleep 60 & echo $! > {pid_file}; wait"], timeout="1s"))
    assert time.monotonic() - began < 10
    child = int(pid_file.read_text())
    assert wait_for(lambda: not _alive(child), timeout_s=10), f"pid {child} outlived the check"


def test_halt_ends_a_running_attempt(tmp_path: Path) -> None:
    """``govdrill halt`` (or Ctrl-C) during a readiness command ends the wait at once."""
    halt = Halt()
    started = tmp_path / "started"
    script = f"open({str(started)!r}, 'w').close(); import time; time.sleep(60)"
    presser = threading.Thread(
        target=lambda: wait_for(started.exists, timeout_s=20) and halt.set(), daemon=True
    )
    presser.start()
    began = time.monotonic()
    with pytest.raises(Interrupted):
        wait(ready([sys.executable, "-c", script], timeout="30s"), halt=halt)
    assert time.monotonic() - began < 20


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie waiting to be reaped does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


SERVER = """\
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.send_header("Content-Length", "0"); self.end_headers()
    def log_message(self, *a): pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
"""


def sandbox(tmp_path: Path, port: int, serve_on: str) -> ProcessSandbox:
    """A process sandbox with the fixed ``port``, its target serving on ``serve_on``."""
    script = tmp_path / "server.py"
    script.write_text(SERVER)
    spec = ProcessSandboxSpec.model_validate(
        {"command": ["{python}", str(script), serve_on], "port": port}
    )
    return ProcessSandbox(
        spec=spec,
        ready=ReadySpec.model_validate({"path": "/", "timeout": "2s", "interval": "20ms"}),
        target_dir=tmp_path,
        workdir=tmp_path / "work",
        secrets={},
        run_id=f"test-fixed-port-{os.getpid()}",
        log_dir=tmp_path / "logs",
    )


def test_fixed_port_serves_the_target(tmp_path: Path) -> None:
    """``port: N`` is the port the target gets as ``{port}`` and the one drilled."""
    port = free_port()
    box = sandbox(tmp_path, port, "{port}")
    try:
        endpoint = box.start()
        assert endpoint.port == port and endpoint.base_url == f"http://{HOST}:{port}"
        assert box.pid in endpoint.port_held_by
    finally:
        box.teardown(grace_s=1)


def test_squatter_on_the_fixed_port_is_named_by_pid(tmp_path: Path) -> None:
    """Someone already listening on the fixed port stops the run before the target starts,
    named by pid."""
    with socket.create_server((HOST, 0)) as squatter:
        port = int(squatter.getsockname()[1])
        box = sandbox(tmp_path, port, "{port}")
        try:
            with pytest.raises(SandboxError, match=rf"port {port} is taken.*pid {os.getpid()} "):
                box.start()
        finally:
            box.teardown(grace_s=1)


def test_fixed_port_the_target_never_binds_fails_readiness_clearly(tmp_path: Path) -> None:
    """A target serving elsewhere than its fixed port: readiness fails and says nothing
    listens on that port."""
    port, elsewhere = free_port(), free_port()
    box = sandbox(tmp_path, port, str(elsewhere))
    try:
        with pytest.raises(SandboxError, match=rf"nothing listens on the fixed port {port}"):
            box.start()
    finally:
        box.teardown(grace_s=1)
