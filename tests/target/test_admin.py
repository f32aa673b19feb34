"""The admin control plane: kill switch, resume, rollback, status and authentication."""

from __future__ import annotations

import time
from pathlib import Path

from tests.target.live_service import (
    TOKEN,
    Hammer,
    StartService,
    assert_instant_between,
    run_service_command,
)


def test_stop_refuses_inference_and_resume_restores_it(start_service: StartService) -> None:
    """After /admin/stop every inference answer is 503 stopped; /admin/resume serves again."""
    service = start_service()
    client = service.client()
    assert client.admin("POST", "/admin/incidents/harmful_output", {"rate": 1.0}).status == 200
    assert client.generate().leaked
    stop = client.admin("POST", "/admin/stop", {"reason": "drill"})
    assert stop.status == 200 and stop.body["state"] == "stopped"
    answers = [client.generate() for _ in range(30)]
    chat = client.call("POST", "/v1/chat/completions", {"messages": [{"content": "x"}]})
    for answer in [*answers, chat]:
        assert answer.status == 503
        assert answer.body == {"error": "stopped", "reason": "drill"}
        assert not answer.leaked
        assert answer.headers["x-model-version"] == "v1"
    assert client.call("GET", "/readyz").status == 503
    assert client.call("GET", "/healthz").status == 200
    assert client.admin("GET", "/admin/status").body["state"] == "stopped"
    assert client.admin("POST", "/admin/resume").status == 200
    assert client.generate().status == 200
    assert client.call("GET", "/readyz").status == 200
    assert [e["event"] for e in service.events()][2:] == [
        "incident_on",
        "stop_effective",
        "resumed",
    ]


def test_repeated_stop_and_resume_log_only_real_changes(start_service: StartService) -> None:
    """A second stop or resume answers 200 with changed false and writes no event."""
    service = start_service()
    client = service.client()
    assert client.admin("POST", "/admin/stop").body["changed"] is True
    assert client.admin("POST", "/admin/stop").body["changed"] is False
    assert client.admin("POST", "/admin/resume").body["changed"] is True
    assert client.admin("POST", "/admin/resume").body["changed"] is False
    assert len(service.events("stop_effective")) == 1
    assert len(service.events("resumed")) == 1


def test_bad_token_changes_nothing(start_service: StartService) -> None:
    """A missing or wrong bearer token gets 401 and neither stops nor rolls back anything."""
    service = start_service("--model-version", "v2")
    client = service.client()
    for token in (None, "wrong-token", TOKEN + "x", ""):
        for method, path, body in [
            ("POST", "/admin/stop", None),
            ("POST", "/admin/rollback", {"version": "v1"}),
            ("POST", "/admin/incidents/harmful_output", {"rate": 1.0}),
            ("GET", "/admin/status", None),
        ]:
            answer = client.call(method, path, body, token=token)
            assert answer.status == 401, (token, path)
            assert answer.body["error"] == "unauthorized"
    answer = client.generate()
    assert answer.status == 200 and answer.headers["x-model-version"] == "v2"
    assert [e["event"] for e in service.events()] == ["started", "ready"]


def test_status_reports_state_version_incidents_defects_pid(start_service: StartService) -> None:
    """GET /admin/status reports the state, version, active incidents, defects and pid."""
    service = start_service()
    client = service.client()
    client.admin("POST", "/admin/incidents/latency", {"ms": 1})
    status = client.admin("GET", "/admin/status").body
    assert status["state"] == "serving"
    assert status["model_version"] == "v1"
    assert status["incidents"] == {"latency": {"ms": 1.0, "jitter_ms": 0.0}}
    assert status["defects"] == []
    assert status["pid"] == service.proc.pid


