"""The warm load path at the process level: a real child imports Locust before its config,
a load adopts it and configures it later, and the pool's spares are labelled, replaced when
dead, never spawned from a thread that may end, and killed with the pool or the harness."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from harness.load.config import LoadConfig
from harness.load.process import LoadProcess, LoadStatus
from harness.load.warm import PARENT_ENV, LoadPool, LoadSource, spawn_load_child
from harness.observations import ObservationLog
from harness.processes import labels_of
from harness.sandbox import reaper
from tests.helpers import ROOT
from tests.load.drill_target import DrillTarget

READY_TIMEOUT_S = 20.0

Wait = Callable[..., bool]


def _gone(pid: int) -> bool:
    """True when pid no longer runs (absent, or a zombie nobody has reaped yet)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True


def _gevent_mapped(pid: int) -> bool:
    """Whether gevent's compiled core is loaded in ``pid`` (so Locust was imported)."""
    return "gevent" in Path(f"/proc/{pid}/maps").read_text()


def _bare_child(**env: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "harness.load.child"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        cwd=ROOT,
        env={**os.environ, **env},
    )


def test_the_child_says_warm_with_locust_imported_before_any_config(
    drill_load_config: Callable[..., LoadConfig],
) -> None:
    """The child's first line is ``#W`` while nothing was written to its stdin, gevent is
    already in its memory then, and the config sent afterwards starts the load."""
    before_ns = time.monotonic_ns()
    child = _bare_child()
    try:
        assert child.stdin is not None and child.stdout is not None
        first = child.stdout.readline()
        assert first.startswith(b"#W "), first
        warm_ns = int(first.split()[1])
        assert before_ns < warm_ns < time.monotonic_ns()
        assert child.poll() is None  # waiting for the config, not exited
        assert _gevent_mapped(child.pid)
        child.stdin.write(drill_load_config().model_dump_json().encode() + b"\n")
        child.stdin.flush()
        lines: list[bytes] = []
        while not any(line.startswith(b"#R") for line in lines):
            line = child.stdout.readline()
            assert line, "the child ended before spawning its users"
            lines.append(line)
        assert not any(line.startswith(b"#W") for line in lines)  # said once, first
        child.stdin.close()
        rest = child.stdout.read().splitlines()
        assert child.wait(20) == 0
        assert rest[-1].startswith(b"#D ")
    finally:
        child.kill()
        child.wait()


def test_a_sigterm_while_waiting_for_the_config_ends_the_child_cleanly() -> None:
    """A warm child told to stop before it got a config exits 0 after ``#D 0``: no load ran."""
    child = _bare_child()
    try:
        assert child.stdout is not None
        assert child.stdout.readline().startswith(b"#W ")
        child.send_signal(signal.SIGTERM)
        assert child.stdout.read() == b"#D 0\n"
        assert child.wait(20) == 0
    finally:
        child.kill()
        child.wait()


def test_a_child_whose_spawning_harness_is_gone_exits_before_importing() -> None:
    """``GOVDRILL_LOAD_PARENT`` naming another pid (the harness died before the fork finished)
    makes the child exit 3 at once, before its Locust import and without waiting for a config."""
    child = _bare_child(**{PARENT_ENV: str(os.getpid() + 1)})
    try:
        out, _ = child.communicate(timeout=30)  # stdin stays open: no config, no EOF
    finally:
        child.kill()
        child.wait()
    assert child.returncode == 3
    assert out.startswith(b"#E parent is pid") and b"#W" not in out


def test_a_load_adopts_a_warm_child_and_is_configured_later(
    drill_load_config: Callable[..., LoadConfig],
    drill_log: ObservationLog,
    drill_stderr: Path,
    drill_wait_for: Wait,
) -> None:
    """spawn() adopts a child spawned ahead; it warms up with no config, configure() starts
    the load, and the stamps come in order: spawned, warm, configured, ready."""
    child = spawn_load_child(labels={})
    load = LoadProcess(log=drill_log, stderr_path=drill_stderr, child=child)
    try:
        load.spawn()
        assert load.pid == child.pid and child.adopted
        assert drill_wait_for(lambda: load.warm_ns is not None, READY_TIMEOUT_S)
        assert load.health().status is LoadStatus.STARTING and not load.ready.is_set()
        load.configure(drill_load_config())
        load.wait_ready(READY_TIMEOUT_S)
        assert drill_wait_for(lambda: len(drill_log) >= 10, 5.0)
        assert load.spawned_ns is not None and load.warm_ns is not None
        assert load.started_ns is not None
        assert load.spawned_ns < load.warm_ns < load.started_ns
    finally:
        code = load.stop()
    assert code == 0
    assert load.error is None and load.observations_announced == len(drill_log)
    assert drill_stderr.exists()  # the relayed stderr landed in the load's own file


