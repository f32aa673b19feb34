"""Secrets: a control-path secret taken from the environment reaches no evidence file, no
report and no log, however the run ends."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import pytest

from tests.helpers import ROOT, govdrill, only_run

pytestmark = pytest.mark.slow

SECRET = "the-admin-token-7f3c9a-do-not-leak"


@pytest.mark.parametrize(
    "drill", ["tests/engine/drills/truth.yaml", "drills/unauthorized-stop.yaml"]
)
def test_secret_reaches_no_evidence(tmp_path: Path, drill: str) -> None:
    """Every file of the run (compressed ones opened) is free of the secret."""
    results = tmp_path / "results"
    env = {**os.environ, "MODEL_SERVICE_ADMIN_TOKEN": SECRET}
    done = govdrill("run", str(ROOT / drill), "--results", str(results), "-q", env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert SECRET not in done.stdout + done.stderr
    run = only_run(results)
    files = [p for p in run.rglob("*") if p.is_file()]
    assert any(p.name == "report.html" for p in files)
    for path in files:
        data = path.read_bytes()
        if path.suffix == ".gz":
            data = gzip.decompress(data)
        assert SECRET.encode() not in data, path
