"""The scripted responder stands in for a person: it hears a real Alertmanager notification
from the harness, waits its delay, stops the real service through the admin API as
scripted-responder, and writes down the true instant it acted."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from harness.notify import Alert, Notifiers, NotifyResult
from harness.spec.notify import NotifierSpec
from tests.target.live_service import TARGET_DIR, StartService

RESPONDER = TARGET_DIR / "responder.py"


def _wait_for(path: Path, proc: subprocess.Popen[bytes], timeout: float = 20.0) -> str:
    deadline = time.monotonic() + timeout
    while not (path.exists() and path.read_text().strip()):
        assert proc.poll() is None, "the responder exited"
        assert time.monotonic() < deadline, f"{path} never written"
        time.sleep(0.01)
    return path.read_text()


def test_responder_acts_after_its_delay_and_logs_the_instant(
    start_service: StartService, tmp_path: Path
) -> None:
    """Alert sent -> after --delay the responder's stop call reaches the service (logged as
    a control_call by scripted-responder) -> the stop takes effect between the responder's
    recorded send and return instants; SIGTERM ends the responder with 0."""
    service = start_service("--log-control-calls")
    actions = tmp_path / "actions.jsonl"
    port_file = tmp_path / "responder.port"
    proc = subprocess.Popen(
        [sys.executable, str(RESPONDER), "--port-file", str(port_file), "--delay", "0.4",
         "--actions", str(actions), "--token-file", str(service.workdir / "admin-token")],
        stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        port = int(_wait_for(port_file, proc))
        spec = NotifierSpec.model_validate({"alertmanager": {"url": f"http://127.0.0.1:{port}"}})
        alert = Alert(
            drill="operator-stop", run_id="r-1", target="model-service",
            summary="leaking", paths=("admin_api",), deadline_s=30.0,
            incident="harmful_output", base_url=f"http://127.0.0.1:{service.port}",
            started_at=datetime.now(UTC),
        )  # fmt: skip
        (outcome,) = Notifiers.from_specs({"oncall": spec}, quiet=True).notify(["oncall"], alert)
        assert outcome.result is NotifyResult.OK, outcome
        (effective,) = service.wait_event("stop_effective")
        (line,) = _wait_for(actions, proc).splitlines()
        action = json.loads(line)
        assert action["status"] == 200 and action["path"] == "/admin/stop"
        assert action["t_ns"] <= effective["t_ns"] <= action["returned_ns"]
        assert action["t_ns"] - outcome.sent_ns >= 400_000_000
        (call,) = service.events("control_call")
        assert call["by"] == "scripted-responder" and call["action"] == "stop"
        assert action["t_ns"] <= call["t_ns"] <= effective["t_ns"]
        os.kill(proc.pid, signal.SIGTERM)
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
        if proc.stderr:
            proc.stderr.close()


def test_responder_bounds_what_it_reads_and_whom_it_calls(tmp_path: Path) -> None:
    """A body over 64 KiB gets 413 unread; an alert naming a non-loopback target is heard
    but never acted on (no token leaves the machine)."""
    import http.client

    port_file = tmp_path / "responder.port"
    actions = tmp_path / "actions.jsonl"
    proc = subprocess.Popen(
        [sys.executable, str(RESPONDER), "--port-file", str(port_file), "--delay", "0",
         "--actions", str(actions)],
        stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        port = int(_wait_for(port_file, proc))
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("POST", "/", body=b"x" * (65 << 10))
        assert conn.getresponse().status == 413
        conn.close()
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        remote = json.dumps([{"labels": {}, "generatorURL": "http://10.1.2.3:80"}])
        conn.request("POST", "/api/v2/alerts", body=remote.encode())
        assert conn.getresponse().status == 200
        conn.close()
        os.kill(proc.pid, signal.SIGTERM)
        assert proc.wait(10) == 0
        assert proc.stderr is not None
        assert b"not acting" in proc.stderr.read()
        assert not actions.exists()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
        if proc.stderr:
            proc.stderr.close()
