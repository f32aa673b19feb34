"""The external sandbox's teardown evidence says what it saw, not what it assumes: a service
that stopped itself during the drill is not reported as "left running"."""

from __future__ import annotations

from http.server import BaseHTTPRequestHandler
from typing import Any

from harness.sandbox.external import ExternalSandbox
from harness.spec.models import ExternalSandboxSpec, ReadySpec
from tests.helpers import serving


class _Ready(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        """Quiet."""


def _sandbox(port: int) -> ExternalSandbox:
    return ExternalSandbox(
        spec=ExternalSandboxSpec(base_url=f"http://127.0.0.1:{port}"),
        ready=ReadySpec(path="/", timeout=10.0, interval=0.01),
        emit=lambda *a, **k: None,
    )


def test_teardown_of_a_service_that_ended_itself_does_not_say_it_runs() -> None:
    """The service went away after start (its own shutdown API, say): teardown says its port
    no longer accepts connections, and never that the harness left it running."""
    with serving(_Ready) as port:
        sandbox = _sandbox(port)
        sandbox.start()
    detail = sandbox.teardown().detail
    assert "left it running" not in detail
    assert "no longer accepts connections" in detail
    assert "never signalled or killed" in detail


def test_teardown_of_a_service_still_serving_says_so() -> None:
    """A service still listening at teardown is reported as still accepting connections."""
    with serving(_Ready) as port:
        sandbox = _sandbox(port)
        sandbox.start()
        detail = sandbox.teardown().detail
    assert "still accepts connections" in detail
