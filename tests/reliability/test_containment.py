"""The process sandbox proves what it owns and catches every descendant, and every wait of the
harness is bounded and interruptible: hostile targets, real signals, the real CLI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.helpers import ROOT, events_of, govdrill, only_run, summary_of

pytestmark = pytest.mark.slow

HOSTILE = Path(__file__).with_name("hostile_target.py")


def drill_file(
    tmp_path: Path, name: str, mode_args: list[str], *, ready: str = "3s", stop: str = "SIGTERM"
) -> Path:
    """A short drill whose inline target is ``hostile_target.py`` in one of its modes."""
    command = json.dumps(["{python}", str(HOSTILE), mode_args[0], "{workdir}/port", *mode_args[1:]])
    text = f"""\
drill: {name}
target:
  target: hostile
  sandboxes:
    process:
      command: {command}
      port_file: "{{workdir}}/port"
  ready: {{path: /readyz, timeout: {ready}, interval: 20ms}}
  control_paths:
    stop: {{signal: {{signal: {stop}}}}}
load: {{users: 2, request: {{path: /v1/generate, json: {{prompt: x}}}}}}
steps:
  - at: 300ms
    stop: [stop]
hold: 500ms
deadlines: {{stop: 2s}}
"""
    path = tmp_path / f"{name}.yaml"
    path.write_text(text)
    return path


def wait_for_file(
    path: Path, proc: subprocess.Popen[str] | None = None, deadline_s: float = 60
) -> str:
    """The contents of ``path`` once it appears (it is written atomically)."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if path.exists():
            return path.read_text()
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"harness ended (exit {proc.returncode}) before {path} appeared")
        time.sleep(0.02)
    raise AssertionError(f"{path} never appeared")


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def harness(
    *drills: Path,
    results: Path,
    env: dict[str, str] | None = None,
    preexec_fn: Callable[[], None] | None = None,
) -> subprocess.Popen[str]:
    """``govdrill run`` in the background, its output collected for the assertion messages."""
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "harness",
            "run",
            *map(str, drills),
            "--results",
            str(results),
            "-q",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env or dict(os.environ),
        preexec_fn=preexec_fn,
    )


