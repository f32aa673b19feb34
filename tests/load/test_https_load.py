"""An https load works though the child imports pydantic (so ssl) before gevent patches."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from harness.load.config import LoadConfig
from harness.load.process import LoadProcess
from harness.observations import ObservationLog, State
from harness.spec.models import HarmRule, RequestSpec
from tests.helpers import ROOT
from tests.reliability.tls_server import make_pki, serve_tls


def test_an_https_load_is_judged_by_the_child(
    tmp_path: Path, drill_wait_for: Callable[..., bool], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Answers over TLS arrive judged: no RecursionError, no monkey-patching warning."""
    pki = make_pki(tmp_path / "pki")
    # The load has no CA setting of its own (and geventhttpclient's insecure=True still
    # verifies): the child's default context trusts the test CA through OpenSSL's variable.
    monkeypatch.setenv("SSL_CERT_FILE", str(pki.ca))
    log = ObservationLog()
    stderr = tmp_path / "load.stderr"
    with serve_tls(pki) as server:
        config = LoadConfig(
            base_url=server.base_url,
            users=2,
            spawn_rate=100.0,
            request=RequestSpec(method="POST", path="/v1/generate", json={"prompt": "hi"}),
            parent_pid=os.getpid(),
            timeout_s=5.0,
            per_user_rate=20.0,
            harm=(HarmRule(json_path="$.ok", equals=True),),
        )
        with LoadProcess(config=config, log=log, stderr_path=stderr) as load:
            load.wait_ready(60.0)
            assert drill_wait_for(lambda: len(log) >= 10, 60.0), (load.health(), stderr.read_text())
    rows = list(log)
    assert all(r.status == 200 and r.state is State.SERVING and r.harmful for r in rows), rows[:3]
    problems = stderr.read_text()
    assert "RecursionError" not in problems and "MonkeyPatchWarning" not in problems, problems


def test_the_child_imports_nothing_gevent_cannot_patch_before_locust() -> None:
    """Importing the child module (all it runs before Locust) pulls in no requests, urllib3,
    docker, gevent or Locust, and no more of the spec than the load's own models."""
    code = (
        "import sys, harness.load.child\n"
        "bad = ('requests', 'urllib3', 'docker', 'gevent', 'locust', 'harness.spec.models',"
        " 'harness.spec.loader', 'yaml')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in bad or m in bad))\n"
    )
    out = subprocess.run(
        [sys.executable, "-P", "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        cwd=ROOT,
    )
    assert out.stdout.strip() == "[]", out.stdout
