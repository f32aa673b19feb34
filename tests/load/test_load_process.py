"""The load path end to end: a real Locust child, real HTTP to a real server, nothing mocked."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from harness.load.config import LoadConfig
from harness.load.process import LoadDied, LoadError, LoadProcess, LoadStatus
from harness.observations import Observation, ObservationLog, State
from harness.spec.models import HarmRule, SafeState
from tests.helpers import ROOT
from tests.load.drill_target import DrillTarget

READY_TIMEOUT_S = 20.0

Wait = Callable[..., bool]


def observations_since(log: ObservationLog, t_ns: int) -> list[Observation]:
    """Observations that started at or after ``t_ns``."""
    return [obs for obs in log if obs.start_ns >= t_ns]


def test_observations_stream_live_while_the_load_runs(
    drill_load_config: Callable[..., LoadConfig],
    drill_log: ObservationLog,
    drill_stderr: Path,
    drill_wait_for: Wait,
) -> None:
    """Observations reach the log and the callback while the child runs, not only at stop."""
    seen: list[Observation] = []
    with LoadProcess(
        config=drill_load_config(),
        log=drill_log,
        stderr_path=drill_stderr,
        on_observation=seen.append,
    ) as load:
        load.wait_ready(READY_TIMEOUT_S)
        assert load.users_spawned == 3
        assert drill_wait_for(lambda: len(drill_log) >= 20, 5.0)
        first = len(drill_log)
        assert drill_wait_for(lambda: len(drill_log) >= first + 20, 5.0)
        assert load.health().status is LoadStatus.RUNNING
        assert load.returncode is None  # still running while the log grew
        assert len(seen) >= first + 20
        assert 40 < load.observed_rate(0.5) < 400  # 3 users x 50 req/s
    assert load.stop() == 0
    assert load.health().status is LoadStatus.STOPPED
    assert load.observations_announced == load.observations_read == len(drill_log)
    assert [obs.to_line() for obs in seen] == [obs.to_line() for obs in drill_log]
    assert load.error is None and load.malformed_lines == 0
    assert all(obs.state is State.SERVING and obs.version == "v1" for obs in drill_log)


@pytest.mark.parametrize(
    ("rule", "harmful_behaviour"),
    [
        (
            HarmRule(json_path="$.output", regex="CANARY-[0-9a-f]{8}"),
            {"output": "the secret is CANARY-deadbeef"},
        ),
        (HarmRule(regex="CANARY-deadbeef"), {"output": "CANARY-deadbeef"}),
        (HarmRule(status=(500,)), {"status": 500}),
        (
            HarmRule(header="X-Safety", header_regex="^unsafe"),
            {"headers": {"X-Safety": "unsafe"}},
        ),
        (HarmRule(latency_over=0.08), {"delay_s": 0.12}),
    ],
    ids=["json_path-regex", "body-regex", "status", "header", "latency"],
)
def test_harm_rules_flag_harmful_answers_and_only_those(
    drill_target: DrillTarget,
    drill_load_config: Callable[..., LoadConfig],
    drill_log: ObservationLog,
    drill_stderr: Path,
    drill_wait_for: Wait,
    rule: HarmRule,
    harmful_behaviour: dict[str, object],
) -> None:
    """Answers before the switch are harmless, every answer requested after it is harmful."""
    config = drill_load_config(harm=(rule,))
    with LoadProcess(config=config, log=drill_log, stderr_path=drill_stderr) as load:
        load.wait_ready(READY_TIMEOUT_S)
        assert drill_wait_for(lambda: len(drill_log) >= 10, 5.0)
        before_switch_ns = time.monotonic_ns()
        drill_target.switch(version="v2", **harmful_behaviour)
        switched_ns = time.monotonic_ns()
        assert drill_wait_for(lambda: len(observations_since(drill_log, switched_ns)) >= 10, 5.0)
    before = [obs for obs in drill_log if obs.end_ns < before_switch_ns]
    after = observations_since(drill_log, switched_ns)
    assert before and not any(obs.harmful for obs in before)
    assert after and all(obs.harmful for obs in after)
    assert all(obs.version == "v2" for obs in after)


def test_503_is_stopped(
    drill_target: DrillTarget,
    drill_load_config: Callable[..., LoadConfig],
    drill_log: ObservationLog,
    drill_stderr: Path,
    drill_wait_for: Wait,
) -> None:
    """A 503 answer is STOPPED (the default safe state) and a 500 is ERROR."""
    with LoadProcess(config=drill_load_config(), log=drill_log, stderr_path=drill_stderr) as load:
        load.wait_ready(READY_TIMEOUT_S)
        drill_target.switch(status=503)
        t503 = time.monotonic_ns()
        assert drill_wait_for(lambda: len(observations_since(drill_log, t503)) >= 5, 5.0)
        t500_switching = time.monotonic_ns()
        drill_target.switch(status=500)
        t500 = time.monotonic_ns()
        assert drill_wait_for(lambda: len(observations_since(drill_log, t500)) >= 5, 5.0)
    stopped = [obs for obs in observations_since(drill_log, t503) if obs.end_ns < t500_switching]
    assert stopped and all(obs.state is State.STOPPED and obs.status == 503 for obs in stopped)
    errors = observations_since(drill_log, t500)
    assert errors and all(obs.state is State.ERROR and obs.status == 500 for obs in errors)


def test_connection_refused_is_stopped_with_status_0(
    drill_target: DrillTarget,
    drill_load_config: Callable[..., LoadConfig],
    drill_log: ObservationLog,
    drill_stderr: Path,
    drill_wait_for: Wait,
) -> None:
    """Once the server socket is closed, requests are refused and observed as STOPPED, status 0."""
    # resets do not count as stopped here, so STOPPED can only come from refused connects
    config = drill_load_config(safe_state=SafeState(connection_reset=False))
    with LoadProcess(config=config, log=drill_log, stderr_path=drill_stderr) as load:
        load.wait_ready(READY_TIMEOUT_S)
        assert drill_wait_for(lambda: len(drill_log) >= 10, 5.0)
        drill_target.close_listener()
        closed_ns = time.monotonic_ns()
        settled_ns = closed_ns + 200_000_000
        assert drill_wait_for(lambda: len(observations_since(drill_log, settled_ns)) >= 20, 5.0)
        assert load.health().status is LoadStatus.RUNNING
    late = observations_since(drill_log, settled_ns)
    assert all(obs.state is State.STOPPED and obs.status == 0 for obs in late)
    assert not any(obs.harmful for obs in late)


def test_connection_closed_without_an_answer_is_a_reset_and_stopped(
    drill_target: DrillTarget,
    drill_load_config: Callable[..., LoadConfig],
    drill_log: ObservationLog,
    drill_stderr: Path,
    drill_wait_for: Wait,
) -> None:
    """A server that drops connections unanswered is observed as reset: STOPPED, status 0."""
    config = drill_load_config(safe_state=SafeState(connection_refused=False))
    with LoadProcess(config=config, log=drill_log, stderr_path=drill_stderr) as load:
        load.wait_ready(READY_TIMEOUT_S)
        drill_target.switch(close=True)
        switched_ns = time.monotonic_ns()
        assert drill_wait_for(lambda: len(observations_since(drill_log, switched_ns)) >= 10, 5.0)
    after = observations_since(drill_log, switched_ns)
    assert all(obs.state is State.STOPPED and obs.status == 0 for obs in after)


def test_a_timeout_is_an_error_with_status_0(
    drill_target: DrillTarget,
    drill_load_config: Callable[..., LoadConfig],
    drill_log: ObservationLog,
    drill_stderr: Path,
    drill_wait_for: Wait,
) -> None:
    """An answer slower than timeout_s is ERROR with status 0, ending near the timeout."""
    config = drill_load_config(timeout_s=0.2, users=2)
    with LoadProcess(config=config, log=drill_log, stderr_path=drill_stderr) as load:
        load.wait_ready(READY_TIMEOUT_S)
        drill_target.switch(delay_s=0.6)
        switched_ns = time.monotonic_ns()
        assert drill_wait_for(lambda: len(observations_since(drill_log, switched_ns)) >= 4, 5.0)
    after = observations_since(drill_log, switched_ns)
    assert all(obs.state is State.ERROR and obs.status == 0 for obs in after)
    assert all(0.15e9 <= obs.end_ns - obs.start_ns <= 0.5e9 for obs in after)


def test_keep_alive_one_connection_per_user(
    drill_target: DrillTarget,
    drill_load_config: Callable[..., LoadConfig],
    drill_log: ObservationLog,
    drill_stderr: Path,
    drill_wait_for: Wait,
) -> None:
    """Users reuse their connection: connections accepted track users, not requests."""
    config = drill_load_config(users=4, per_user_rate=None)
    with LoadProcess(config=config, log=drill_log, stderr_path=drill_stderr) as load:
        load.wait_ready(READY_TIMEOUT_S)
        assert drill_wait_for(lambda: len(drill_log) >= 400, 10.0)
    assert drill_target.requests_answered >= 400
    assert 1 <= drill_target.connections_accepted <= 4


def test_observation_times_are_ordered_on_the_harness_clock(
    drill_load_config: Callable[..., LoadConfig],
    drill_log: ObservationLog,
    drill_stderr: Path,
    drill_wait_for: Wait,
) -> None:
    """Every observation has start <= end, inside the span the harness itself measured."""
    before_ns = time.monotonic_ns()
    with LoadProcess(config=drill_load_config(), log=drill_log, stderr_path=drill_stderr) as load:
        load.wait_ready(READY_TIMEOUT_S)
        assert drill_wait_for(lambda: len(drill_log) >= 30, 5.0)
    after_ns = time.monotonic_ns()
    assert len(drill_log) >= 30
    assert all(before_ns <= obs.start_ns <= obs.end_ns <= after_ns for obs in drill_log)
    assert load.child_heartbeat_ns is not None and before_ns < load.child_heartbeat_ns < after_ns


def test_the_harness_process_never_imports_locust_or_gevent(
    drill_target: DrillTarget, tmp_path: Path
) -> None:
    """A process that runs a load through the parent API has no locust/gevent in sys.modules."""
    script = textwrap.dedent(
        f"""
        import os, sys, time
        from pathlib import Path
        import harness.judging, harness.jsonpath
        import harness.load, harness.load.config, harness.load.process
        from harness.load.config import LoadConfig
        from harness.spec.models import RequestSpec
        from harness.load.process import LoadProcess
        from harness.observations import ObservationLog

        log = ObservationLog()
        config = LoadConfig(base_url={drill_target.url!r}, users=2, spawn_rate=50,
                            request=RequestSpec(), parent_pid=os.getpid(), per_user_rate=50)
        with LoadProcess(config=config, log=log, stderr_path=Path({str(tmp_path / "e")!r})) as load:
            load.wait_ready(20)
            deadline = time.monotonic() + 5
            while len(log) < 10 and time.monotonic() < deadline:
                time.sleep(0.01)
        banned = ("locust", "gevent", "greenlet", "requests", "geventhttpclient", "urllib3")
        print(len(log), sorted(m for m in sys.modules if m.split(".")[0] in banned))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    count, modules = result.stdout.strip().split(" ", 1)
    assert int(count) >= 10
    assert modules == "[]"


