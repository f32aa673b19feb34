"""Issue 14's target fields at validation: incidents through any control path kind, command
paths' env and cwd, secrets only via env, a fixed port, readiness by command; every mistake
is named with its file:line: field."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from harness.errors import SpecError
from harness.spec import load_target
from harness.spec.models import HttpCall, ProcessSandboxSpec

BASE = """\
target: fmt
sandboxes:
  process:
    command: ["{python}", serve.py, --port, "{port}"]
    env: {ADMIN_TOKEN: "${admin_token}"}
secrets:
  admin_token: {generate: true}
control_paths:
  admin_api:
    http:
      stop: {path: /admin/stop}
  deploy:
    command:
      stop: ["{target_dir}/deploy.sh", "off"]
      env: {TOKEN: "${admin_token}", BASE: "{base_url}"}
      cwd: "{target_dir}"
  shell_deploy:
    command:
      shell: true
      stop: "deploy.sh off"
  sigterm:
    signal: {signal: SIGTERM}
"""


def target_file(tmp_path: Path, extra: str) -> Path:
    """The base target with ``extra`` (YAML at the top level) appended."""
    path = tmp_path / "target.yaml"
    path.write_text(BASE + textwrap.dedent(extra))
    return path


def problems(path: Path) -> list[str]:
    """Every problem loading ``path`` reports, as ``file:line: field: message``."""
    with pytest.raises(SpecError) as caught:
        load_target(path)
    return [str(p) for p in caught.value.problems]


def test_incident_through_a_command_path_validates(tmp_path: Path) -> None:
    """``enable``/``disable`` are argv lists for a command path, a string for a shell one."""
    path = target_file(
        tmp_path,
        """\
        incidents:
          bad_release:
            via: deploy
            enable: ["{target_dir}/deploy.sh", "{version}"]
            disable: ["{target_dir}/deploy.sh", "v1"]
            params: {version: v2}
          shell_release:
            via: shell_deploy
            enable: "deploy.sh v2"
          http_one:
            via: admin_api
            enable: {path: /admin/harm}
        """,
    )
    target = load_target(path)
    assert target.incidents["bad_release"].enable == ["{target_dir}/deploy.sh", "{version}"]
    assert target.incidents["shell_release"].enable == "deploy.sh v2"
    assert isinstance(target.incidents["http_one"].enable, HttpCall)
    deploy = target.control_paths["deploy"].command
    assert deploy is not None and deploy.env["BASE"] == "{base_url}"


@pytest.mark.parametrize(
    ("incident", "line", "field", "message"),
    [
        (
            "via: admin_api\n    enable: [deploy.sh, v2]",
            26,
            "incidents.bad.enable",
            "via 'admin_api': an http path takes an HTTP call",
        ),
        (
            "via: deploy\n    enable: {path: /admin/harm}",
            26,
            "incidents.bad.enable",
            "via 'deploy': a command path runs an argv list",
        ),
        (
            "via: deploy\n    enable: deploy.sh v2",
            26,
            "incidents.bad.enable",
            "via 'deploy': a string is a shell command",
        ),
        (
            "via: sigterm\n    enable: [deploy.sh]",
            25,
            "incidents.bad.via",
            "'sigterm' is a signal control path",
        ),
        ("via: nowhere\n    enable: [deploy.sh]", 25, "incidents.bad.via", "not a control path"),
        ("via: deplyo\n    enable: [deploy.sh]", 25, "incidents.bad.via", "did you mean 'deploy'?"),
        ("via: deploy\n    redeploy: v2", 25, "incidents.bad.via", "'deploy' (command) cannot"),
    ],
)
def test_hook_not_fitting_its_path_is_named_at_its_line(
    tmp_path: Path, incident: str, line: int, field: str, message: str
) -> None:
    """An argv for an http path, an HTTP call or unshelled string for a command path, or a
    signal path as ``via``: refused at the line of the field to fix."""
    path = target_file(tmp_path, f"incidents:\n  bad:\n    {incident}\n")
    found = problems(path)
    assert any(p.startswith(f"{path}:{line}: {field}: ") and message in p for p in found), found


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        (
            'incidents:\n  i:\n    via: deploy\n    enable: [deploy.sh, "${admin_token}"]\n',
            "incidents.i.enable[1]",
        ),
        ('ready: {command: [check.sh, "${admin_token}"]}\n', "ready.command[1]"),
    ],
)
def test_secret_in_an_incident_or_ready_argv_is_refused(
    tmp_path: Path, extra: str, field: str
) -> None:
    """A ``${NAME}`` in any argv is refused: secrets go to env, never argv."""
    path = target_file(tmp_path, extra)
    found = problems(path)
    assert any(f": {field}: secrets go to env, never argv: {field}" in p for p in found), found


def test_secret_in_a_command_path_argv_is_refused(tmp_path: Path) -> None:
    """Issue 14: a command path's argv held ``${NAME}`` resolved into the harness's own
    command line (readable by every user in /proc); now validation refuses it."""
    path = tmp_path / "target.yaml"
    path.write_text(
        textwrap.dedent(
            """\
            target: leak
            secrets: {admin_token: {generate: true}}
            sandboxes: {process: {command: [serve]}}
            control_paths:
              deploy:
                command:
                  stop: ["{python}", deploy.py, "${admin_token}"]
            """
        )
    )
    found = problems(path)
    field = "control_paths.deploy.command.stop[2]"
    assert found == [f"{path}:7: {field}: secrets go to env, never argv: {field}"]


def test_ready_path_and_command_are_exclusive(tmp_path: Path) -> None:
    """Readiness is an HTTP path or a command, not both; a command alone drops the path."""
    both = target_file(tmp_path, "ready: {path: /readyz, command: [check.sh]}\n")
    assert any("give path (an HTTP check) or command, not both" in p for p in problems(both))
    only = target_file(tmp_path, 'ready: {command: ["{python}", check.py, "{base_url}"]}\n')
    ready = load_target(only).ready
    assert ready.path is None and ready.command == ["{python}", "check.py", "{base_url}"]


def test_fixed_port_and_port_file_are_exclusive() -> None:
    """``port`` (fixed) and ``port_file`` cannot both say where the target listens."""
    with pytest.raises(ValueError, match="give port"):
        ProcessSandboxSpec.model_validate({"command": ["x"], "port": 8080, "port_file": "p"})
    assert ProcessSandboxSpec.model_validate({"command": ["x"], "port": 8080}).port == 8080
