"""Both ways of containing a target (a cgroup of the run, the harness as subreaper) find and
kill a double-forked, setsid, env-cleared daemon, and name it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.sandbox.containment import Containment, ContainmentKind
from tests.reliability.test_containment import HOSTILE, alive, wait_for_file

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("kind", list(ContainmentKind))
def test_daemon_is_found_and_killed(tmp_path: Path, kind: ContainmentKind) -> None:
    """The daemon is a member while the target runs and is killed (and reported) after the
    target's own process group has gone; the target itself is not reported as a leftover."""
    containment = Containment("t" + os.urandom(3).hex(), cgroup=kind is ContainmentKind.CGROUP)
    if containment.kind is not kind:
        containment.close()
        pytest.skip(f"this machine offers no {kind.value} containment to this process")
    pid_file = tmp_path / "daemon.pid"
    target = subprocess.Popen(
        [sys.executable, str(HOSTILE), "daemonize", str(tmp_path / "port"), str(pid_file)],
        start_new_session=True,
        preexec_fn=containment.preexec(),
        stdout=subprocess.DEVNULL,
    )
    containment.adopted(target.pid)
    folder = containment.cgroup
    daemon = int(wait_for_file(pid_file, deadline_s=30))
    try:
        wait_for_file(tmp_path / "port", deadline_s=30)
        assert {target.pid, daemon} <= containment.members()
        os.killpg(target.pid, signal.SIGKILL)
        target.wait(timeout=10)
        assert alive(daemon), "the daemon should have escaped the target's process group"
        killed = containment.kill_all()
        assert [k.pid for k in killed] == [daemon]
        assert "time.sleep" in killed[0].cmdline
        assert not alive(daemon)
    finally:
        containment.close()
        if alive(daemon):
            os.kill(daemon, signal.SIGKILL)
    assert folder is None or not folder.exists()  # the run's cgroup goes once empty


@pytest.mark.parametrize("named", ["without_namespace", "other_namespace"])
def test_stale_cgroup_sweep_spares_another_pid_namespace(named: str) -> None:
    """A run cgroup made from another PID namespace (or named without one, as a harness in a
    container would have) is never swept: its owner pid, dead in ours, proves nothing."""
    from harness.processes import pid_namespace_inode
    from harness.sandbox.containment import CGROUP_PREFIX, _cgroup_parent, sweep_stale_cgroups

    parent = _cgroup_parent()
    ours = pid_namespace_inode(os.getpid())
    if parent is None or ours is None:
        pytest.skip("no cgroup v2 of this process to make run cgroups under")
    # An owner pid that does not exist here, from a namespace that is not ours.
    suffix = "" if named == "without_namespace" else f"-{int(ours) + 1}"
    folder = parent / f"{CGROUP_PREFIX}ffeeddcc-4194000-1{suffix}"
    try:
        folder.mkdir()
    except OSError as exc:
        pytest.skip(f"cgroups are not writable here: {exc}")
    procs = str(folder / "cgroup.procs")

    def join() -> None:
        with open(procs, "w") as out:
            out.write("0")

    sleeper = subprocess.Popen(["sleep", "600"], preexec_fn=join)
    try:
        swept = sweep_stale_cgroups()
        assert all(s.pid != sleeper.pid for s in swept)
        assert sleeper.poll() is None, "the sweep killed a process of another PID namespace"
        assert folder.exists()
    finally:
        sleeper.kill()
        sleeper.wait(timeout=10)
        for _ in range(200):
            try:
                folder.rmdir()
                break
            except OSError:  # the kernel empties a cgroup asynchronously
                time.sleep(0.01)