def _gone(pid: int) -> bool:
    """True when pid no longer runs (absent, or a zombie nobody has reaped yet)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True


@pytest.mark.parametrize("wedged", [False, True], ids=["running", "sigstopped"])
def test_the_child_dies_with_a_sigkilled_harness(
    drill_target: DrillTarget, tmp_path: Path, drill_wait_for: Wait, wedged: bool
) -> None:
    """SIGKILL the process that started a load: its child is gone within 2 s, even one too
    wedged (SIGSTOPped) to notice its stdin closing."""
    script = textwrap.dedent(
        f"""
        import os, sys, time
        from pathlib import Path
        from harness.load.config import LoadConfig
        from harness.spec.models import RequestSpec
        from harness.load.process import LoadProcess
        from harness.observations import ObservationLog

        config = LoadConfig(base_url={drill_target.url!r}, users=2, spawn_rate=50,
                            request=RequestSpec(), parent_pid=os.getpid(), per_user_rate=20)
        load = LoadProcess(config=config, log=ObservationLog(),
                           stderr_path=Path({str(tmp_path / "e")!r}))
        load.start()
        load.wait_ready(20)
        print(load.pid, flush=True)
        time.sleep(60)
        """
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=ROOT
    )
    child_pid = 0
    try:
        assert parent.stdout is not None
        child_pid = int(parent.stdout.readline())
        assert not _gone(child_pid)
        if wedged:
            os.kill(child_pid, signal.SIGSTOP)
        parent.kill()
        parent.wait()
        assert drill_wait_for(lambda: _gone(child_pid), 2.0)
    finally:
        parent.kill()
        parent.wait()
        if child_pid and not _gone(child_pid):  # do not leak it when the test fails
            os.kill(child_pid, signal.SIGKILL)


def test_a_stopped_child_is_stalled_and_a_killed_one_dead(
    drill_load_config: Callable[..., LoadConfig],
    drill_log: ObservationLog,
    drill_stderr: Path,
    drill_wait_for: Wait,
) -> None:
    """SIGSTOP makes health STALLED within about a second; SIGKILL makes it DEAD."""
    with LoadProcess(config=drill_load_config(), log=drill_log, stderr_path=drill_stderr) as load:
        load.wait_ready(READY_TIMEOUT_S)
        assert drill_wait_for(lambda: load.health().status is LoadStatus.RUNNING, 2.0)
        pid = load.pid
        assert pid is not None
        os.kill(pid, signal.SIGSTOP)
        stopped_ns = time.monotonic_ns()
        assert drill_wait_for(lambda: load.health().status is LoadStatus.STALLED, 2.0)
        stalled_after_s = (time.monotonic_ns() - stopped_ns) / 1e9
        assert 0.8 <= stalled_after_s <= 1.5
        os.kill(pid, signal.SIGKILL)
        assert drill_wait_for(lambda: load.health().status is LoadStatus.DEAD, 2.0)
        health = load.health()
        assert "exited unexpectedly" in health.detail and str(-signal.SIGKILL) in health.detail
        assert not health.ok


def test_wait_ready_raises_when_the_child_dies(
    drill_load_config: Callable[..., LoadConfig], drill_log: ObservationLog, drill_stderr: Path
) -> None:
    """A child killed before its users spawned makes wait_ready raise LoadDied, not hang."""
    load = LoadProcess(config=drill_load_config(), log=drill_log, stderr_path=drill_stderr)
    with load:
        assert load.pid is not None
        os.kill(load.pid, signal.SIGKILL)
        with pytest.raises(LoadDied):
            load.wait_ready(READY_TIMEOUT_S)
    assert load.stop() == -signal.SIGKILL  # idempotent after __exit__


def test_a_config_for_another_parent_is_refused(
    drill_load_config: Callable[..., LoadConfig], drill_log: ObservationLog, drill_stderr: Path
) -> None:
    """start() refuses a config whose parent_pid is not this process."""
    load = LoadProcess(
        config=drill_load_config(parent_pid=os.getpid() + 1),
        log=drill_log,
        stderr_path=drill_stderr,
    )
    with pytest.raises(LoadError):
        load.start()
    assert load.stop() is None


@pytest.mark.parametrize(
    ("stdin", "code", "message"),
    [
        (b"{not json\n", 2, "#E bad config: config: Invalid JSON"),
        (b'{"users": 1}\n', 2, "#E bad config:"),
        (b"", 2, "#E bad config: stdin closed"),
    ],
)
def test_the_child_refuses_a_bad_config_with_an_error_line(
    stdin: bytes, code: int, message: str
) -> None:
    """The child exits non-zero and says why in one #E line."""
    result = subprocess.run(
        [sys.executable, "-m", "harness.load.child"],
        input=stdin,
        capture_output=True,
        timeout=30,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == code
    warm, *lines = result.stdout.decode().splitlines()
    assert warm.startswith("#W ")  # Locust is imported before the config is read
    assert len(lines) == 1 and lines[0].startswith(message)


def test_the_child_exits_when_its_parent_is_not_the_one_in_the_config(
    drill_load_config: Callable[..., LoadConfig],
) -> None:
    """A child whose parent pid does not match (the harness already died) exits at once."""
    config = drill_load_config(parent_pid=os.getpid() + 1)
    result = subprocess.run(
        [sys.executable, "-m", "harness.load.child"],
        input=config.model_dump_json().encode() + b"\n",
        capture_output=True,
        timeout=30,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 3
    assert result.stdout.decode().split("\n", 1)[1].startswith("#E parent is pid")


@pytest.mark.parametrize("how", ["eof", "sigterm", "sigint-ignored-then-eof"])
def test_the_child_stops_cleanly_on_eof_or_sigterm(
    drill_load_config: Callable[..., LoadConfig], how: str
) -> None:
    """Closing stdin or sending SIGTERM alone ends the child with exit 0 and a final #D line;
    a SIGINT (a terminal's Ctrl-C) does not stop it."""
    child = subprocess.Popen(
        [sys.executable, "-m", "harness.load.child"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        cwd=ROOT,
    )
    try:
        assert child.stdin is not None and child.stdout is not None
        child.stdin.write(drill_load_config().model_dump_json().encode() + b"\n")
        child.stdin.flush()
        lines: list[bytes] = []
        while not any(line.startswith(b"#R") for line in lines):
            line = child.stdout.readline()
            assert line, "the child ended before spawning its users"
            lines.append(line)
        while sum(not line.startswith(b"#") for line in lines) < 10:
            lines.append(child.stdout.readline())
        if how == "sigint-ignored-then-eof":
            child.send_signal(signal.SIGINT)
            seen = len(lines)
            while sum(not line.startswith(b"#") for line in lines[seen:]) < 10:
                line = child.stdout.readline()
                assert line, "SIGINT ended the child"
                lines.append(line)
        if how.endswith("eof"):
            child.stdin.close()
        else:
            child.send_signal(signal.SIGTERM)
        lines += child.stdout.read().splitlines(keepends=True)
        assert child.wait(10) == 0
    finally:
        child.kill()
        child.wait()
    observations = [line for line in lines if not line.startswith(b"#")]
    assert lines[-1] == f"#D {len(observations)}\n".encode()
    assert all(Observation.from_line(line.decode()).status == 200 for line in observations)
