"""Helpers the test folders share: the repository's paths, running the real CLI, reading a
run folder, the process table, waiting on a condition, small real drills and hostile
targets. Fixtures and hooks stay in the conftest modules."""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
"""The repository's root (drills/, targets/, harness/)."""
TARGETS = ROOT / "targets"
"""The reference targets."""


def govdrill(*args: str, timeout: float = 120, **kw: Any) -> subprocess.CompletedProcess[str]:
    """Run ``govdrill`` as a user would, from the repository root."""
    return subprocess.run(
        [sys.executable, "-m", "harness", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=timeout,
        **kw,
    )


def govdrill_in_process(*args: str) -> subprocess.CompletedProcess[str]:
    """``govdrill`` called in this process, with its exit code and output as a run of the
    command gives them: for tests about what a command says, not about the process."""
    import structlog

    from harness.cli import main

    out, err = io.StringIO(), io.StringIO()
    saved = structlog.get_config()  # main configures logging onto the captured stderr
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(list(args))
    finally:
        structlog.configure(**saved)
    return subprocess.CompletedProcess(["govdrill", *args], code, out.getvalue(), err.getvalue())


def only_run(results: Path) -> Path:
    """The single sealed run folder under ``results``."""
    runs = [p for p in results.glob("*/*") if p.is_dir() and not p.name.startswith(".")]
    assert len(runs) == 1, runs
    return runs[0]


def summary_of(run: Path) -> dict[str, Any]:
    """A run's summary.json."""
    data: dict[str, Any] = json.loads((run / "summary.json").read_text())
    return data


def events_of(run: Path) -> list[dict[str, Any]]:
    """A run's timeline entries, in order."""
    return [json.loads(line) for line in (run / "timeline.jsonl").read_text().splitlines()]


def labelled_processes(
    *, run_id: str | None = None, owner: int | None = None
) -> list[tuple[int, str]]:
    """Live processes (targets and load children) carrying a govdrill run label, of one run
    or one harness when given."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            env = (entry / "environ").read_bytes()
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if b"GOVDRILL_RUN_ID=" not in env or state == "Z":
            continue
        if run_id is not None and f"GOVDRILL_RUN_ID={run_id}\0".encode() not in env + b"\0":
            continue
        if owner is not None and f"GOVDRILL_OWNER_PID={owner}\0".encode() not in env + b"\0":
            continue
        found.append((int(entry.name), cmd))
    return found


@contextlib.contextmanager
def serving(handler: type[BaseHTTPRequestHandler]) -> Iterator[int]:
    """Serve ``handler`` on a free loopback port from a thread of this process; yields the
    port and shuts the server down afterwards."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def wait_for(predicate: Callable[[], bool], timeout_s: float, step_s: float = 0.01) -> bool:
    """Poll ``predicate`` until true or ``timeout_s`` passed; return its last value."""
    deadline = time.monotonic_ns() + int(timeout_s * 1e9)
    while time.monotonic_ns() < deadline:
        if predicate():
            return True
        time.sleep(step_s)
    return predicate()


HOSTILE_TARGET = ROOT / "tests" / "reliability" / "hostile_load_target.py"


@contextlib.contextmanager
def hostile_target(workdir: Path, *args: str) -> Iterator[str]:
    """Run ``tests/reliability/hostile_load_target.py`` with ``args``; yield its base URL."""
    workdir.mkdir(parents=True, exist_ok=True)
    port_file = workdir / "port"
    proc = subprocess.Popen(
        [sys.executable, str(HOSTILE_TARGET), "--port-file", str(port_file),
         "--events", str(workdir / "events.jsonl"), *args],
    )  # fmt: skip
    try:
        if not wait_for(lambda: port_file.exists() or proc.poll() is not None, 20.0):
            raise AssertionError("the hostile target did not write its port in 20 s")
        if proc.poll() is not None:
            raise AssertionError(f"the hostile target exited with code {proc.returncode}")
        yield f"http://127.0.0.1:{int(port_file.read_text())}"
    finally:
        proc.kill()
        proc.wait()


def peak_rss_mb(pid: int) -> float:
    """A live process's peak resident set (VmHWM), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmHWM for pid {pid}")


def small_drill(
    name: str,
    *,
    defect: str | None = None,
    deadlines: str = "{stop: 1s, time_in_harm: 2s}",
    expect: str | None = None,
) -> str:
    """A drill of a few seconds against the reference model service, as YAML text.

    The ``deadlines:`` line is always line 17 (``DEADLINES_LINE``), ``expect:`` line 18.
    """
    return "\n".join(
        [
            f"drill: {name}",
            "target: model-service",
            f"target_args: [--defect, {defect}]" if defect else "target_args: []",
            "warmup: 100ms",
            "load:",
            "  users: 4",
            "  request: {method: POST, path: /v1/generate, json: {prompt: the sea, max_tokens: 4}}",
            "harm:",
            "  - json_path: $.output",
            '    regex: "CANARY-[0-9a-f]{8}"',
            "steps:",
            "  - at: 200ms",
            "    inject: harmful_output",
            "  - when: harm_detected",
            "    stop: [admin_api]",
            "    grace: 500ms",
            f"deadlines: {deadlines}",
            f"expect: {expect}" if expect else "hold: 300ms",
            "hold: 300ms" if expect else "",
        ]
    )


DEADLINES_LINE = 17
EXPECT_LINE = 18
