"""Command control paths run real processes: secrets arrive through the environment (never
argv) and are redacted from what the harness keeps, templates and ``cwd`` are filled, and a
timed-out command goes with everything it started."""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

from harness.control import CallOutcome, build_backend, build_hook
from harness.redact import SecretValues
from harness.sandbox.base import Endpoint
from harness.sandbox.fake import FakeSandbox
from harness.spec.models import Action, ControlPath, IncidentHook
from tests.helpers import wait_for

SECRET = "tok-9f8e7d6c5b4a-secret"
ENDPOINT = Endpoint("http://127.0.0.1:8123", "127.0.0.1", 8123, pid=4242)
REPORT = """\
import hashlib, json, os, sys
print("token is", os.environ["TOKEN"], file=sys.stderr)
json.dump({
    "argv": open("/proc/self/cmdline", "rb").read().decode().split("\\0"),
    "env_sha256": hashlib.sha256(os.environ["TOKEN"].encode()).hexdigest(),
    "base": os.environ["BASE"],
    "cwd": os.getcwd(),
}, open(sys.argv[1], "w"))
"""


def backend(path: dict[str, object], places: dict[str, str]) -> object:
    """The real backend of a command control path named ``deploy``."""
    return build_backend(
        "deploy",
        ControlPath.model_validate({"command": path}),
        endpoint=ENDPOINT,
        sandbox=FakeSandbox(),
        values=SecretValues({"admin_token": SECRET}),
        places=places,
    )


def test_secret_reaches_the_command_by_env_and_never_its_argv(tmp_path: Path) -> None:
    """The token is in the command's environment, not in /proc/<pid>/cmdline; its echo on
    stderr is redacted in the detail; ``{port}``, ``{base_url}``, ``{workdir}`` are filled."""
    script = tmp_path / "report.py"
    script.write_text(REPORT)
    workdir = tmp_path / "work"
    workdir.mkdir()
    deploy = backend(
        {
            "stop": ["{python}", str(script), "{workdir}/seen-{port}.json"],
            "env": {"TOKEN": "${admin_token}", "BASE": "{base_url}"},
            "cwd": "{workdir}",
        },
        {"workdir": str(workdir), "target_dir": str(tmp_path)},
    )
    result = deploy.call(Action.STOP).result()  # type: ignore[attr-defined]
    assert result.outcome is CallOutcome.ACKED, result.detail
    assert SECRET not in result.detail and "[REDACTED:admin_token]" in result.detail
    seen = json.loads((workdir / "seen-8123.json").read_text())
    assert not any(SECRET in arg for arg in seen["argv"]), seen["argv"]
    assert seen["env_sha256"] == hashlib.sha256(SECRET.encode()).hexdigest()
    assert seen["base"] == "http://127.0.0.1:8123"
    assert seen["cwd"] == str(workdir)


def test_incident_runs_its_command_with_params_through_the_path(tmp_path: Path) -> None:
    """A command incident's enable and disable run with the path's env; ``params`` (under
    the drill's) fill ``{name}``."""
    release = tmp_path / "release"
    code = "import os, sys; open(os.environ['OUT'], 'w').write(sys.argv[1])"
    write = [sys.executable, "-c", code]
    deploy = backend({"stop": ["true"], "env": {"OUT": str(release)}}, {})
    hook = IncidentHook.model_validate(
        {
            "via": "deploy",
            "enable": [*write, "{version}"],
            "disable": [*write, "v1"],
            "params": {"version": "v2"},
        }
    )
    incident = build_hook("bad_release", hook, {"deploy": deploy})  # type: ignore[dict-item]
    assert incident.call(Action.INJECT).result().outcome is CallOutcome.ACKED
    assert release.read_text() == "v2"
    assert incident.call(Action.INJECT, {"version": "v3"}).result().outcome is CallOutcome.ACKED
    assert release.read_text() == "v3"
    assert incident.call(Action.CLEAR).result().outcome is CallOutcome.ACKED
    assert release.read_text() == "v1"


def test_timed_out_command_is_killed_with_its_process_group(tmp_path: Path) -> None:
    """A command that outlives its timeout is TIMED_OUT and nothing it started survives (a
    grandchild holding the output pipe used to outlive it, and its thread with it)."""
    pid_file = tmp_path / "child.pid"
    deploy = backend(
        {"stop": ["sh", "-c", f"sleep 60 & echo $! > {pid_file}; wait"], "timeout": "500ms"}, {}
    )
    result = deploy.call(Action.STOP).result()  # type: ignore[attr-defined]
    assert result.outcome is CallOutcome.TIMED_OUT
    child = int(pid_file.read_text())
    assert wait_for(lambda: not _alive(child), timeout_s=10), f"pid {child} outlived its command"


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie waiting to be reaped does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def test_output_tail_is_bounded(tmp_path: Path) -> None:
    """A command printing megabytes leaves a detail of a few hundred characters."""
    deploy = backend({"stop": [sys.executable, "-c", "print('x' * 5_000_000)"]}, {})
    result = deploy.call(Action.STOP).result()  # type: ignore[attr-defined]
    assert result.outcome is CallOutcome.ACKED
    assert len(result.detail) < 300
    assert os.environ.get("TOKEN") is None  # the harness's own environment is untouched
