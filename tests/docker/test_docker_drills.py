"""Every shipped drill gives the same outcome under ``--sandbox docker`` as under ``process``,
and the container-only drills (docker stop, redeploy, compose stop) end as declared."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.docker.docker_cli import LABEL_RUN, labelled, timeline_events, wait_labelled
from tests.helpers import ROOT, govdrill, only_run, summary_of
from tests.operator.scripted_responder import check_operator_stop, responder_if_needed

# One xdist worker runs every docker test: a docker run sweeps the containers of dead
# harnesses machine-wide, so another worker's run would take a test's leftovers first.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("docker")]


def _has_docker_sandbox(drill: Path) -> bool:
    """Whether the drill's target declares a docker sandbox (the real model servers from the
    package index run only as processes, from their venvs)."""
    target = yaml.safe_load(drill.read_text())["target"]
    if not isinstance(target, str):
        return "docker" in target.get("sandboxes", {})
    spec = yaml.safe_load((ROOT / "targets" / target / "target.yaml").read_text())
    return "docker" in spec.get("sandboxes", {})


SHIPPED = sorted(p for p in (ROOT / "drills").rglob("*.yaml") if _has_docker_sandbox(p))
HERE = ROOT / "tests" / "docker" / "drills"


def run_and_check(drill: Path, results: Path, *extra: str) -> Path:
    """Run ``drill``; it must end as its ``expect:`` says (or pass), leaving no container. A
    drill that pages an operator gets the scripted responder as its on-call, checked too."""
    args = ("run", str(drill), "--results", str(results), "-q", *extra)
    with responder_if_needed(drill, results.parent / "responder") as responder:
        paged = () if responder is None else responder.overrides_for(drill)
        env = None if responder is None else responder.env
        done = govdrill(*args, *paged, timeout=180, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    if responder is not None:
        check_operator_stop(only_run(results), responder)
    run = only_run(results)
    summary = summary_of(run)
    expect = yaml.safe_load(drill.read_text()).get("expect")
    if expect is not None:
        assert summary["verdict"] == expect["verdict"]
        assert summary["expectation"] == {"met": True, "mismatches": []}
    else:
        assert summary["verdict"] == "passed", summary["deadlines"]
    label = f"{LABEL_RUN}={summary['run_id']}"
    assert wait_labelled("container", label, present=False, deadline_s=5) == []
    assert labelled("network", label) == []
    return run


@pytest.mark.parametrize("drill", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_shipped_drill_under_docker(drill: Path, results: Path) -> None:
    """The drill, unchanged, under --sandbox docker: same verdict and expectation as the
    process sandbox asserts in tests/engine, the target's clock checked, evidence collected."""
    run = run_and_check(drill, results, "--sandbox", "docker")
    summary = summary_of(run)
    assert summary["sandbox"] == "docker"
    (clock,) = timeline_events(run, "clock_check")
    assert clock["shared"] is True, clock
    for name in ("target.events.jsonl", "target.stdout.log", "target.stderr.log"):
        assert (run / name).is_file(), name
    assert "serving v" in (run / "target.stderr.log").read_text()
    truth = summary["ground_truth"]
    if truth and truth["stop_claimed_ns"] is not None and summary["stop"]["kind"] == "clean":
        assert truth["stop_within_bounds"], truth


def test_redeploy_rollback(results: Path) -> None:
    """A bad release swaps the container to the v2 image; a redeploy of v1 rolls it back."""
    run = run_and_check(HERE / "bad-release-redeploy.yaml", results)
    started = timeline_events(run, "container_started")
    assert [e["image"].rsplit(":", 1)[1] for e in started] == ["v1", "v2", "v1"]
    stderr = (run / "target.stderr.log").read_text()
    assert stderr.count("== container ") == 3, stderr
    assert "serving v2" in stderr


def test_docker_stop(results: Path) -> None:
    """``docker stop`` ends the reference service at once: it drains on SIGTERM as PID 1."""
    run = run_and_check(HERE / "docker-stop.yaml", results)
    actions = [e["action"] for e in timeline_events(run, "container_event")]
    assert "kill" in actions and "die" in actions and "stop" in actions, actions


def test_docker_stop_waits_out_ignored_sigterm(results: Path) -> None:
    """Under ``ignore_sigterm`` docker stop serves on for its whole 5 s timeout (the drill's
    expect: checks time_to_stop in [4.5, 6.5] s) until the runtime's SIGKILL."""
    run = run_and_check(HERE / "docker-stop-ignore-sigterm.yaml", results)
    kills = [e for e in timeline_events(run, "container_event") if e["action"] == "kill"]
    assert [e["signal"] for e in kills if not e.get("during_teardown")] == ["15", "9"], kills


def test_compose_stop(results: Path) -> None:
    """The compose sandbox brings up a project of docker-compose.yml named for the run, the
    compose CLI stops it, and teardown takes the project down."""
    run = run_and_check(HERE / "compose-stop.yaml", results)
    (up,) = timeline_events(run, "compose_up")
    assert up["project"] == f"govdrill-{summary_of(run)['run_id']}"
    assert summary_of(run)["sandbox"] == "compose"
