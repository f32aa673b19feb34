"""A proxy incident needs only a base URL: it runs against an external service the harness
never started (and is switched off by teardown's restore), and in the compose sandbox."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.external.conftest import Service, external_service, write_files
from tests.helpers import ROOT, govdrill, only_run, summary_of

__all__ = ["external_service"]  # the fixture, shared with tests/external

pytestmark = pytest.mark.slow

OUTSIDE = """\
incidents:
  outside_leak:
    via: proxy
    rule: {rewrite: {json_path: $.output, append: " CANARY-deadbeef"}}
"""


def test_external_service_with_proxy_incident(
    external_service: Callable[..., Service], tmp_path: Path, results: Path
) -> None:
    """The load goes through the proxy to a service the harness does not own; the stop on its
    real admin API takes effect, teardown switches the rule off and resumes the service, and
    the service is left alive."""
    service = external_service()
    targets, drill = write_files(tmp_path, service.base_url)
    text = drill.read_text().replace("inject: leak", "inject: outside_leak")
    drill.write_text(text.replace("steps:\n", OUTSIDE + "steps:\n", 1))
    done = govdrill("run", str(drill), "--results", str(results), "--targets", str(targets), "-q")
    assert done.returncode == 0, done.stdout + done.stderr
    summary = summary_of(only_run(results))
    assert summary["sandbox"] == "external" and summary["verdict"] == "passed"
    (incident,) = summary["incidents"]
    assert incident["outside"] is True and incident["touched"] > 0
    assert summary["ground_truth"]["incident_within_bounds"] is True
    restored = {(r["kind"], r["name"]): r["outcome"] for r in summary["teardown"]["restored"]}
    assert restored[("clear_incident", "outside_leak")] == "acked", restored
    assert service.proc.poll() is None  # never the harness's to end


@pytest.mark.xdist_group("docker")
def test_compose_partition(results: Path) -> None:
    """The admin API partitioned in the compose sandbox: SIGTERM through the compose
    project stops it in time, as declared."""
    from tests.docker.test_docker_drills import run_and_check

    run = run_and_check(
        ROOT / "drills" / "control-plane-partition.yaml", results, "--sandbox", "compose"
    )
    summary = summary_of(run)
    assert summary["sandbox"] == "compose" and summary["rung_used"] == "sigterm"
    assert (run / "proxy.admin_api.events.jsonl").is_file()


LIES = """\
incidents:
  admin_lies:
    via: proxy
    rule: {control: admin_api, lie: {status: 200, body: {ok: true}}}
"""


def test_external_service_behind_a_lying_control_plane(
    external_service: Callable[..., Service], tmp_path: Path, results: Path
) -> None:
    """The lying control plane against a service the harness never started: the stop is
    acknowledged by the proxy, never reaches the service, and the drill fails on it; the
    service is never stopped and is left alive."""
    service = external_service()
    targets, drill = write_files(tmp_path, service.base_url)
    # The leak goes through the admin API before the lie is switched on; the stop after it.
    text = drill.read_text().replace("steps:\n", LIES + "steps:\n", 1)
    text = text.replace(
        "  - when: harm_detected\n",
        "  - at: 400ms\n    inject: admin_lies\n  - when: harm_detected\n    delay: 600ms\n",
        1,
    )
    # A deadline the drill's window outlasts, so a stop that never comes is proven missed.
    text = text.replace("deadlines: {stop: 2s}", "deadlines: {stop: 500ms}")
    drill.write_text(text)
    done = govdrill("run", str(drill), "--results", str(results), "--targets", str(targets), "-q")
    assert done.returncode == 1, done.stdout + done.stderr  # a failed drill, not an error
    summary = summary_of(only_run(results))
    assert summary["sandbox"] == "external" and summary["verdict"] == "failed"
    assert summary["deadlines"]["stop"]["verdict"] == "missed"
    assert [r["outcome"] for r in summary["rungs"]] == ["acked"]
    lies = next(i for i in summary["incidents"] if i["name"] == "admin_lies")
    assert lies["outside"] is True and lies["touched"] >= 1
    with urllib.request.urlopen(service.base_url + "/admin/state", timeout=5) as answer:
        assert json.load(answer)["stopped"] is False  # the stop never reached it
    assert service.proc.poll() is None


@pytest.mark.xdist_group("docker")
def test_compose_lying_control_plane(results: Path) -> None:
    """The lying control plane in the compose sandbox fails exactly as it declares."""
    from tests.docker.test_docker_drills import run_and_check

    run = run_and_check(
        ROOT / "drills" / "defects" / "lying-control-plane.yaml", results, "--sandbox", "compose"
    )
    assert summary_of(run)["sandbox"] == "compose"
