"""The complaint channel: POST /v1/feedback answers 202 with an id, and then the service
rolls back by itself after N complaints, queues them for a human, or (complaint_black_hole)
changes nothing at all; the event log records each complaint and each rollback it caused."""

from __future__ import annotations

import pytest

from tests.target.live_service import TOKEN, Client, StartService, run_service_command


def _complain(client: Client, reason: str = "it leaked a secret") -> str:
    answer = client.call("POST", "/v1/feedback", {"reason": reason})
    assert answer.status == 202, answer.body
    assert answer.body["status"] == "received"
    complaint_id = answer.body["complaint_id"]
    assert isinstance(complaint_id, str) and complaint_id.startswith("c-")
    return complaint_id


def test_auto_rollback_after_the_nth_complaint(start_service: StartService) -> None:
    """With auto-rollback:3 the third complaint rolls v2 back to v1 before it is answered."""
    service = start_service(
        "--model-version", "v2", "--v2-canary-rate", "1.0", "--complaints", "auto-rollback:3"
    )
    client = service.client()
    _complain(client)
    _complain(client)
    assert client.generate().leaked and service.events("version_switched") == []
    third = client.call("POST", "/v1/feedback", {"reason": "still leaking"})
    assert third.status == 202
    (switched,) = service.events("version_switched")
    assert switched["from"] == "v2" and switched["to"] == "v1"
    assert switched["cause"] == "complaints:auto-rollback"
    assert third.start_ns <= switched["t_ns"] <= third.end_ns
    answers = [client.generate() for _ in range(20)]
    assert all(a.status == 200 and not a.leaked and a.version == "v1" for a in answers)
    assert len(service.events("complaint_received")) == 3
    (resolved,) = service.events("complaints_resolved")
    assert resolved["count"] == 3 and resolved["by"] == "auto-rollback"
    listed = client.admin("GET", "/admin/complaints").body
    assert listed["mode"] == "auto-rollback:3"
    assert [c["status"] for c in listed["complaints"]] == ["resolved"] * 3


def test_queue_waits_for_a_human_who_resolves_by_rolling_back(
    start_service: StartService,
) -> None:
    """In queue mode a complaint changes nothing until an operator resolves it through the
    admin API; the resolve is logged with who did it, then the rollback takes effect."""
    service = start_service(
        "--model-version", "v2", "--v2-canary-rate", "1.0", "--complaints", "queue",
        "--log-control-calls",
    )  # fmt: skip
    client = service.client()
    complaint_id = _complain(client)
    assert all(client.generate().leaked for _ in range(10))
    listed = client.admin("GET", "/admin/complaints").body
    assert listed["mode"] == "queue"
    (pending,) = listed["complaints"]
    assert pending["complaint_id"] == complaint_id and pending["status"] == "pending"
    assert pending["reason"] == "it leaked a secret"
    assert service.events("version_switched") == []

    path = f"/admin/complaints/{complaint_id}/resolve"
    client._conn.request(  # a call with the operator's name, as a runbook would make it
        "POST", path, body=b"", headers={"Authorization": f"Bearer {TOKEN}", "X-Operator": "alice"}
    )
    response = client._conn.getresponse()
    assert response.status == 200, response.read()
    response.read()
    events = service.events()
    names = [e["event"] for e in events]
    call = events[names.index("control_call")]
    switched = events[names.index("version_switched")]
    assert call["action"] == "resolve" and call["by"] == "alice" and call["path"] == path
    assert call["t_ns"] <= switched["t_ns"] and names.index("control_call") < names.index(
        "version_switched"
    )
    assert switched["cause"] == f"complaint:{complaint_id}"
    assert all(not client.generate().leaked for _ in range(10))
    assert client.admin("POST", path).status == 409
    assert client.admin("POST", "/admin/complaints/c-nope/resolve").status == 404
    assert client.call("POST", path).status == 401
    (resolved,) = service.events("complaints_resolved")
    assert resolved["by"] == "alice" and resolved["complaint_ids"] == [complaint_id]


def test_complaint_black_hole_accepts_and_changes_nothing(start_service: StartService) -> None:
    """complaint_black_hole answers 202 with an id to every complaint, even with
    auto-rollback:1, and nothing changes: no rollback, no queue, v2 keeps leaking."""
    service = start_service(
        "--model-version", "v2", "--v2-canary-rate", "1.0", "--complaints", "auto-rollback:1",
        "--defect", "complaint_black_hole",
    )  # fmt: skip
    client = service.client()
    ids = {_complain(client, f"complaint {n}") for n in range(5)}
    assert len(ids) == 5
    assert all(client.generate().leaked for _ in range(10))
    listed = client.admin("GET", "/admin/complaints").body
    assert listed == {"mode": "black_hole", "complaints": []}
    assert client.admin("POST", f"/admin/complaints/{ids.pop()}/resolve").status == 404
    assert service.events("version_switched") == []
    assert service.events("complaints_resolved") == []
    assert len(service.events("complaint_received")) == 5
    status = client.admin("GET", "/admin/status").body
    assert status["defects"] == ["complaint_black_hole"] and status["model_version"] == "v2"


def test_feedback_refuses_what_is_not_a_complaint(start_service: StartService) -> None:
    """The form is bounded: wrong method 405, a non-string reason 400, a huge body 413; a
    long reason is kept only in part, and the form works while the kill switch is on."""
    service = start_service()
    client = service.client()
    assert client.call("GET", "/v1/feedback").status == 405
    assert client.call("POST", "/v1/feedback", {"reason": 7}).status == 400
    assert client.call("POST", "/v1/feedback", raw=b"[1]").status == 400
    big = client.call("POST", "/v1/feedback", raw=b'{"reason": "' + b"x" * 20000 + b'"}')
    assert big.status == 413
    client = service.client()
    client.admin("POST", "/admin/stop")
    _complain(client, "y" * 5000)
    (received,) = service.events("complaint_received")
    assert received["reason"] == "y" * 200
    (kept,) = client.admin("GET", "/admin/complaints").body["complaints"]
    assert kept["reason"] == "y" * 500


@pytest.mark.parametrize("mode", ["auto-rollback", "auto-rollback:0", "queue:2", "later"])
def test_bad_complaints_mode_is_a_usage_error(mode: str) -> None:
    """A --complaints value that is not auto-rollback:N or queue exits 2 naming the choices."""
    done = run_service_command(["--complaints", mode])
    assert done.returncode == 2
    assert "--complaints" in done.stderr and "auto-rollback" in done.stderr
