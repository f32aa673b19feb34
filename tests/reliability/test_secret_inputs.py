"""Where and how a ``${NAME}`` resolves: validation refuses it where it would not, and the
run's resolution strips trailing newlines and refuses values it cannot hide or send."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from harness.errors import EXIT_BAD_INPUT, SpecError
from harness.secrets import RunSecrets, resolve_secrets
from harness.spec import load_drill
from tests.helpers import govdrill

SECRET = 'sec-"ret\\ 8a7f6e5d'
TEMPLATE = """\
drill: refs
description: DESCRIPTION
target:
  target: refs
  secrets:
    admin_token: {env: REFS_ADMIN_TOKEN}
    file_token: {file: token.txt, generate: true}
  sandboxes:
    process:
      command: ["{python}", serve.py, COMMAND_ARG]
      env: {TARGET_TOKEN: "${admin_token}"}
  control_paths:
    admin_api:
      http:
        headers: {Authorization: "Bearer ${admin_token}"}
        stop: {path: STOP_PATH, headers: {X-Call: CALL_HEADER}}
    run_stop:
      command: {stop: ["{python}", "-c", "pass", RUN_ARG], env: {RUN_TOKEN: "${admin_token}"}}
target_args: [TARGET_ARG]
load:
  users: 1
  request: {path: /v1/generate, headers: {X-Api-Key: "${REFS_LOAD_KEY}"}}
steps:
  - at: 1s
    stop: [admin_api]
"""
FIELDS = {
    "DESCRIPTION": ("description", 2),
    "COMMAND_ARG": ("target.sandboxes.process.command[2]", 10),
    "STOP_PATH": ("target.control_paths.admin_api.http.stop.path", 16),
    "CALL_HEADER": ("target.control_paths.admin_api.http.stop.headers.X-Call", 16),
    "TARGET_ARG": ("target_args[0]", 19),
    "RUN_ARG": ("target.control_paths.run_stop.command.stop[3]", 18),
}
ARGV = {"COMMAND_ARG", "TARGET_ARG", "RUN_ARG"}
"""The placeholders in an argv: a secret there is refused as one that must go to env."""


def drill_file(tmp_path: Path, **fill: str) -> Path:
    """The template with each placeholder filled (a harmless value unless given)."""
    text = TEMPLATE
    for key in FIELDS:
        text = text.replace(key, fill.get(key, "/plain" if key == "STOP_PATH" else "plain"))
    path = tmp_path / "drill.yaml"
    path.write_text(text)
    return path


def test_every_resolving_field_validates(tmp_path: Path) -> None:
    """Headers, a command path's env, the process env and load headers may hold ``${NAME}``."""
    done = govdrill("validate", str(drill_file(tmp_path)))
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("placeholder", sorted(FIELDS))
def test_reference_where_it_is_not_resolved_is_refused(tmp_path: Path, placeholder: str) -> None:
    """Issue 12.7: ``${NAME}`` in a field that never resolves it fails with file:line: field,
    exit 2; in any argv (the target's, a command path's: issue 14) it says secrets go to env."""
    value = '"/${admin_token}"' if placeholder == "STOP_PATH" else '"${admin_token}"'
    path = drill_file(tmp_path, **{placeholder: value})
    done = govdrill("validate", str(path))
    field, line = FIELDS[placeholder]
    assert done.returncode == EXIT_BAD_INPUT, done.stdout
    if placeholder in ARGV:
        assert f"{path}:{line}: {field}: secrets go to env, never argv: {field}" in done.stderr
    else:
        message = "${admin_token} is not resolved in this field"
        assert f"{path}:{line}: {field}: {message}" in done.stderr


def test_override_cannot_smuggle_a_reference(tmp_path: Path) -> None:
    """``--set`` is checked like the file: a reference in the request path is refused."""
    done = govdrill(
        "validate", str(drill_file(tmp_path)), "--set", "load.request.path=/${admin_token}"
    )
    assert done.returncode == EXIT_BAD_INPUT
    assert "load.request.path: ${admin_token} is not resolved" in done.stderr


