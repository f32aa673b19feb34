"""Drill values reach a command control path as data: quoted for a shell, never re-expanded,
and `govdrill validate` shows every command a drill may run."""

from __future__ import annotations

import shlex
import textwrap
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.cli import main
from harness.control import CallOutcome, CommandBackend, fill_command
from harness.sandbox.base import Endpoint
from harness.spec import Action
from harness.spec.models import CommandPath
from tests.helpers import govdrill, only_run, summary_of

ENDPOINT = Endpoint("http://127.0.0.1:9", "127.0.0.1", 9, pid=4242)


def command(tmp_path: Path, rollback: str | list[str], *, shell: bool) -> CommandBackend:
    """A command control path whose rollback is ``rollback``, with the secret in ``$ADMIN``."""
    spec = CommandPath.model_validate(
        {"rollback": rollback, "shell": shell, "timeout": "10s", "env": {"ADMIN": "${admin_token}"}}
    )
    return CommandBackend("deploy", spec, ENDPOINT, {"admin_token": "tok"}, time.monotonic_ns)


HOSTILE = [
    "v1; touch {marker}",
    "v1 && touch {marker}",
    "$(touch {marker})",
    "`touch {marker}`",
    "v1 | tee {marker}",
    "v1\ntouch {marker}",
    "'; touch {marker}; '",
    "v1 > {marker}",
]


@pytest.mark.parametrize("value", HOSTILE)
def test_shell_substitutions_are_quoted(tmp_path: Path, value: str) -> None:
    """A rollback target full of shell syntax arrives as one literal word; nothing else runs."""
    marker = tmp_path / "pwned"
    out = tmp_path / "out"
    backend = command(tmp_path, f"printf '%s\\n' {{to}} > {out}", shell=True)
    hostile = value.format(marker=marker)
    result = backend.call(Action.ROLLBACK, {"to": hostile}).result()
    assert result.outcome is CallOutcome.ACKED, result.detail
    assert not marker.exists()
    assert out.read_text() == hostile + "\n"


@pytest.mark.parametrize("shell", [True, False])
def test_drill_values_cannot_pull_in_the_environment(
    tmp_path: Path, shell: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``${NAME}`` inside a drill value stays literal: only the path's ``env`` is resolved."""
    monkeypatch.setenv("GOVDRILL_PROBE_SECRET", "leaked")
    out = tmp_path / "out"
    if shell:
        backend = command(tmp_path, f"printf '%s|%s\\n' {{to}} \"$ADMIN\" > {out}", shell=True)
    else:
        script = (
            "import os, sys;"
            ' open(sys.argv[1], "w").write(sys.argv[2] + "|" + os.environ["ADMIN"] + "\\n")'
        )
        backend = command(tmp_path, ["{python}", "-c", script, str(out), "{to}"], shell=False)
    for value in ("${GOVDRILL_PROBE_SECRET}", "{python}", "${admin_token}"):
        result = backend.call(Action.ROLLBACK, {"to": value}).result()
        assert result.outcome is CallOutcome.ACKED, result.detail
        assert out.read_text() == f"{value}|tok\n"


def test_params_cannot_replace_the_harness_placeholders(tmp_path: Path) -> None:
    """A step param named like a harness placeholder ({python}, {pid}) does not replace it."""
    out = tmp_path / "out"
    backend = command(tmp_path, f"echo {{pid}} > {out}", shell=True)
    marker = tmp_path / "pwned"
    result = backend.call(Action.ROLLBACK, {"to": "v1", "pid": f"1; touch {marker}"}).result()
    assert result.outcome is CallOutcome.ACKED, result.detail
    assert out.read_text() == "4242\n" and not marker.exists()


def drill_text(tmp_path: Path, rollback: str) -> str:
    """A short drill on the reference target with a shell rollback path."""
    serve = Path(__file__).resolve().parents[2] / "targets" / "model-service" / "serve.py"
    return textwrap.dedent(f"""\
        drill: shell-quoting
        target:
          target: quoting
          sandboxes:
            process:
              command: ["{{python}}", "{serve}", --port, "0", --port-file, "{{workdir}}/port",
                        --token-file, "{{secrets_dir}}/admin_token"]
              port_file: "{{workdir}}/port"
          secrets: {{admin_token: {{generate: true}}}}
          control_paths:
            deploy: {{command: {{rollback: {rollback!r}, shell: true}}}}
            sigterm: {{signal: {{signal: SIGTERM}}}}
        load: {{users: 2, request: {{path: /v1/generate, json: {{prompt: x}}}}}}
        steps:
          - at: 300ms
            stop: [sigterm]
            grace: 1s
          - after: stopped
            rollback: {{via: deploy, to: v1}}
        hold: 300ms
        """)


@pytest.mark.slow
def test_set_cannot_inject_into_a_shell_rollback(tmp_path: Path) -> None:
    """The reported attack: ``--set steps[1].rollback.to='v1; touch F'`` runs no command."""
    marker = tmp_path / "pwned"
    path = tmp_path / "drill.yaml"
    path.write_text(drill_text(tmp_path, "echo rolling back to {to}"))
    done = govdrill(
        "run", str(path), "--results", str(tmp_path / "r"), "-q",
        "--set", f"steps[1].rollback.to=v1; touch {marker}; $(touch {marker}2)",
    )  # fmt: skip
    assert not marker.exists() and not Path(f"{marker}2").exists(), done.stdout + done.stderr
    summary = summary_of(only_run(tmp_path / "r"))
    assert f"rolling back to v1; touch {marker}" in str(summary), summary


def test_validate_lists_every_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`govdrill validate` prints the start command and each command path the steps may run,
    with drill values filled (quoted) and run-time values left as placeholders."""
    path = tmp_path / "drill.yaml"
    path.write_text(drill_text(tmp_path, "deploy.sh {to} --pid {pid} --token-env TOKEN"))
    code = main(["validate", str(path), "--set", "steps[1].rollback.to=v1; id"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "start (argv):" in out and "--port-file" in out
    assert "rollback via deploy (shell): deploy.sh 'v1; id' --pid {pid} --token-env TOKEN" in out
    assert "any host" in out


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_any_value_is_one_shell_word(value: str) -> None:
    """Whatever a drill value holds, the shell reads it back as exactly one word, unchanged."""
    line = fill_command("deploy --to {to} --pid {pid}", {"to": value}, None, shell=True)
    assert isinstance(line, str)
    assert shlex.split(line) == ["deploy", "--to", value, "--pid", "{pid}"]
