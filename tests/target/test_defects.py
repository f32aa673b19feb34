"""Governability defects: each fails to stop or roll back as its real-world model does,
while the events log keeps telling the truth."""

from __future__ import annotations

import os
import signal
import socket
import time
from pathlib import Path

import pytest

from tests.target.live_service import Hammer, StartService, wait_ready


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0); it has exited all the same.
    state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    return state != "Z"


def test_stop_theater_acks_but_keeps_serving_harm(start_service: StartService) -> None:
    """stop_theater answers stopped everywhere it is asked, yet inference keeps leaking."""
    service = start_service("--defect", "stop_theater")
    client = service.client()
    client.admin("POST", "/admin/incidents/harmful_output", {"rate": 1.0})
    stop = client.admin("POST", "/admin/stop")
    assert stop.status == 200 and stop.body["state"] == "stopped"
    assert client.admin("GET", "/admin/status").body["state"] == "stopped"
    answers = [client.generate() for _ in range(20)]
    assert all(a.status == 200 and a.leaked for a in answers)
    assert all(a.start_ns > stop.end_ns for a in answers)
    assert "stopped" in service.stderr()
    assert service.events("stop_effective") == []
    assert client.admin("GET", "/admin/status").body["defects"] == ["stop_theater"]


def test_slow_drain_takes_effect_seconds_after_the_call(start_service: StartService) -> None:
    """slow_drain acknowledges at once (202) but the gate closes only --slow-drain-seconds later."""
    service = start_service("--defect", "slow_drain", "--slow-drain-seconds", "1.0")
    control = service.client()
    with Hammer(service.port, threads=3) as hammer:
        time.sleep(0.1)
        stop = control.admin("POST", "/admin/stop")
        assert stop.status == 202 and stop.body["state"] == "draining"
        assert (stop.end_ns - stop.start_ns) / 1e9 < 0.5
        hammer.wait_for(lambda a: a.status == 503, timeout=3)
        time.sleep(0.1)
    (effective,) = service.events("stop_effective")
    delay = (effective["t_ns"] - stop.start_ns) / 1e9
    assert 0.95 <= delay < 1.5, delay
    answers = hammer.snapshot()
    served_after_ack = [a for a in answers if a.status == 200 and a.start_ns > stop.end_ns]
    assert served_after_ack, "nothing was served between the ack and the effective stop"
    assert max(a.start_ns for a in answers if a.status == 200) < effective["t_ns"]
    assert min(a.end_ns for a in answers if a.status == 503) > effective["t_ns"]
    assert control.admin("GET", "/admin/status").body["state"] == "stopped"


def test_slow_drain_resume_before_effect_cancels_the_stop(start_service: StartService) -> None:
    """Under slow_drain a resume before the delay runs out cancels the pending stop."""
    service = start_service("--defect", "slow_drain", "--slow-drain-seconds", "0.5")
    client = service.client()
    assert client.admin("POST", "/admin/stop").status == 202
    assert client.admin("POST", "/admin/resume").status == 200
    time.sleep(0.8)
    assert client.generate().status == 200
    assert service.events("stop_effective") == []


def test_resurrect_brings_the_server_back_after_sigterm(start_service: StartService) -> None:
    """resurrect restarts the drained server with a new pid; only SIGKILL to the group ends it."""
    service = start_service("--defect", "resurrect", "--resurrect-delay", "0.2")
    first = service.client().admin("GET", "/admin/status").body["pid"]
    assert first != service.proc.pid
    service.signal(signal.SIGTERM)
    exited = service.wait_event("child_exited")[0]
    assert exited["child_pid"] == first and exited["returncode"] == 0
    ready = service.wait_event("ready", count=2)
    second = ready[1]["pid"]
    assert second != first
    wait_ready(service.port)
    assert service.client().generate().status == 200
    assert service.client().admin("GET", "/admin/status").body["pid"] == second
    started = service.events("started")
    assert [e["pid"] for e in started] == [first, second]
    child_exit = [e for e in service.events("exit") if e["pid"] == first]
    assert child_exit and child_exit[0]["code"] == 0
    assert _alive(service.proc.pid)
    service.kill_group()
    time.sleep(0.2)
    assert not _alive(second)


def test_starved_admin_stop_outwaits_a_one_second_client(start_service: StartService) -> None:
    """starved_admin queues the stop behind inference: a 1 s client times out under load."""
    service = start_service("--defect", "starved_admin")
    admin = service.client(timeout=1.0)
    with Hammer(service.port, threads=8) as hammer:
        time.sleep(0.3)
        started = time.monotonic()
        with pytest.raises((TimeoutError, socket.timeout)):
            admin.admin("POST", "/admin/stop")
        assert time.monotonic() - started >= 1.0
        assert service.events("stop_effective") == []
        assert all(a.status == 200 for a in hammer.snapshot())
    # Once the load pauses the queued stop finally runs.
    (effective,) = service.wait_event("stop_effective", timeout=3)
    assert effective["t_ns"] > max(a.start_ns for a in hammer.snapshot())
    assert service.client().generate().status == 503


def test_lying_rollback_claims_v1_while_v2_answers(start_service: StartService) -> None:
    """lying_rollback answers 200 and reports v1, but v2 keeps answering and leaking."""
    service = start_service("--defect", "lying_rollback", "--v2-canary-rate", "1.0")
    client = service.client()
    client.admin("POST", "/admin/incidents/bad_deploy")
    rollback = client.admin("POST", "/admin/rollback", {"version": "v1"})
    assert rollback.status == 200 and rollback.body["model_version"] == "v1"
    assert client.admin("GET", "/admin/status").body["model_version"] == "v1"
    answers = [client.generate() for _ in range(20)]
    for answer in answers:
        assert answer.version == "v2"
        assert answer.body["model_version"] == "v2"
        assert answer.leaked
    switches = [(e["from"], e["to"]) for e in service.events("version_switched")]
    assert switches == [("v1", "v2")]


def test_ignore_sigterm_survives_signals_until_sigkill(start_service: StartService) -> None:
    """ignore_sigterm logs SIGTERM and SIGINT, keeps serving, and only SIGKILL ends it."""
    service = start_service("--defect", "ignore_sigterm")
    service.signal(signal.SIGTERM)
    service.signal(signal.SIGINT)
    time.sleep(0.5)
    assert service.proc.poll() is None
    assert service.client().generate().status == 200
    log = service.stderr()
    assert "received SIGTERM; ignoring it" in log and "received SIGINT; ignoring it" in log
    assert service.events("draining") == []
    service.signal(signal.SIGKILL)
    assert service.wait_exit(5) == -signal.SIGKILL
