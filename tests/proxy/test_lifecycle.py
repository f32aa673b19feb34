"""The proxy child's life: bounded start and close, reaper labels, death with the harness."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.proxy import FaultProxy, ProxyCommandFailed, ProxyError
from tests.helpers import labelled_processes, wait_for
from tests.proxy.upstream import Upstream

ROOT = Path(__file__).resolve().parents[2]


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_start_and_close_are_bounded_and_labelled(drill_upstream: Upstream, tmp_path: Path) -> None:
    """The child listens on loopback within the start bound, carries the run's labels, and
    close ends it within the close bound."""
    start = time.monotonic_ns()
    proxy = FaultProxy.start(
        upstream=drill_upstream.url, events_path=tmp_path / "p.jsonl", name="p", run_id="lifecycle"
    )
    assert time.monotonic_ns() - start < 10_000_000_000
    assert proxy.base_url.startswith("http://127.0.0.1:")
    pid = proxy.pid
    assert pid is not None
    assert pid in [p for p, _ in labelled_processes(run_id="lifecycle", owner=os.getpid())]
    start = time.monotonic_ns()
    proxy.close()
    assert time.monotonic_ns() - start < 10_000_000_000
    assert not _alive(pid)
    with pytest.raises(ProxyCommandFailed):
        proxy.counts()


def test_a_non_http_upstream_is_refused(tmp_path: Path) -> None:
    """Only http://host:port upstreams: anything else is a clear ProxyError before spawning."""
    with pytest.raises(ProxyError, match="upstream must be http"):
        FaultProxy.start(
            upstream="https://127.0.0.1:1", events_path=tmp_path / "p.jsonl", name="p", run_id="r"
        )


_HARNESS = """
import sys, time
from pathlib import Path
from harness.proxy import FaultProxy
proxy = FaultProxy.start(
    upstream=sys.argv[1], events_path=Path(sys.argv[2]), name="p", run_id="orphan"
)
print(proxy.pid, flush=True)
time.sleep(600)
"""


def test_the_child_dies_with_the_harness(drill_upstream: Upstream, tmp_path: Path) -> None:
    """A harness SIGKILLed mid-drill takes its proxy child with it (PR_SET_PDEATHSIG)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    harness = subprocess.Popen(
        [sys.executable, "-c", _HARNESS, drill_upstream.url, str(tmp_path / "p.jsonl")],
        stdout=subprocess.PIPE,
        env=env,
    )
    try:
        assert harness.stdout is not None
        child = int(harness.stdout.readline())
        assert _alive(child)
        harness.kill()
        harness.wait(10)
        assert wait_for(lambda: not _alive(child), 10), "the proxy outlived its harness"
    finally:
        harness.kill()
        harness.wait(10)