def test_rollback_switches_the_serving_model(start_service: StartService) -> None:
    """/admin/rollback switches the model that answers; an unknown version gets 400."""
    service = start_service("--model-version", "v2", "--v2-canary-rate", "1.0")
    client = service.client()
    assert client.generate().leaked
    bad = client.admin("POST", "/admin/rollback", {"version": "v9"})
    assert bad.status == 400
    assert client.admin("POST", "/admin/rollback", {}).status == 400
    answer = client.admin("POST", "/admin/rollback", {"version": "v1"})
    assert answer.status == 200 and answer.body["model_version"] == "v1"
    for _ in range(30):
        served = client.generate()
        assert served.headers["x-model-version"] == "v1" and not served.leaked
    assert client.admin("GET", "/admin/status").body["model_version"] == "v1"
    (switch,) = service.events("version_switched")
    assert switch["from"] == "v2" and switch["to"] == "v1"


def test_token_from_environment(start_service: StartService) -> None:
    """Without --token-file the token comes from MODEL_SERVICE_ADMIN_TOKEN."""
    service = start_service(token_file=False, env={"MODEL_SERVICE_ADMIN_TOKEN": "env-token"})
    client = service.client()
    assert client.admin("GET", "/admin/status", token="env-token").status == 200
    assert client.admin("GET", "/admin/status", token=TOKEN).status == 401


def test_separate_admin_port(start_service: StartService, tmp_path: Path) -> None:
    """With --admin-port 0 the service binds the admin port itself and reports it; /admin
    lives only on that port and inference only on the main one."""
    admin_port_file = tmp_path / "admin-port"
    service = start_service("--admin-port", "0", "--admin-port-file", str(admin_port_file))
    # Written before the main port file, which start_service already waited for.
    service.admin_port = int(admin_port_file.read_text())
    assert service.admin_port not in (0, service.port)
    (ready,) = service.events("ready")
    assert ready["admin_port"] == service.admin_port
    main, admin = service.client(), service.client(admin=True)
    assert main.admin("GET", "/admin/status").status == 404
    assert admin.generate().status == 404
    assert admin.admin("POST", "/admin/stop").status == 200
    assert main.generate().status == 503


def test_admin_port_file_needs_admin_port() -> None:
    """--admin-port-file without --admin-port is a usage error (exit 2), not a silent no-op."""
    done = run_service_command(["--port", "0", "--admin-port-file", "/nonexistent/admin-port"])
    assert done.returncode == 2
    assert "--admin-port-file needs --admin-port" in done.stderr


def test_stop_and_resume_instants_bound_the_observed_flip(start_service: StartService) -> None:
    """stop_effective and resumed fall between the last old and first new answers under load."""
    service = start_service()
    control = service.client()
    with Hammer(service.port, threads=4) as hammer:
        time.sleep(0.2)
        control.admin("POST", "/admin/stop")
        hammer.wait_for(lambda a: a.status == 503)
        time.sleep(0.2)
        stopped_answers = hammer.snapshot()
        control.admin("POST", "/admin/resume")
        time.sleep(0.3)
    t_stop = service.events("stop_effective")[0]["t_ns"]
    t_resume = service.events("resumed")[0]["t_ns"]
    assert_instant_between(
        stopped_answers, t_stop, lambda a: a.status == 200, lambda a: a.status == 503
    )
    after_stop = [a for a in hammer.snapshot() if a.start_ns > t_stop]
    assert_instant_between(
        after_stop, t_resume, lambda a: a.status == 503, lambda a: a.status == 200
    )
    assert not hammer.failures


def test_rollback_instant_bounds_the_observed_version_change(start_service: StartService) -> None:
    """version_switched falls between the last v2 answer's start and the first v1 answer's end."""
    service = start_service("--model-version", "v2")
    control = service.client()
    with Hammer(service.port, threads=4) as hammer:
        time.sleep(0.2)
        control.admin("POST", "/admin/rollback", {"version": "v1"})
        hammer.wait_for(lambda a: a.version == "v1")
        time.sleep(0.2)
    (switch,) = service.events("version_switched")
    assert_instant_between(
        hammer.snapshot(), switch["t_ns"], lambda a: a.version == "v2", lambda a: a.version == "v1"
    )
