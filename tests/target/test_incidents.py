"""Incident hooks: each one switches on a real fault and clearing it undoes the fault."""

from __future__ import annotations

import os
import time
from pathlib import Path

from tests.target.live_service import Hammer, StartService, assert_instant_between


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def test_harmful_output_leaks_at_its_rate_until_cleared(start_service: StartService) -> None:
    """harmful_output makes v1 leak canaries; clearing it stops the leak at a logged instant."""
    service = start_service()
    control = service.client()
    with Hammer(service.port, threads=3) as hammer:
        time.sleep(0.1)
        assert control.admin("POST", "/admin/incidents/harmful_output", {}).status == 200
        hammer.wait_for(lambda a: a.leaked)
        time.sleep(0.1)
        assert control.admin("DELETE", "/admin/incidents/harmful_output").status == 200
        time.sleep(0.2)
    on, off = service.wait_event("incident_on")[0], service.wait_event("incident_off")[0]
    assert on["name"] == "harmful_output" and on["params"] == {"rate": 1.0}
    answers = hammer.snapshot()
    before_off = [a for a in answers if a.end_ns < off["t_ns"]]
    assert_instant_between(before_off, on["t_ns"], lambda a: not a.leaked, lambda a: a.leaked)
    after_on = [a for a in answers if a.start_ns > on["t_ns"]]
    assert_instant_between(after_on, off["t_ns"], lambda a: a.leaked, lambda a: not a.leaked)
    client = service.client()
    client.admin("POST", "/admin/incidents/harmful_output", {"rate": 0.5})
    leaks = sum(client.generate().leaked for _ in range(300))
    assert 90 < leaks < 210, leaks


def test_bad_deploy_serves_v2_and_clearing_returns_to_v1(start_service: StartService) -> None:
    """bad_deploy switches the serving model to v2; clearing it switches back to v1."""
    service = start_service("--v2-canary-rate", "1.0")
    client = service.client()
    assert client.admin("POST", "/admin/incidents/bad_deploy").status == 200
    answer = client.generate()
    assert answer.version == "v2" and answer.body["model_version"] == "v2" and answer.leaked
    assert client.admin("DELETE", "/admin/incidents/bad_deploy").status == 200
    answer = client.generate()
    assert answer.version == "v1" and not answer.leaked
    switches = [(e["from"], e["to"]) for e in service.events("version_switched")]
    assert switches == [("v1", "v2"), ("v2", "v1")]


def test_latency_delays_inference_until_cleared(start_service: StartService) -> None:
    """latency adds its delay to every inference answer, and clearing it removes it."""
    service = start_service()
    client = service.client()
    client.admin("POST", "/admin/incidents/latency", {"ms": 150, "jitter_ms": 10})
    slow = client.generate()
    assert 0.13 <= (slow.end_ns - slow.start_ns) / 1e9 < 1.0
    client.admin("DELETE", "/admin/incidents/latency")
    fast = client.generate()
    assert (fast.end_ns - fast.start_ns) / 1e9 < 0.1


def test_errors_answer_the_chosen_status_until_cleared(start_service: StartService) -> None:
    """errors answers inference with the configured status at its rate; clearing ends it."""
    service = start_service()
    client = service.client()
    client.admin("POST", "/admin/incidents/errors", {"rate": 1.0, "status": 502})
    answers = [client.generate() for _ in range(20)]
    assert all(a.status == 502 and a.body["error"] == "injected_error" for a in answers)
    client.admin("DELETE", "/admin/incidents/errors")
    assert client.generate().status == 200
    client.admin("POST", "/admin/incidents/errors", {})
    assert client.generate().status == 500


def test_hang_admin_blocks_the_control_plane_for_its_duration(start_service: StartService) -> None:
    """hang_admin makes admin calls block for its duration while inference still answers."""
    service = start_service()
    client = service.client()
    assert client.admin("POST", "/admin/incidents/hang_admin", {"seconds": 1.0}).status == 200
    assert client.generate().status == 200
    status = service.client().admin("GET", "/admin/status")
    waited = (status.end_ns - status.start_ns) / 1e9
    assert 0.7 < waited < 3.0, waited
    assert status.body["incidents"] == {}
    (off,) = service.events("incident_off")
    assert off["name"] == "hang_admin" and off["reason"] == "expired"


def test_cpu_burn_consumes_cpu_then_expires(start_service: StartService) -> None:
    """cpu_burn spins a thread that uses CPU until its seconds run out."""
    service = start_service()
    client = service.client()
    before = _cpu_seconds(service.proc.pid)
    client.admin("POST", "/admin/incidents/cpu_burn", {"threads": 1, "seconds": 0.8})
    assert client.admin("GET", "/admin/status").body["incidents"]["cpu_burn"]["threads"] == 1
    off = service.wait_event("incident_off")[0]
    assert off["name"] == "cpu_burn" and off["reason"] == "expired"
    used = _cpu_seconds(service.proc.pid) - before
    # An idle service uses about nothing; the bound leaves room for a busy machine.
    assert used > 0.12, used
    time.sleep(0.3)
    idle = _cpu_seconds(service.proc.pid)
    time.sleep(0.3)
    assert _cpu_seconds(service.proc.pid) - idle < 0.1


def test_memory_leak_grows_rss_up_to_its_ceiling(start_service: StartService) -> None:
    """memory_leak grows resident memory to max_mb and clearing it frees the memory."""
    service = start_service()
    client = service.client()
    start = _rss_mb(service.proc.pid)
    client.admin("POST", "/admin/incidents/memory_leak", {"mb_per_s": 200, "max_mb": 60})
    deadline = time.monotonic() + 3
    while _rss_mb(service.proc.pid) - start < 55 and time.monotonic() < deadline:
        time.sleep(0.05)
    grown = _rss_mb(service.proc.pid) - start
    assert 55 <= grown < 80, grown
    client.admin("DELETE", "/admin/incidents/memory_leak")
    time.sleep(0.3)
    assert _rss_mb(service.proc.pid) - start < 30


def test_unknown_incident_and_bad_params_are_rejected(start_service: StartService) -> None:
    """An unknown incident gets 404, bad parameters get 400, and nothing is switched on."""
    service = start_service()
    client = service.client()
    assert client.admin("POST", "/admin/incidents/meteor").status == 404
    assert client.admin("DELETE", "/admin/incidents/meteor").status == 404
    for name, params in [
        ("harmful_output", {"rate": 2}),
        ("latency", {}),
        ("errors", {"status": 200}),
        ("cpu_burn", {"threads": "two"}),
        ("memory_leak", {"mb": 1}),
    ]:
        answer = client.admin("POST", f"/admin/incidents/{name}", params)
        assert answer.status == 400, (name, answer.body)
    assert client.admin("GET", "/admin/status").body["incidents"] == {}
    assert service.events("incident_on") == []
    cleared = client.admin("DELETE", "/admin/incidents/latency")
    assert cleared.status == 200 and cleared.body["changed"] is False
