"""A container sandbox measures only the port the engine publishes for this run's container: a
compose file that publishes the service elsewhere ends the run in a clear error, exit 3."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import govdrill, only_run, summary_of

# One xdist worker runs every docker test: a docker run sweeps the containers of dead
# harnesses machine-wide, so another worker's run would take a test's leftovers first.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("docker")]

COMPOSE = """\
services:
  model-service:
    image: govdrill/model-service:v1
    command: [--token-file, /run/secrets/admin_token]
    ports:
      - "127.0.0.1::8000"   # any host port but the one the harness chose (GOVDRILL_PORT)
    user: "65534:65534"
    secrets: [admin_token]
secrets:
  admin_token:
    file: ${GOVDRILL_SECRETS_DIR}/admin_token
"""

DRILL = """\
drill: unpublished
target:
  target: elsewhere
  secrets: {admin_token: {generate: true}}
  sandboxes:
    compose: {file: compose.yml, service: model-service, port: 8000}
  ready: {path: /readyz, timeout: 20s, interval: 50ms}
  control_paths:
    sigterm: {signal: {signal: SIGTERM}}
sandbox: compose
load: {users: 2, request: {path: /v1/generate, json: {prompt: x}}}
steps:
  - at: 300ms
    stop: [sigterm]
hold: 500ms
deadlines: {stop: 2s}
"""


def test_compose_publishing_another_port_is_an_error(
    tmp_path: Path, drill_docker_images: dict[str, str]
) -> None:
    """The service answers, but not on the harness's port: the error says what the engine
    publishes instead, well before the readiness deadline, and nothing is measured."""
    (tmp_path / "compose.yml").write_text(COMPOSE)
    drill = tmp_path / "drill.yaml"
    drill.write_text(DRILL)
    results = tmp_path / "results"
    done = govdrill("run", str(drill), "--results", str(results), "-q", timeout=180)
    out = done.stdout + done.stderr
    assert done.returncode == 3, out
    assert "publishes 8000/tcp on 127.0.0.1:" in out and "where the harness would" in out, out
    summary = summary_of(only_run(results))
    assert summary["verdict"] == "error" and "publishes 8000/tcp" in summary["error"]
