"""The external sandbox: a drill attaches to a service it did not start, stops it through its
own API, and at teardown puts it back (incident cleared, resumed) without ever killing it."""

from __future__ import annotations

import json
import os
import urllib.request
from collections.abc import Callable
from pathlib import Path

from tests.external.conftest import STOP_LINE, Service, write_files
from tests.helpers import events_of, govdrill, only_run, summary_of


def _state(base_url: str) -> dict[str, bool]:
    with urllib.request.urlopen(base_url + "/admin/state", timeout=5) as answer:
        return dict(json.loads(answer.read()))


def test_external_drill_stops_then_restores_a_service_it_did_not_start(
    tmp_path: Path, external_service: Callable[..., Service]
) -> None:
    """The drill runs (exit 0), the stop is measured; afterwards the service's process is
    alive, resumed and its incident cleared, and the evidence says who owns the listener."""
    service = external_service()
    targets, drill = write_files(tmp_path, service.base_url)
    results = tmp_path / "results"
    done = govdrill("run", "--targets", str(targets), str(drill), "--results", str(results))
    assert done.returncode == 0, done.stdout + done.stderr
    assert service.proc.poll() is None, "the harness must never end an external service"
    os.kill(service.proc.pid, 0)
    assert _state(service.base_url) == {"stopped": False, "leak": False}
    run = only_run(results)
    summary = summary_of(run)
    assert summary["sandbox"] == "external"
    assert summary["verdict"] == "passed"
    teardown = summary["teardown"]
    assert teardown["way"] == "not_owned"
    assert "ownership unknown" in teardown["detail"]
    assert [(r["kind"], r["name"], r["outcome"]) for r in teardown["restored"]] == [
        ("clear_incident", "leak", "acked"),
        ("resume", "admin_api", "acked"),
    ]
    assert "left_changed" not in teardown
    events = events_of(run)
    listener = next(e for e in events if e["event"] == "external_listener")
    assert service.proc.pid in listener["listener_pids"]
    assert listener["owner"].startswith("external")
    ready = next(e for e in events if e["event"] == "target_ready")
    assert ready["pid"] is None and ready["port_held_by"] == []  # never claimed as ours
    restores = [e for e in events if e["event"] == "restore"]
    assert [e["kind"] for e in restores] == ["clear_incident", "resume"]
    assert not [e for e in events if e["event"] == "restore_incomplete"]


def test_failed_restore_is_reported_and_says_the_service_is_left_stopped(
    tmp_path: Path, external_service: Callable[..., Service]
) -> None:
    """A resume the service refuses is recorded as failed, on the timeline and in the
    summary, which says the service may still be stopped; the service itself stays alive."""
    service = external_service("--resume-fails")
    targets, drill = write_files(tmp_path, service.base_url)
    results = tmp_path / "results"
    done = govdrill("run", "--targets", str(targets), str(drill), "--results", str(results))
    assert done.returncode == 0, done.stdout + done.stderr  # the stop itself was measured
    assert "LEFT CHANGED:" in done.stdout and "may still be stopped" in done.stdout
    assert service.proc.poll() is None
    assert _state(service.base_url) == {"stopped": True, "leak": False}
    run = only_run(results)
    teardown = summary_of(run)["teardown"]
    resume = next(r for r in teardown["restored"] if r["kind"] == "resume")
    assert resume["outcome"] == "failed" and "HTTP 500" in resume["detail"]
    assert any("may still be stopped" in left for left in teardown["left_changed"])
    incomplete = [e for e in events_of(run) if e["event"] == "restore_incomplete"]
    assert len(incomplete) == 1 and "may still be stopped" in incomplete[0]["left"][0]


def test_signal_rung_on_external_is_refused_at_its_line(
    tmp_path: Path, external_service: Callable[..., Service]
) -> None:
    """A stop ladder with a signal rung is refused at validation (exit 2), naming the step
    and the rung at the rung's own line; nothing runs and nothing is written."""
    targets, drill = write_files(tmp_path, "http://127.0.0.1:9", ladder="admin_api, sigterm")
    results = tmp_path / "results"
    for command in (
        ["validate", "--targets", str(targets), str(drill)],
        ["run", "--targets", str(targets), str(drill), "--results", str(results)],
    ):
        done = govdrill(*command)
        assert done.returncode == 2, done.stdout + done.stderr
        assert (
            f"{drill}:{STOP_LINE}: steps[1].stop[1]: step 'stop', rung 2: control path"
            " 'sigterm' is a signal" in done.stderr
        ), done.stderr
    assert not results.exists()


def test_remote_base_url_needs_allow_remote(tmp_path: Path) -> None:
    """A base_url beyond loopback is refused at the target file's line unless the target says
    allow_remote: true; loopback names and addresses need nothing."""
    targets, drill = write_files(tmp_path, "http://10.20.30.40:8080")
    done = govdrill("validate", "--targets", str(targets), str(drill))
    assert done.returncode == 2
    target_file = targets / "ext-service" / "target.yaml"
    assert (
        f"{target_file}:4: sandboxes.external.base_url: http://10.20.30.40:8080 is not a"
        " loopback address" in done.stderr
    ), done.stderr
    write_files(tmp_path, "http://10.20.30.40:8080", extra=", allow_remote: true")
    assert govdrill("validate", "--targets", str(targets), str(drill)).returncode == 0
    for url in ("http://localhost:8080", "http://127.0.0.5:8080", "http://[::1]:8080"):
        write_files(tmp_path, url)
        done = govdrill("validate", "--targets", str(targets), str(drill))
        assert done.returncode == 0, (url, done.stderr)


def test_service_not_running_is_a_clear_error(tmp_path: Path) -> None:
    """Nothing answering at base_url ends the run as a harness error that says the harness
    does not start an external service (it must already run)."""
    targets, drill = write_files(tmp_path, "http://127.0.0.1:9")
    text = (targets / "ext-service" / "target.yaml").read_text()
    (targets / "ext-service" / "target.yaml").write_text(
        text.replace("timeout: 10s", "timeout: 1s")
    )
    results = tmp_path / "results"
    done = govdrill("run", "--targets", str(targets), str(drill), "--results", str(results))
    assert done.returncode == 3, done.stdout + done.stderr
    summary = summary_of(only_run(results))
    assert summary["verdict"] == "error"
    assert "does not start an external service" in summary["error"]
    assert "Connection refused" in summary["error"] or "refused" in summary["error"]
