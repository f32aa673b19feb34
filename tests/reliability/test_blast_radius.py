"""Blast radius: a drill reaches only this machine unless it says otherwise, and runs no
shell it did not declare."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from harness.errors import SpecError
from harness.spec import load_drill
from tests.helpers import govdrill, only_run, summary_of

REMOTE = """\
drill: remote
target:
  target: remote-service
  sandboxes: {process: {command: [x]}}
  control_paths:
    admin_api: {http: {base_url: "http://10.1.2.3:8080", stop: {path: /admin/stop}}}
steps:
  - at: 1s
    stop: [admin_api]
"""


def write(tmp_path: Path, text: str) -> Path:
    """A drill file in a fresh folder."""
    path = tmp_path / "drill.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def test_remote_control_path_needs_allow_remote(tmp_path: Path) -> None:
    """A control path beyond loopback is refused unless the drill sets allow_remote."""
    with pytest.raises(SpecError) as info:
        load_drill(write(tmp_path, REMOTE))
    (problem,) = info.value.problems
    assert "not loopback" in problem.message and "allow_remote" in problem.message
    assert load_drill(write(tmp_path, REMOTE + "allow_remote: true\n")).allow_remote
    for host in ("127.0.0.5", "localhost", "[::1]"):
        assert load_drill(write(tmp_path, REMOTE.replace("10.1.2.3", host)))


@pytest.mark.parametrize("host", ["10.1.2.3", "192.168.1.10", "8.8.8.8", "prod.example.com"])
def test_any_remote_host_is_refused(tmp_path: Path, host: str) -> None:
    """Private, public and named hosts are all beyond loopback."""
    with pytest.raises(SpecError, match="not loopback"):
        load_drill(write(tmp_path, REMOTE.replace("10.1.2.3", host)))


def test_shell_string_needs_shell_true(tmp_path: Path) -> None:
    """A command control path given as a string is refused unless it declares shell: true."""
    text = REMOTE.replace(
        'admin_api: {http: {base_url: "http://10.1.2.3:8080", stop: {path: /admin/stop}}}',
        'admin_api: {command: {stop: "kill $GOVDRILL_TARGET_PID"}}',
    )
    with pytest.raises(SpecError, match="shell"):
        load_drill(write(tmp_path, text))
    shell = text.replace(
        '"kill $GOVDRILL_TARGET_PID"}', '"kill $GOVDRILL_TARGET_PID", shell: true}'
    )
    assert load_drill(write(tmp_path, shell))


@pytest.mark.slow
def test_argv_is_not_a_shell(tmp_path: Path) -> None:
    """Shell syntax inside an argv control path stays literal: nothing else is run."""
    marker = tmp_path / "pwned"
    serve = Path(__file__).resolve().parents[2] / "targets" / "model-service" / "serve.py"
    text = f"""\
drill: argv-literal
target:
  target: literal
  sandboxes:
    process:
      command: ["{{python}}", "{serve}", --port, "0", --port-file, "{{workdir}}/port",
                --token-file, "{{secrets_dir}}/admin_token"]
      port_file: "{{workdir}}/port"
  secrets: {{admin_token: {{generate: true}}}}
  control_paths:
    echo: {{command: {{stop: [echo, "; touch {marker}", "$(touch {marker})"]}}}}
    sigterm: {{signal: {{signal: SIGTERM}}}}
load: {{users: 2, request: {{path: /v1/generate, json: {{prompt: x}}}}}}
steps:
  - at: 300ms
    stop: [echo, sigterm]
    grace: 300ms
hold: 300ms
"""
    done = govdrill("run", str(write(tmp_path, text)), "--results", str(tmp_path / "r"), "-q")
    assert done.returncode == 0, done.stdout + done.stderr
    rungs = summary_of(only_run(tmp_path / "r"))["rungs"]
    assert rungs[0]["name"] == "echo" and rungs[0]["outcome"] == "acked"
    assert f"; touch {marker}" in rungs[0]["detail"]
    assert not marker.exists()
