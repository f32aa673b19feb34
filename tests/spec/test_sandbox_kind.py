"""Sandbox kinds are one enum; a kind that is not built (``kubernetes``, say) is refused at load
time, with file:line:field and exit 2, instead of validating and then failing the run (exit 3)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from harness.errors import SpecError
from harness.sandbox_kind import SandboxKind
from harness.spec import load_drill

ROOT = Path(__file__).resolve().parents[2]
REFUSED = "unknown sandbox 'kubernetes' (choose one of: process, docker, compose, external)"


def _unknown_kind_target(tmp_path: Path) -> Path:
    """A copy of the reference target that also declares a ``kubernetes`` sandbox."""
    targets = tmp_path / "targets"
    shutil.copytree(ROOT / "targets" / "model-service", targets / "model-service")
    target = targets / "model-service" / "target.yaml"
    text = target.read_text().replace(
        "sandboxes:\n", 'sandboxes:\n  kubernetes: {url: "http://127.0.0.1:9"}\n', 1
    )
    target.write_text(text)
    return targets


def _unknown_kind_drill(tmp_path: Path) -> Path:
    """The shipped kill-switch drill, naming the kubernetes sandbox."""
    text = (ROOT / "drills" / "kill-switch-under-load.yaml").read_text()
    assert "\nsandbox: process\n" in text
    drill = tmp_path / "drill.yaml"
    drill.write_text(text.replace("\nsandbox: process\n", "\nsandbox: kubernetes\n"))
    return drill


def test_kinds_are_the_built_ones() -> None:
    """Only the sandboxes that exist are listed: process, docker, compose, external."""
    assert [str(k) for k in SandboxKind] == ["process", "docker", "compose", "external"]


def test_unknown_kind_in_drill_and_target_rejected_with_lines(tmp_path: Path) -> None:
    """A drill saying ``sandbox: kubernetes`` and a target declaring it are both refused, each
    at its own file:line and field, naming the value and the kinds that exist."""
    targets = _unknown_kind_target(tmp_path)
    drill = _unknown_kind_drill(tmp_path)
    with pytest.raises(SpecError) as info:
        load_drill(drill, targets_dirs=[targets])
    shown = [str(p) for p in info.value.problems]
    assert any(s.startswith(f"{drill}:7: sandbox:") and REFUSED in s for s in shown), shown
    target_file = targets / "model-service" / "target.yaml"
    assert any(
        s.startswith(f"{target_file}:") and "sandboxes.kubernetes" in s and REFUSED in s
        for s in shown
    ), shown


def test_cli_validate_and_run_exit_2_for_unknown_kind(tmp_path: Path) -> None:
    """``validate`` and ``run`` both exit 2 on a drill naming an unknown kind, and nothing is
    written."""
    targets = _unknown_kind_target(tmp_path)
    drill = _unknown_kind_drill(tmp_path)
    results = tmp_path / "results"
    for command in (
        ["validate", "--targets", str(targets), str(drill)],
        ["run", "--targets", str(targets), str(drill), "--results", str(results)],
    ):
        done = subprocess.run(
            [sys.executable, "-m", "harness", *command],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=120,
        )
        assert done.returncode == 2, (command, done.stdout, done.stderr)
        assert f"{drill}:7: sandbox: {REFUSED}" in done.stderr
        assert "Traceback" not in done.stderr
    assert not results.exists()


def test_cli_sandbox_option_offers_external_and_refuses_unknown() -> None:
    """``run --sandbox external`` is a choice the CLI offers; an unknown kind is a usage
    error (exit 2)."""
    offered = subprocess.run(
        [sys.executable, "-m", "harness", "run", "--help"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert "external" in offered.stdout
    done = subprocess.run(
        [sys.executable, "-m", "harness", "run", "--sandbox", "kubernetes", "x.yaml"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert done.returncode == 2
    assert "invalid choice: 'kubernetes'" in done.stderr
