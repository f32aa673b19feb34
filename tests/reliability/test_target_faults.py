"""Targets that crash, never get ready, bind late or flood their output get a clear outcome."""

from __future__ import annotations

import textwrap
import time
from pathlib import Path

import pytest

from tests.helpers import ROOT, govdrill, labelled_processes, only_run, summary_of

pytestmark = pytest.mark.slow

SERVE = ROOT / "targets" / "model-service" / "serve.py"


def drill_with(tmp_path: Path, command: str, *, port_file: bool = True, ready: str = "2s") -> Path:
    """A short drill whose inline target starts with ``command`` (a YAML flow list)."""
    port_line = 'port_file: "{workdir}/port"' if port_file else ""
    text = textwrap.dedent(
        f"""\
        drill: target-fault
        target:
          target: faulty
          sandboxes:
            process:
              command: {command}
              {port_line}
          ready: {{path: /readyz, timeout: {ready}, interval: 20ms}}
          secrets: {{admin_token: {{generate: true}}}}
          control_paths:
            sigterm: {{signal: {{signal: SIGTERM}}}}
        load: {{users: 2, request: {{path: /v1/generate, json: {{prompt: x}}}}}}
        steps:
          - at: 300ms
            stop: [sigterm]
        hold: 500ms
        deadlines: {{stop: 2s}}
        """
    )
    path = tmp_path / "drill.yaml"
    path.write_text(text)
    return path


def run_timed(drill: Path, results: Path) -> tuple[int, str, float]:
    """Run a drill; return its exit code, its output and its wall time."""
    started = time.monotonic()
    done = govdrill("run", str(drill), "--results", str(results), "-q", timeout=60)
    return done.returncode, done.stdout + done.stderr, time.monotonic() - started


def test_crash_at_start(tmp_path: Path) -> None:
    """A target that exits at once is reported with its exit code and stderr, exit 3."""
    cmd = (
        '["{python}", "-c", "import sys; print(\'boom: no model\', file=sys.stderr); sys.exit(7)"]'
    )
    code, out, wall = run_timed(drill_with(tmp_path, cmd), tmp_path / "results")
    assert code == 3, out
    assert "exited with code 7" in out and "boom: no model" in out
    assert wall < 15
    summary = summary_of(only_run(tmp_path / "results"))
    assert summary["verdict"] == "error" and "exited with code 7" in summary["error"]


def test_crash_at_start_names_stderr_a_lingering_child_still_holds(tmp_path: Path) -> None:
    """A target that exits at once while a child of it keeps its stderr open for a moment:
    the error still quotes the target's last words. The capture redacts secrets as the output
    streams, so the end of it is only written when the pipe closes; reading the file the
    instant the target exits gave an error without them (flaky on a loaded machine, and
    every time while a child held the pipe)."""
    script = "echo 'boom: no model' >&2; (sleep 1) & exit 7"
    cmd = f'["/bin/sh", "-c", "{script}"]'
    code, out, wall = run_timed(drill_with(tmp_path, cmd), tmp_path / "results")
    assert code == 3, out
    assert "exited with code 7" in out and "boom: no model" in out, out
    assert wall < 15


def test_never_ready(tmp_path: Path) -> None:
    """A target whose readiness check never passes fails within its readiness deadline."""
    cmd = '["{python}", "-m", "http.server", "--bind", "127.0.0.1", "{port}"]'
    code, out, wall = run_timed(drill_with(tmp_path, cmd, port_file=False), tmp_path / "results")
    assert code == 3, out
    assert "not ready" in out and "within 2s" in out and "HTTP 404" in out
    assert wall < 15
    run_id = summary_of(only_run(tmp_path / "results"))["run_id"]
    assert labelled_processes(run_id=run_id) == []  # the never-ready server was torn down


def test_binds_late(tmp_path: Path) -> None:
    """A target that takes a second to bind is waited for, then drilled normally."""
    cmd = (
        '["/bin/sh", "-c", "sleep 1; exec \\"$0\\" \\"$@\\"", "{python}", "'
        + str(SERVE)
        + '", "--port", "0", "--port-file", "{workdir}/port", "--token-file",'
        ' "{secrets_dir}/admin_token"]'
    )
    code, out, _ = run_timed(drill_with(tmp_path, cmd, ready="10s"), tmp_path / "results")
    assert code == 0, out
    summary = summary_of(only_run(tmp_path / "results"))
    assert summary["deadlines"]["stop"]["verdict"] == "met"


def test_output_flood_is_capped(tmp_path: Path) -> None:
    """A target flooding stdout keeps serving while its log stops growing at the cap.

    It writes 24 MiB before it serves (so the cap is passed before the drill starts, however
    slow a loaded machine makes the capture), then keeps flooding while it serves."""
    flood = (
        "import sys, threading, runpy;"
        "[sys.stdout.write('x' * 65536) for _ in range(384)]; sys.stdout.flush();"
        "threading.Thread(target=lambda: [sys.stdout.write('x' * 65536) for _ in iter(int, 1)],"
        " daemon=True).start();"
        f"sys.argv = [{str(SERVE)!r}] + sys.argv[1:];"
        f"runpy.run_path({str(SERVE)!r}, run_name='__main__')"
    )
    cmd = (
        '["{python}", "-c", "' + flood.replace('"', '\\"') + '", "--port", "0", "--port-file",'
        ' "{workdir}/port", "--token-file", "{secrets_dir}/admin_token"]'
    )
    code, out, _ = run_timed(drill_with(tmp_path, cmd, ready="10s"), tmp_path / "results")
    run = only_run(tmp_path / "results")
    size = (run / "target.stdout.log").stat().st_size
    assert code == 0, out
    assert 20 * 1024 * 1024 <= size < 21 * 1024 * 1024
    assert "dropped beyond the log cap" in summary_of(run)["teardown"]["detail"]


def test_hung_control_plane(tmp_path: Path) -> None:
    """A control plane that stops answering times the admin call out at its timeout; the
    ladder moves on and the run ends on time instead of hanging."""
    drill = ROOT / "tests" / "engine" / "drills" / "hung-admin.yaml"
    code, out, wall = run_timed(drill, tmp_path / "results")
    assert code == 0, out
    rungs = {r["name"]: r for r in summary_of(only_run(tmp_path / "results"))["rungs"]}
    admin = rungs["admin_api"]
    assert admin["outcome"] == "timed_out"
    assert 0.9 <= admin["returned_t_s"] - admin["issued_t_s"] <= 1.5  # its 1 s timeout
    assert rungs["sigterm"]["outcome"] == "acked"
    assert wall < 20
