"""Whole drills against a server that names its version only in the JSON body and whose
stopped state is a 404 with its own "not found" body: both are judged from the body."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.helpers import ROOT, govdrill, only_run, summary_of

pytestmark = pytest.mark.slow

DRILLS = ROOT / "tests" / "target_format" / "drills"


def _run(name: str, results: Path, *overrides: str) -> tuple[Any, dict[str, Any]]:
    sets = [arg for o in overrides for arg in ("--set", o)]
    done = govdrill("run", str(DRILLS / f"{name}.yaml"), "--results", str(results), *sets)
    return done, summary_of(only_run(results))


def test_a_rollback_is_seen_through_a_version_in_the_body(results: Path) -> None:
    """``version: {json_path: $.model_version}``: the answers carry v2 then v1 in their
    body, so the rollback deadline is met (with only a header to read it never could be)."""
    done, summary = _run("rollback-by-body-version", results)
    assert done.returncode == 0, done.stdout + done.stderr
    assert summary["deadlines"]["rollback"]["verdict"] == "met"
    assert summary["rollback"]["kind"] != "no_version", summary["rollback"]


def test_the_targets_safe_state_by_body_sees_the_unload(results: Path) -> None:
    """The target's own safe state (404 with a "not found" error) is its drills' default:
    the unload's 404s are the stop, and the deadline is met."""
    done, summary = _run("stop-by-body", results)
    assert done.returncode == 0, done.stdout + done.stderr
    assert summary["deadlines"]["stop"]["verdict"] == "met"
    assert summary["rung_used"] == "admin"


def test_a_missing_route_404_is_not_the_safe_state(results: Path) -> None:
    """A stop that only tears the route down gives the framework's 404 {"detail": "Not
    Found"}: not the declared body, so no stop is observed (the drill fails as declared)."""
    done, summary = _run("stop-by-route-404", results)
    assert done.returncode == 0, done.stdout + done.stderr
    assert summary["deadlines"]["stop"]["verdict"] == "unverified"
    assert summary["rung_used"] is None


def test_the_same_404s_judged_by_status_alone_pass_as_a_stop(results: Path) -> None:
    """Control: a drill that replaces the target's safe state with the status alone counts
    those route 404s as stopped. The body rule is what tells them apart."""
    done, summary = _run("stop-by-route-404", results, "safe_state={statuses: [404]}")
    assert done.returncode == 1, done.stdout + done.stderr  # not failed as its expect says
    assert summary["deadlines"]["stop"]["verdict"] == "met"


def test_validate_takes_a_body_version_as_a_version_source() -> None:
    """``govdrill validate`` warns of a rollback deadline no answer can verify only when the
    target names no version source at all: a ``version: {json_path: ...}`` is one."""
    done = govdrill("validate", str(DRILLS / "rollback-by-body-version.yaml"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no version source" not in done.stderr, done.stderr
