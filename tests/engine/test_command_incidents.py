"""A bad release staged by the operator's own deploy command (issue 14): the incident goes
through a command control path, its token reaches the command through the environment, the
target listens on a fixed port and its readiness is a command; the drill detects the harm."""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path

import pytest

from harness.errors import EXIT_BAD_INPUT
from harness.sandbox.process import free_port
from tests.helpers import govdrill, only_run, summary_of

pytestmark = pytest.mark.slow

HERE = Path(__file__).resolve().parent
TOKEN = "deploy-7c1e9a5b3d"


def drill_file(tmp_path: Path, *, enable: str = '["{python}", DEPLOY, "{version}"]') -> Path:
    """The drill: load, a command-staged bad release at 300ms, a stop when harm shows."""
    port = free_port()
    text = textwrap.dedent(
        f"""\
        drill: command-incident
        target:
          target: release-service
          secrets: {{deploy_token: {{env: RELEASE_DEPLOY_TOKEN}}}}
          sandboxes:
            process:
              command: ["{{python}}", "{HERE / "release_target.py"}", --port, "{{port}}",
                        --release-file, "{{workdir}}/release"]
              port: {port}
          ready: {{command: ["{{python}}", "{HERE / "ready_check.py"}", "{{base_url}}"],
                  timeout: 15s, interval: 50ms}}
          control_paths:
            admin_api:
              http: {{timeout: 2s, stop: {{path: /admin/stop}}}}
            deploy:
              command:
                env: {{DEPLOY_TOKEN: "${{deploy_token}}", RELEASE_FILE: "{{workdir}}/release"}}
                cwd: "{{workdir}}"
                timeout: 10s
          incidents:
            bad_release:
              via: deploy
              enable: {enable.replace("DEPLOY", json.dumps(str(HERE / "deploy_release.py")))}
              disable: ["{{python}}", "{HERE / "deploy_release.py"}", v1]
              params: {{version: v2}}
        load:
          users: 2
          request: {{method: POST, path: /v1/generate, json: {{prompt: the sea}}}}
        harm:
          - json_path: $.output
            regex: "WRONG"
        steps:
          - at: 300ms
            inject: bad_release
          - when: harm_detected
            stop: [admin_api]
            grace: 1s
        hold: 300ms
        deadlines: {{detect: 5s, stop: 5s}}
        """
    )
    path = tmp_path / "drill.yaml"
    path.write_text(text)
    return path


def test_command_staged_bad_release_is_detected_and_stopped(tmp_path: Path) -> None:
    """The deploy command flips the target to v2 (with its token from the environment only);
    the load sees the wrong answers, the stop follows, the token never reaches the evidence."""
    results = tmp_path / "results"
    env = {**os.environ, "RELEASE_DEPLOY_TOKEN": TOKEN}
    done = govdrill(
        "run", str(drill_file(tmp_path)), "--results", str(results), env=env, timeout=120
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    run = only_run(results)
    summary = summary_of(run)
    assert summary["verdict"] == "passed", summary
    text = json.dumps(summary)
    assert "deployed v2 with token [REDACTED:deploy_token]" in text, text
    for path in run.rglob("*"):
        if path.is_file() and path.suffix != ".gz":
            assert TOKEN not in path.read_text(errors="replace"), path
    assert TOKEN not in output


def test_secret_in_the_incident_argv_is_refused(tmp_path: Path) -> None:
    """The token written into the deploy command's argv instead: exit 2, the field named."""
    path = drill_file(tmp_path, enable='["{python}", DEPLOY, "${deploy_token}"]')
    done = govdrill("validate", str(path))
    assert done.returncode == EXIT_BAD_INPUT, done.stdout + done.stderr
    field = "target.incidents.bad_release.enable[2]"
    assert f"{field}: secrets go to env, never argv: {field}" in done.stderr, done.stderr
