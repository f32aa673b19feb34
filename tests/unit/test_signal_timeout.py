"""A signal rung's timeout is the sandbox's delivery time: immediate for a process, an engine
API call for a container (CI saw `docker kill` answer after 1 s on a loaded host, and the
SIGKILL rung that stopped the target was recorded as timed out)."""

from __future__ import annotations

import time

from harness.control import build_backend
from harness.sandbox.compose import ComposeSandbox
from harness.sandbox.docker_sandbox import DockerSandbox
from harness.sandbox.fake import FakeSandbox
from harness.spec.models import ControlPath, SignalPath


def test_a_signal_rung_waits_as_long_as_its_sandbox_delivers() -> None:
    """Process sandboxes keep 1 s; docker and compose allow the engine 10 s."""
    sandbox = FakeSandbox()
    backend = build_backend(
        "sigkill",
        ControlPath(signal=SignalPath(signal="SIGKILL")),
        endpoint=sandbox.endpoint,
        sandbox=sandbox,
        values={},
        clock=time.monotonic_ns,
    )
    assert backend.timeout_s == sandbox.signal_timeout_s == 1.0
    assert DockerSandbox.signal_timeout_s >= 5.0 and ComposeSandbox.signal_timeout_s >= 5.0
