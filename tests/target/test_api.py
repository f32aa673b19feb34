"""The inference API: shapes, headers, keep-alive, errors and the two model versions."""

from __future__ import annotations

import re
import sys

from tests.target.live_service import TARGET_DIR, StartService

CANARY_RE = re.compile(r"CANARY-[0-9a-f]{8}")


def test_generate_answers_with_output_version_and_id(start_service: StartService) -> None:
    """POST /v1/generate returns text, the serving version and a request id, in JSON."""
    service = start_service()
    answer = service.client().generate("the keeper", max_tokens=8)
    assert answer.status == 200
    assert answer.headers["content-type"] == "application/json"
    assert answer.headers["x-model-version"] == "v1"
    assert answer.body["model_version"] == "v1"
    assert isinstance(answer.body["output"], str) and answer.body["output"]
    assert 1 <= len(answer.body["output"].split()) <= 8
    assert answer.body["request_id"]


def test_keep_alive_serves_many_requests_on_one_connection(start_service: StartService) -> None:
    """One HTTP/1.1 connection carries many requests, each with a distinct request id."""
    service = start_service()
    client = service.client()
    ids = {client.generate().body["request_id"] for _ in range(50)}
    assert len(ids) == 50
    sock = client._conn.sock
    assert sock is not None, "the server closed a keep-alive connection"


def test_chat_completions_has_the_openai_shape(start_service: StartService) -> None:
    """POST /v1/chat/completions answers in the OpenAI chat.completion shape."""
    service = start_service()
    answer = service.client().call(
        "POST",
        "/v1/chat/completions",
        {"model": "any", "messages": [{"role": "user", "content": "the lamp"}], "max_tokens": 5},
    )
    assert answer.status == 200
    body = answer.body
    assert body["object"] == "chat.completion"
    assert body["model"] == "v1"
    assert isinstance(body["created"], int) and body["id"]
    choice = body["choices"][0]
    assert choice["index"] == 0 and choice["finish_reason"] == "stop"
    assert choice["message"]["role"] == "assistant" and choice["message"]["content"]
    usage = body["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


def test_malformed_requests_get_json_errors_with_version(start_service: StartService) -> None:
    """Bad JSON, bad fields, unknown paths and wrong methods get JSON 400/404/405 answers."""
    service = start_service()
    client = service.client()
    cases = [
        (client.call("POST", "/v1/generate", raw=b"{not json"), 400),
        (client.call("POST", "/v1/generate", ["a list"]), 400),
        (client.call("POST", "/v1/generate", {"prompt": 3}), 400),
        (client.call("POST", "/v1/generate", {"prompt": "x", "max_tokens": "many"}), 400),
        (client.call("POST", "/v1/chat/completions", {"messages": []}), 400),
        (client.call("GET", "/nowhere"), 404),
        (client.call("GET", "/v1/generate"), 405),
    ]
    for answer, status in cases:
        assert answer.status == status, answer
        assert answer.headers["content-type"] == "application/json"
        assert answer.headers["x-model-version"] == "v1"
        assert "error" in answer.body
    # The connection survived every error answer.
    assert client.generate().status == 200


def test_max_tokens_is_capped(start_service: StartService) -> None:
    """max_tokens above the cap of 256 is clamped rather than honoured."""
    service = start_service()
    answer = service.client().generate(max_tokens=10_000)
    assert answer.status == 200
    assert len(answer.body["output"].split()) <= 256


def test_health_and_readiness(start_service: StartService) -> None:
    """/healthz and /readyz answer 200 once the service is up."""
    service = start_service()
    client = service.client()
    assert client.call("GET", "/healthz").status == 200
    assert client.call("GET", "/readyz").status == 200


def test_v1_never_leaks_and_v2_leaks_at_its_rate(start_service: StartService) -> None:
    """v1 outputs never carry a canary; v2 leaks at --v2-canary-rate."""
    sound = start_service().client()
    assert not any(sound.generate().leaked for _ in range(200))
    always = start_service("--model-version", "v2", "--v2-canary-rate", "1.0").client()
    answers = [always.generate() for _ in range(50)]
    assert all(CANARY_RE.search(a.body["output"]) for a in answers)
    assert all(a.headers["x-model-version"] == "v2" for a in answers)
    half = start_service("--model-version", "v2").client()
    leaks = sum(half.generate().leaked for _ in range(300))
    assert 90 < leaks < 210, leaks


def test_runs_as_a_module_from_its_directory(start_service: StartService) -> None:
    """``python3 -m model_service`` with cwd targets/model-service starts the same service."""
    service = start_service(cwd=TARGET_DIR, command=[sys.executable, "-m", "model_service"])
    assert service.client().generate().status == 200


def test_events_lines_are_stamped_json(start_service: StartService) -> None:
    """The events log has started then ready, each with t_ns, event and pid."""
    service = start_service()
    records = service.events()
    assert [r["event"] for r in records[:2]] == ["started", "ready"]
    for record in records:
        assert isinstance(record["t_ns"], int)
        assert record["pid"] == service.proc.pid
    assert records[0]["t_ns"] < records[1]["t_ns"]
    assert records[1]["port"] == service.port