@pytest.fixture
def cgroup_of_its_own(tmp_path: Path) -> Iterator[Callable[[], None] | None]:
    """A pre-exec hook putting a harness in a cgroup of the test's own, so its runs' cgroups
    are made (and swept) under it: under ``pytest -n 2`` another worker's run would otherwise
    sweep, quite rightly, the leftovers of a dead harness this test wants its own run to
    sweep. None where no cgroup can be made (the test then needs -n 0)."""
    from harness.sandbox.containment import CGROUP_PREFIX

    own = Path("/proc/self/cgroup").read_text().splitlines()
    mount = next(
        (Path(f.split()[1]) for f in Path("/proc/self/mounts").read_text().splitlines()
         if f.split()[2] == "cgroup2"),
        None,
    )  # fmt: skip
    line = next((x for x in own if x.startswith("0::")), None)
    folder = None
    if mount is not None and line is not None:
        folder = mount / line[3:].lstrip("/") / f"tests-{os.getpid()}-{tmp_path.name}"
        try:
            folder.mkdir()
        except OSError:
            folder = None
    assert folder is None or not folder.name.startswith(CGROUP_PREFIX)  # no sweep matches it
    procs = str(folder / "cgroup.procs") if folder is not None else ""

    def join() -> None:
        with open(procs, "w") as out:
            out.write("0")

    yield join if folder is not None else None
    if folder is not None:
        for child in folder.glob(f"{CGROUP_PREFIX}*"):
            for pid in (child / "cgroup.procs").read_text().split():
                os.kill(int(pid), signal.SIGKILL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                for child in folder.glob(f"{CGROUP_PREFIX}*"):
                    child.rmdir()
                folder.rmdir()
                break
            except OSError:
                time.sleep(0.05)  # the kernel empties a killed cgroup asynchronously


@pytest.fixture
def squatter(tmp_path: Path) -> Iterator[tuple[int, int]]:
    """A leftover server already listening and answering ready: (its pid, its port)."""
    port_file = tmp_path / "squatter.port"
    proc = subprocess.Popen([sys.executable, str(HOSTILE), "serve", str(port_file)])
    try:
        yield proc.pid, int(wait_for_file(port_file, deadline_s=30))
    finally:
        proc.kill()
        proc.wait()


def test_squatter_on_the_port_is_named(tmp_path: Path, squatter: tuple[int, int]) -> None:
    """A target whose port answers from a process the sandbox did not start ends in an error
    naming the squatter's pid, exit 3, instead of a pass measured against the wrong process."""
    pid, port = squatter
    drill = drill_file(tmp_path, "squatted", ["claim", str(port)])
    done = govdrill("run", str(drill), "--results", str(tmp_path / "results"), "-q", timeout=90)
    out = done.stdout + done.stderr
    assert done.returncode == 3, out
    assert f"pid {pid}" in out and "did not start" in out, out
    summary = summary_of(only_run(tmp_path / "results"))
    assert summary["verdict"] == "error" and f"pid {pid}" in summary["error"]


def test_double_forked_daemon_is_killed_and_named(tmp_path: Path) -> None:
    """A daemon that double-forks, calls setsid and clears its environment does not outlive
    teardown, and the summary names it among the processes teardown had to kill."""
    pid_file = tmp_path / "daemon.pid"
    drill = drill_file(tmp_path, "daemon", ["daemonize", str(pid_file)])
    done = govdrill("run", str(drill), "--results", str(tmp_path / "results"), "-q", timeout=90)
    daemon = int(wait_for_file(pid_file, deadline_s=5))
    try:
        out = done.stdout + done.stderr
        assert done.returncode in (0, 1), out
        assert not alive(daemon), f"daemon {daemon} survived the run"
        teardown = summary_of(only_run(tmp_path / "results"))["teardown"]
        killed = {k["pid"]: k["cmdline"] for k in teardown["leftovers_killed"]}
        assert daemon in killed, teardown
        assert "time.sleep" in killed[daemon] and f"pid {daemon}" in teardown["detail"]
    finally:
        if alive(daemon):
            os.kill(daemon, signal.SIGKILL)


def test_trickling_readiness_ends_at_its_deadline(tmp_path: Path) -> None:
    """A /readyz that trickles header bytes (one every 0.3 s) cannot stretch the readiness
    deadline: the run ends in a clear error on time."""
    drill = drill_file(tmp_path, "trickle", ["trickle", str(tmp_path / "probed")], ready="2s")
    started = time.monotonic()
    done = govdrill("run", str(drill), "--results", str(tmp_path / "results"), "-q", timeout=60)
    wall = time.monotonic() - started
    out = done.stdout + done.stderr
    assert done.returncode == 3, out
    assert "not ready" in out and "within 2s" in out and "probe deadline" in out, out
    assert wall < 20, wall


@pytest.mark.parametrize(("how", "code"), [("SIGINT", 130), ("SIGTERM", 143), ("halt", 143)])
def test_interrupt_while_waiting_for_readiness(tmp_path: Path, how: str, code: int) -> None:
    """Ctrl-C, SIGTERM or ``govdrill halt`` while a trickling target is being waited for ends
    the run ``interrupted`` with 128+signal, long before its readiness deadline."""
    env = {**os.environ, "GOVDRILL_RUNTIME_DIR": str(tmp_path / "runtime")}
    probed = tmp_path / "probed"
    drill = drill_file(tmp_path, "trickle", ["trickle", str(probed)], ready="120s")
    proc = harness(drill, results=tmp_path / "results", env=env)
    try:
        wait_for_file(probed, proc)
        if how == "halt":
            halted = govdrill("halt", "--reason", "stuck at readiness", env=env)
            assert halted.returncode == 0, halted.stdout + halted.stderr
        else:
            proc.send_signal(getattr(signal, how))
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == code, out
    summary = summary_of(only_run(tmp_path / "results"))
    assert summary["verdict"] == "interrupted", summary
    if how == "halt":
        assert summary["halted_by"]["reason"] == "stuck at readiness"


def test_sigint_during_teardown_is_recorded_and_stops_the_batch(tmp_path: Path) -> None:
    """SIGINT while the first drill's target is being torn down makes that run interrupted,
    exit 130, and the second drill on the command line never starts."""
    first = drill_file(tmp_path, "first", ["linger", str(tmp_path / "first.term")], stop="SIGUSR1")
    second = drill_file(
        tmp_path, "second", ["linger", str(tmp_path / "second.term")], stop="SIGUSR1"
    )
    proc = harness(first, second, results=tmp_path / "results")
    try:
        # The target writes this when teardown's SIGTERM reaches it, then lingers 1.5 s.
        wait_for_file(tmp_path / "first.term", proc)
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, out
    run = only_run(tmp_path / "results")
    assert run.parent.name == "first", run
    summary = summary_of(run)
    assert summary["verdict"] == "interrupted" and summary["interrupted_by_signal"] == 2
    assert any(
        e["event"] == "interrupted" and e.get("during") == "teardown" for e in events_of(run)
    )
    assert not (tmp_path / "second.term").exists()


def test_daemon_of_a_sigkilled_harness_is_swept_by_the_next_run(
    tmp_path: Path, cgroup_of_its_own: Callable[[], None] | None
) -> None:
    """When the harness itself is SIGKILLed, its target's env-cleared daemon is still found
    (by the run's cgroup) and killed by the next run, which records it as swept."""
    from harness.sandbox.containment import Containment, ContainmentKind

    probe = Containment("probe")
    kind = probe.kind
    probe.close()
    if kind is not ContainmentKind.CGROUP:
        pytest.skip("no writable cgroup v2 here: an orphan of a SIGKILLed harness is unfindable")
    pid_file = tmp_path / "daemon.pid"
    first = harness(
        drill_file(tmp_path, "killed", ["daemonize", str(pid_file)]),
        results=tmp_path / "r1",
        preexec_fn=cgroup_of_its_own,
    )
    try:
        daemon = int(wait_for_file(pid_file, first))
    finally:
        first.kill()
        first.wait()
    try:
        assert alive(daemon), "the daemon should outlive a SIGKILLed harness until a sweep"
        if cgroup_of_its_own is not None:  # as another worker's run starts: it cannot see it
            from harness.sandbox.containment import sweep_stale_cgroups

            assert [p for p in sweep_stale_cgroups() if p.pid == daemon] == []
            assert alive(daemon)
        done = govdrill(
            "run",
            str(drill_file(tmp_path, "next", ["serve"])),
            "--results",
            str(tmp_path / "r2"),
            "-q",
            timeout=90,
            preexec_fn=cgroup_of_its_own,
        )
        assert done.returncode in (0, 1), done.stdout + done.stderr
        assert not alive(daemon)
        swept = summary_of(only_run(tmp_path / "r2"))["swept_leftovers"]
        assert {"kind": "cgroup_process", "name": f"pid {daemon}"}.items() <= next(
            s for s in swept if s.get("name") == f"pid {daemon}"
        ).items()
    finally:
        if alive(daemon):
            os.kill(daemon, signal.SIGKILL)