def resolve(tmp_path: Path, env: dict[str, str]) -> RunSecrets:
    """Load the template drill and resolve its secrets against ``env``."""
    return resolve_secrets(load_drill(drill_file(tmp_path)), {**os.environ, **env})


def test_trailing_newline_is_stripped_from_env_and_file(tmp_path: Path) -> None:
    """Issue 12.6: one trailing newline goes, as from a file written by ``echo``."""
    (tmp_path / "token.txt").write_text(SECRET + "-file\r\n")
    secrets = resolve(
        tmp_path, {"REFS_ADMIN_TOKEN": SECRET + "\n", "REFS_LOAD_KEY": SECRET + "-load\n"}
    )
    assert secrets.values["admin_token"] == SECRET
    assert secrets.values["file_token"] == SECRET + "-file"
    assert secrets.values["REFS_LOAD_KEY"] == SECRET + "-load"
    assert secrets.files == {"admin_token": SECRET, "file_token": SECRET + "-file"}


def test_undeclared_env_value_is_a_secret(tmp_path: Path) -> None:
    """Issue 12.6: a header value from ``${ENV}`` that is not declared is redacted too."""
    secrets = resolve(tmp_path, {"REFS_ADMIN_TOKEN": SECRET, "REFS_LOAD_KEY": "key-0123456789"})
    clean = secrets.redactor.redact("X-Api-Key: key-0123456789")
    assert clean == "X-Api-Key: [REDACTED:REFS_LOAD_KEY]"


def test_missing_file_falls_back_to_generate(tmp_path: Path) -> None:
    """A declared file that does not exist is skipped for ``generate: true``."""
    secrets = resolve(tmp_path, {"REFS_ADMIN_TOKEN": SECRET, "REFS_LOAD_KEY": SECRET})
    assert len(secrets.files["file_token"]) >= 32


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"REFS_ADMIN_TOKEN": "pw-7x\n"}, "${admin_token} is 5 characters long"),
        ({"REFS_LOAD_KEY": "two\nlines-of-key"}, "${REFS_LOAD_KEY} holds a line break"),
        ({"REFS_ADMIN_TOKEN": ""}, "$REFS_ADMIN_TOKEN is not set"),
    ],
)
def test_unusable_value_is_refused_without_quoting_it(
    tmp_path: Path, env: dict[str, str], message: str
) -> None:
    """Too short, a line break inside a header value, or unset: exit 2, the value unsaid."""
    with pytest.raises(SpecError) as caught:
        resolve(tmp_path, {"REFS_ADMIN_TOKEN": SECRET, "REFS_LOAD_KEY": SECRET, **env})
    assert caught.value.exit_code == EXIT_BAD_INPUT
    assert message in str(caught.value)
    for value in env.values():
        if value:
            assert value.strip() not in str(caught.value)


def test_run_refuses_before_writing_anything(tmp_path: Path) -> None:
    """A run whose secret is too short exits 2 and leaves results/ empty."""
    results = tmp_path / "results"
    env = {**os.environ, "REFS_ADMIN_TOKEN": "short", "REFS_LOAD_KEY": SECRET}
    done = govdrill("run", str(drill_file(tmp_path)), "--results", str(results), "-q", env=env)
    assert done.returncode == EXIT_BAD_INPUT, done.stdout + done.stderr
    assert "target.secrets.admin_token: ${admin_token} is 5 characters long" in done.stderr
    assert not results.exists() or not any(results.rglob("*"))


def test_secret_file_is_read_relative_to_the_target(tmp_path: Path) -> None:
    """``file:`` is relative to the target's folder (an inline target: the drill's)."""
    (tmp_path / "token.txt").write_text(SECRET)
    secrets = resolve(tmp_path, {"REFS_ADMIN_TOKEN": SECRET, "REFS_LOAD_KEY": SECRET})
    assert secrets.files["file_token"] == SECRET
