"""Process lifecycle: signals drain and exit, bad usage exits 2 without a traceback."""

from __future__ import annotations

import contextlib
import http.client
import signal
import threading
import time

import pytest

from tests.target.live_service import Answer, Client, StartService, run_service_command


def _in_flight_generate(service_port: int, results: list[Answer]) -> threading.Thread:
    def call() -> None:
        # A drain that times out cuts this request off; the test then sees no result.
        with contextlib.suppress(OSError, http.client.HTTPException):
            results.append(Client(service_port).generate())

    thread = threading.Thread(target=call, daemon=True)
    thread.start()
    return thread


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signal_drains_in_flight_and_exits_zero(start_service: StartService, signum: int) -> None:
    """SIGTERM/SIGINT close the gate at once, let in-flight requests finish, then exit 0."""
    service = start_service()
    control = service.client()
    control.admin("POST", "/admin/incidents/latency", {"ms": 700})
    probe = service.client()
    assert probe.call("GET", "/healthz").status == 200
    results: list[Answer] = []
    in_flight = _in_flight_generate(service.port, results)
    time.sleep(0.2)
    service.signal(signum)
    service.wait_event("draining")
    refused = probe.generate()
    assert refused.status == 503
    assert refused.body["error"] == "draining"
    assert refused.headers["connection"] == "close"
    assert service.client().call("GET", "/readyz").status == 503
    in_flight.join(5)
    assert results and results[0].status == 200
    assert service.wait_exit(5) == 0
    events = [e["event"] for e in service.events()]
    assert events[-2:] == ["draining", "exit"]
    assert service.events("exit")[0]["code"] == 0
    assert service.events("draining")[0]["signal"] == signal.Signals(signum).name
    with pytest.raises(OSError):
        service.client(timeout=1).call("GET", "/healthz")


def test_drain_timeout_exits_three(start_service: StartService) -> None:
    """When in-flight work outlasts --drain-timeout the process exits 3 anyway."""
    service = start_service("--drain-timeout", "0.3")
    service.client().admin("POST", "/admin/incidents/latency", {"ms": 3000})
    results: list[Answer] = []
    _in_flight_generate(service.port, results)
    time.sleep(0.2)
    started = time.monotonic()
    service.signal(signal.SIGTERM)
    assert service.wait_exit(5) == 3
    assert time.monotonic() - started < 2.0
    assert service.events("exit")[0]["code"] == 3


def test_bad_flags_exit_two_with_usage(start_service: StartService) -> None:
    """Unknown flags and bad values print usage and exit 2 without a traceback."""
    for args in (
        ["--bogus"],
        ["--port", "http"],
        ["--defect", "gremlins"],
        ["--v2-canary-rate", "1.5"],
        ["--model-version", "v7"],
    ):
        result = run_service_command(args)
        assert result.returncode == 2, args
        assert "usage:" in result.stderr
        assert "Traceback" not in result.stderr


def test_missing_token_exits_two_with_one_line(tmp_path: object) -> None:
    """Without a token file or environment token the service refuses to start (exit 2)."""
    import os

    env = {k: v for k, v in os.environ.items() if k != "MODEL_SERVICE_ADMIN_TOKEN"}
    result = run_service_command(["--port", "0"], env=env)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1
    assert "token" in result.stderr
    result = run_service_command(["--port", "0", "--token-file", "/nonexistent/token"], env=env)
    assert result.returncode == 2
    assert "/nonexistent/token" in result.stderr and "Traceback" not in result.stderr


def test_help_documents_every_flag_and_defect() -> None:
    """--help exits 0 and names every public flag and defect."""
    result = run_service_command(["--help"])
    assert result.returncode == 0
    for word in (
        "--host",
        "--port",
        "--port-file",
        "--admin-port",
        "--token-file",
        "--events",
        "--drain-timeout",
        "--model-version",
        "--v2-canary-rate",
        "--defect",
        "--slow-drain-seconds",
        "--resurrect-delay",
        "--starved-admin-delay-ms",
        "stop_theater",
        "slow_drain",
        "resurrect",
        "starved_admin",
        "lying_rollback",
        "ignore_sigterm",
        "Exit codes",
    ):
        assert word in result.stdout, word


def test_port_in_use_exits_four(start_service: StartService) -> None:
    """A second service on a port already taken exits 4 with a one-line error."""
    service = start_service()
    result = run_service_command(
        ["--port", str(service.port)], env={"MODEL_SERVICE_ADMIN_TOKEN": "x", "PATH": ""}
    )
    assert result.returncode == 4
    assert "cannot listen" in result.stderr and "Traceback" not in result.stderr
