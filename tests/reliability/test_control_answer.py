"""An HTTP control call returns a structured answer (status, a few headers, a bounded and
redacted body, elapsed time, error), and the pre-rollback snapshot reads its fields instead of
splitting a ``"HTTP 200 {...}"`` string back apart; against a real, hostile HTTP server."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from harness.control import KEPT_HEADERS, MAX_HEADER_CHARS, CallOutcome, HttpAnswer, HttpBackend
from harness.evidence import snapshot_before_rollback
from harness.observations import ObservationLog
from harness.redact import SecretValues
from harness.sandbox.base import Endpoint
from harness.sandbox.process import free_port
from harness.spec.models import HttpCall, HttpPath
from harness.timeline import Timeline
from tests.helpers import serving

TOKEN = "tok-5f0e9c1d2b3a4f6e-9a8b7c6d5e4f3a2b"
"""The admin token: the hostile target echoes it wherever it can."""


@pytest.fixture
def hostile() -> Iterator[Endpoint]:
    """A server whose answers echo the token in a body, in headers it sends many and long
    of, and which can answer a megabyte, or an error status with HTTP-looking text."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/status":
                body = json.dumps({"state": "stopped", "echo": TOKEN}).encode()
                status = 200
            elif self.path == "/huge":
                body = b"x" * (1 << 20)
                status = 200
            else:
                body = b'HTTP 200 {"looks": "acked"}'
                status = 503
            self.send_response(status)
            self.send_header("Content-Type", "application/json; " + TOKEN + "=" * 500)
            self.send_header("Content-Length", str(len(body)))
            for i in range(50):
                self.send_header(f"X-Junk-{i}", TOKEN)
            self.send_header("Retry-After", "5")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            """Quiet."""

    with serving(Handler) as port:
        yield Endpoint(f"http://127.0.0.1:{port}", "127.0.0.1", port)


def _backend(endpoint: Endpoint) -> HttpBackend:
    spec = HttpPath(
        stop=HttpCall(method="GET", path="/stop"),
        status=HttpCall(method="GET", path="/status"),
        headers={"Authorization": "${admin_token}"},
    )
    values = SecretValues({"admin_token": TOKEN})
    return HttpBackend("admin_api", spec, endpoint, values, clock=_ticking_clock())


def _ticking_clock() -> Callable[[], int]:
    """A clock that moves 1 ms per reading, so elapsed time is known exactly."""
    now = [0]

    def clock() -> int:
        now[0] += 1_000_000
        return now[0]

    return clock


def test_answer_is_structured_bounded_and_redacted(hostile: Endpoint) -> None:
    """Status and outcome are fields; only the kept headers survive, bounded and redacted;
    the body is redacted and cut to ``keep_chars``; elapsed comes from the injected clock."""
    answer = _backend(hostile).request(HttpCall(method="GET", path="/status"), None)
    assert isinstance(answer, HttpAnswer)
    assert answer.status == 200 and answer.outcome is CallOutcome.ACKED and answer.error == ""
    names = [name for name, _ in answer.headers]
    assert set(names) <= set(KEPT_HEADERS) and "retry-after" in names
    assert all(len(value) <= MAX_HEADER_CHARS for _, value in answer.headers)
    assert TOKEN not in repr(answer)
    assert json.loads(answer.body)["echo"].startswith("[REDACTED")
    assert answer.elapsed_ns == 1_000_000
    assert answer.detail == f"HTTP 200 {answer.body}"


def test_huge_body_is_read_only_to_its_bound(hostile: Endpoint) -> None:
    """A megabyte answer is kept to ``keep_chars``."""
    answer = _backend(hostile).request(HttpCall(method="GET", path="/huge"), None, keep_chars=300)
    assert answer.status == 200 and len(answer.body) == 300


def test_error_status_is_a_failed_answer(hostile: Endpoint) -> None:
    """A 503 whose body itself reads ``HTTP 200 {...}`` is a failure with status 503."""
    answer = _backend(hostile).request(HttpCall(method="GET", path="/other"), None)
    assert answer.status == 503 and answer.outcome is CallOutcome.FAILED
    assert answer.body == 'HTTP 200 {"looks": "acked"}'


def test_no_answer_has_no_status_and_says_why() -> None:
    """A refused connection has no status, an empty body and the error as its detail."""
    port = free_port()
    endpoint = Endpoint(f"http://127.0.0.1:{port}", "127.0.0.1", port)
    answer = _backend(endpoint).request(HttpCall(method="GET", path="/status"), None)
    assert answer.status is None and answer.outcome is CallOutcome.FAILED
    assert answer.body == "" and answer.headers == ()
    assert "ConnectionRefusedError" in answer.error and answer.detail == answer.error


def test_snapshot_keeps_the_answer_fields(tmp_path: Path, hostile: Endpoint) -> None:
    """The snapshot's status.json takes status, headers, elapsed and the parsed body from the
    answer's fields, and an HTTP-looking error body stays text, not a parsed answer."""
    backend = _backend(hostile)
    timeline = Timeline(tmp_path / "timeline.jsonl", zero_ns=0)
    try:
        folder = snapshot_before_rollback(
            timeline=timeline,
            log=ObservationLog(),
            via="admin_api",
            status=lambda: backend.request(HttpCall(method="GET", path="/status"), None),
            timeout_s=30,
        )
        status = json.loads((folder / "status.json").read_text())
        assert status["outcome"] == "acked" and status["http_status"] == 200
        assert status["body"]["state"] == "stopped"
        assert status["headers"]["retry-after"] == "5" and status["elapsed_ms"] == 1.0
        assert TOKEN not in (folder / "status.json").read_text()

        folder = snapshot_before_rollback(
            timeline=timeline,
            log=ObservationLog(),
            via="admin_api",
            status=lambda: backend.request(HttpCall(method="GET", path="/other"), None),
            timeout_s=30,
        )
        status = json.loads((folder / "status.json").read_text())
        assert status["outcome"] == "failed" and status["http_status"] == 503
        assert "body" not in status
        assert status["body_text"] == 'HTTP 200 {"looks": "acked"}'
    finally:
        timeline.close()