def test_stderr_written_before_adoption_lands_in_the_loads_file(
    drill_log: ObservationLog,
    drill_stderr: Path,
    drill_wait_for: Wait,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """What a child writes to stderr before a load adopts it (here Python's complaint about
    a bad warnings option, at its start) is held and then written to the load's stderr file."""
    monkeypatch.setenv("PYTHONWARNINGS", "ignore::NoSuchWarningCategory")
    child = spawn_load_child(labels={})
    monkeypatch.undo()
    load = LoadProcess(log=drill_log, stderr_path=drill_stderr, child=child)
    try:
        assert drill_wait_for(lambda: _gevent_mapped(child.pid), READY_TIMEOUT_S)
        assert not drill_stderr.exists()  # nothing outside a run folder before adoption
        load.spawn()
        assert drill_wait_for(lambda: "NoSuchWarningCategory" in drill_stderr.read_text(), 5.0)
    finally:
        load.stop()


def test_a_spawned_but_never_configured_load_is_killed_by_stop(
    drill_log: ObservationLog, drill_stderr: Path, drill_wait_for: Wait
) -> None:
    """stop() on a load that never got its config kills the waiting child at once."""
    load = LoadProcess(log=drill_log, stderr_path=drill_stderr)
    load.spawn()
    assert drill_wait_for(lambda: load.warm_ns is not None, READY_TIMEOUT_S)
    assert load.stop(timeout_s=5.0) == -signal.SIGKILL
    assert load.health().status is LoadStatus.STOPPED and len(drill_log) == 0


def test_the_pool_hands_out_its_live_spare_and_replaces_a_dead_one(
    drill_wait_for: Wait,
) -> None:
    """A spare carries the labels of the run that will take it; take() hands it out while it
    lives, and a spare that died is replaced by a fresh child, never handed out."""
    pool = LoadPool()
    taken = []
    try:
        first = pool.take()
        taken.append(first)
        assert first.source is LoadSource.FRESH
        pool.refill()
        spare = pool.spare
        assert spare is not None and spare.source is LoadSource.SPARE
        # Read once the new program's environment is in place (right after the exec it
        # can still read empty).
        assert drill_wait_for(lambda: reaper.RUN_ID in labels_of(spare.pid), 5.0)
        labels = labels_of(spare.pid)
        assert labels[reaper.RUN_ID] == spare.run_id != first.run_id
        assert labels[reaper.OWNER_PID] == str(os.getpid())
        second = pool.take()
        taken.append(second)
        assert second is spare and pool.spare is None
        pool.refill()
        doomed = pool.spare
        assert doomed is not None
        os.kill(doomed.pid, signal.SIGKILL)
        assert drill_wait_for(lambda: not doomed.alive(), 5.0)
        third = pool.take()
        taken.append(third)
        assert third.pid != doomed.pid and third.alive()
        assert third.source is LoadSource.RESPAWNED and pool.dead_spares == 1
        assert len({c.pid for c in taken}) == 3  # a process per drill
    finally:
        for child in taken:
            child.discard()
        pool.close()


def test_the_pool_spawns_spares_only_from_its_own_thread_and_only_as_many_as_allowed() -> None:
    """refill() from another thread starts nothing (the child would die with that thread);
    ``spares=1`` allows one spare over the pool's life."""
    pool = LoadPool(spares=1)
    try:
        worker = threading.Thread(target=pool.refill)
        worker.start()
        worker.join()
        assert pool.spare is None
        pool.refill()
        spare = pool.spare
        assert spare is not None
        pool.take().discard()
        pool.refill()
        assert pool.spare is None
    finally:
        pool.close()


def test_closing_the_pool_kills_its_spare(drill_wait_for: Wait) -> None:
    """close() kills the waiting spare; refill() afterwards starts nothing."""
    pool = LoadPool()
    pool.refill()
    spare = pool.spare
    assert spare is not None
    pool.close()
    assert _gone(spare.pid) and spare.proc.returncode == -signal.SIGKILL
    pool.refill()
    assert pool.spare is None


@pytest.mark.parametrize("wedged", [False, True], ids=["waiting", "sigstopped"])
def test_a_spare_dies_with_a_sigkilled_harness(
    drill_target: DrillTarget, tmp_path: Path, drill_wait_for: Wait, wedged: bool
) -> None:
    """SIGKILL the process whose pool holds a warm spare (and whose own load runs): both
    children are gone within 2 s, a SIGSTOPped spare too."""
    script = textwrap.dedent(
        f"""
        import os, sys, time
        from pathlib import Path
        from harness.load.config import LoadConfig
        from harness.load.process import LoadProcess
        from harness.load.warm import LoadPool
        from harness.observations import ObservationLog
        from harness.spec.models import RequestSpec

        pool = LoadPool()
        config = LoadConfig(base_url={drill_target.url!r}, users=2, spawn_rate=50,
                            request=RequestSpec(), parent_pid=os.getpid(), per_user_rate=20)
        load = LoadProcess(config=config, log=ObservationLog(),
                           stderr_path=Path({str(tmp_path / "e")!r}), child=pool.take())
        load.start()
        load.wait_ready(20)
        pool.refill()
        print(load.pid, pool.spare.pid, flush=True)
        time.sleep(60)
        """
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=ROOT
    )
    pids: list[int] = []
    try:
        assert parent.stdout is not None
        pids = [int(p) for p in parent.stdout.readline().split()]
        assert len(pids) == 2 and not any(_gone(p) for p in pids)
        if wedged:
            # Stopped once warm: its death signal is armed long before its Locust import.
            assert drill_wait_for(lambda: _gevent_mapped(pids[1]), READY_TIMEOUT_S)
            os.kill(pids[1], signal.SIGSTOP)
        parent.kill()
        parent.wait()
        assert drill_wait_for(lambda: all(_gone(p) for p in pids), 2.0)
    finally:
        parent.kill()
        parent.wait()
        for pid in pids:
            if not _gone(pid):  # do not leak it when the test fails
                os.kill(pid, signal.SIGKILL)
