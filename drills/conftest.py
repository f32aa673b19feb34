"""``pytest drills/``: a drill that hands its stop to a person gets the reference target's
scripted responder (targets/model-service/responder.py) as its on-call, listening where the
drill's Alertmanager notifiers page, so the drill runs unattended as it does in CI.

The responder is started before the first such drill and ended when the session ends; it
holds $MODEL_SERVICE_ADMIN_TOKEN, which the target's secret reads first (a fresh one is set
when none is). With ``GOVDRILL_DRILL_OPERATOR=person`` none is started: the page goes to
whatever listens there (a real Alertmanager) and a person at the terminal acts, run with
``-s`` so the prompt can reach the terminal.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

RESPONDER = Path(__file__).resolve().parents[1] / "targets" / "model-service" / "responder.py"
TOKEN_ENV = "MODEL_SERVICE_ADMIN_TOKEN"
STARTUP_DEADLINE_S = 20.0
Running = dict[tuple[str, int], tuple[subprocess.Popen[bytes], Path]]
_RESPONDERS = pytest.StashKey[Running]()


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Before a drill with an operator stop, make sure a responder listens at each loopback
    Alertmanager address it pages."""
    drill = getattr(item, "drill", None)
    if drill is None or os.environ.get("GOVDRILL_DRILL_OPERATOR") == "person":
        return
    if not any(step.operator is not None for step in drill.steps):
        return
    running = item.config.stash.setdefault(_RESPONDERS, {})
    if not running:
        item.config.add_cleanup(lambda: _stop_all(running))
    os.environ.setdefault(TOKEN_ENV, secrets.token_hex(16))
    for spec in drill.notify.values():
        if spec.alertmanager is None:
            continue
        url = urlsplit(spec.alertmanager.url)
        where = (url.hostname or "127.0.0.1", url.port or 80)
        if where not in running:
            running[where] = _start(where, Path(tempfile.mkdtemp(prefix="govdrill-responder-")))


def _start(where: tuple[str, int], workdir: Path) -> tuple[subprocess.Popen[bytes], Path]:
    """Start one responder at ``where`` and wait until it writes its port file."""
    host, port = where
    port_file = workdir / "port"
    command = [sys.executable, str(RESPONDER), "--host", host, "--port", str(port)]
    command += ["--port-file", str(port_file), "--actions", str(workdir / "actions")]
    process = subprocess.Popen(command, stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + STARTUP_DEADLINE_S
    while not port_file.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)  # polling for the port file to appear, not a fixed wait
    if not port_file.exists():
        process.kill()
        process.wait()
        shutil.rmtree(workdir, ignore_errors=True)
        pytest.fail(
            f"the scripted responder could not listen on {host}:{port} (is something else,"
            " an Alertmanager, listening there? set GOVDRILL_DRILL_OPERATOR=person to page it)",
            pytrace=False,
        )
    return process, workdir


def _stop_all(running: Running) -> None:
    for process, workdir in running.values():
        process.terminate()
        process.wait(timeout=10)
        shutil.rmtree(workdir, ignore_errors=True)
