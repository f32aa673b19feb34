"""With --log-control-calls every admin call that asks for a change is logged as a
control_call (path, action, who) when it arrives, before it acts; reads are not logged."""

from __future__ import annotations

import http.client
import json
from typing import Any

from tests.target.live_service import TOKEN, StartService


def _post(port: int, path: str, headers: dict[str, str]) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("POST", path, body=b"{}", headers={"Content-Type": "application/json",
                                                         **headers})  # fmt: skip
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def _calls(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in events if e["event"] == "control_call"]


def test_identity_is_the_operator_header_else_the_token_else_anonymous(
    start_service: StartService,
) -> None:
    """X-Operator names who acted; without it a valid token is token:admin; without a valid
    token the call is logged anonymous and unauthorized, and changes nothing."""
    service = start_service("--log-control-calls")
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    assert _post(service.port, "/admin/stop", {"X-Operator": "wrong"}) == 401
    assert _post(service.port, "/admin/stop", {}) == 401
    assert _post(service.port, "/admin/stop", {**bearer, "X-Operator": "bob"}) == 200
    assert _post(service.port, "/admin/resume", bearer) == 200
    assert _post(service.port, "/admin/incidents/latency", bearer) == 400  # logged, refused
    service.client().admin("GET", "/admin/status")
    calls = _calls(service.events())
    assert [(c["action"], c["by"], c["authorized"]) for c in calls] == [
        ("stop", "wrong", False),
        ("stop", "anonymous", False),
        ("stop", "bob", True),
        ("resume", "token:admin", True),
        ("incident_on", "token:admin", True),
    ]
    assert [c["path"] for c in calls][:2] == ["/admin/stop", "/admin/stop"]
    assert all(c["method"] == "POST" for c in calls)
    assert len(service.events("stop_effective")) == 1


def test_the_call_is_logged_before_its_effect(start_service: StartService) -> None:
    """The control_call line precedes the stop_effective it caused, in the file and in time."""
    service = start_service("--log-control-calls")
    assert _post(service.port, "/admin/stop", {"Authorization": f"Bearer {TOKEN}",
                                                "X-Operator": "carol"}) == 200  # fmt: skip
    events = service.events()
    names = [e["event"] for e in events]
    call, effect = events[names.index("control_call")], events[names.index("stop_effective")]
    assert names.index("control_call") < names.index("stop_effective")
    assert call["t_ns"] <= effect["t_ns"] and call["by"] == "carol"


def test_hostile_operator_header_is_cleaned_and_bounded(start_service: StartService) -> None:
    """An X-Operator with control characters and a huge name is kept printable, 64 chars."""
    service = start_service("--log-control-calls")
    name = "eve\x1b[31m" + "x" * 500
    _post(service.port, "/admin/stop", {"Authorization": f"Bearer {TOKEN}", "X-Operator": name})
    (call,) = _calls(service.events())
    assert call["by"] == ("eve[31m" + "x" * 500)[:64]
    json.dumps(call)


def test_without_the_flag_nothing_new_is_logged(start_service: StartService) -> None:
    """The event log stays a log of state changes unless --log-control-calls is given."""
    service = start_service()
    assert _post(service.port, "/admin/stop", {"Authorization": f"Bearer {TOKEN}"}) == 200
    assert [e["event"] for e in service.events()] == ["started", "ready", "stop_effective"]
