"""The halt registry belongs to its user alone: a squatted, planted or shared registry never
makes ``govdrill`` signal a process that is not a drill, nor write where it should not, and a
bare ``govdrill halt`` never stops more than the one drill it could mean."""

from __future__ import annotations

import fcntl
import json
import os
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness import runs
from harness.evidence import RunLock
from harness.processes import identify, start_time
from tests.helpers import ROOT, govdrill
from tests.reliability.standins import private_env, process_alive, registrants

NOBODY = 65534
TRUTH = ROOT / "tests" / "engine" / "drills" / "truth.yaml"


@pytest.fixture
def bystander() -> Iterator[subprocess.Popen[bytes]]:
    """An unrelated process of this user that nothing in govdrill may signal."""
    proc = subprocess.Popen(["sleep", "600"])
    yield proc
    proc.kill()
    proc.wait()


def default_folder(env: dict[str, str]) -> Path:
    """The per-user fallback runtime folder under the environment's TMPDIR."""
    return Path(env["TMPDIR"]) / f"govdrill-{os.getuid()}"


def squat(folder: Path) -> Path:
    """Make ``folder``/runs as another local user would have: theirs, mode 0777."""
    runs = folder / "runs"
    runs.mkdir(parents=True)
    for path in (folder, runs):
        os.chown(path, NOBODY, NOBODY)
        path.chmod(0o777)
    return runs


def test_squatted_registry_is_refused_and_nothing_is_signalled_or_overwritten(
    tmp_path: Path, bystander: subprocess.Popen[bytes]
) -> None:
    """Another user's registry folder with a fake entry and a planted ``.halt`` symlink: halt
    refuses it with a clear message, the process named in the entry gets no signal and the
    file the symlink points at is unchanged."""
    env = private_env(tmp_path)
    runs = squat(default_folder(env))
    victim = tmp_path / "root-owned.conf"
    victim.write_text("precious\n")
    entry = {
        "run_id": "deadbeef", "drill": "fake", "pid": bystander.pid,
        "pid_start": start_time(bystander.pid), "started": "2026-01-01T00:00:00+00:00",
        "run_dir": "/nonexistent",
    }  # fmt: skip
    (runs / "deadbeef.json").write_text(json.dumps(entry))
    (runs / "deadbeef.halt").symlink_to(victim)
    os.chown(runs / "deadbeef.json", NOBODY, NOBODY)
    os.lchown(runs / "deadbeef.halt", NOBODY, NOBODY)
    done = [govdrill(*c, env=env) for c in (["halt", "--list"], ["halt"], ["halt", "--all"])]
    assert bystander.poll() is None and process_alive(bystander.pid), "the fake entry was obeyed"
    assert victim.read_text() == "precious\n", "halt wrote through the planted symlink"
    for answer in done:
        assert answer.returncode == 3, (answer.args, answer.stdout, answer.stderr)
        assert "refusing the runtime folder" in answer.stderr, answer.stderr
        assert "owned by uid 65534" in answer.stderr
        assert "Traceback" not in answer.stderr
        assert "deadbeef" not in answer.stdout  # the entries were not even read


def test_squatted_registry_refuses_the_run_before_writing_anything(tmp_path: Path) -> None:
    """``govdrill run`` with a squatted runtime folder exits 3 with one clear line, and writes
    no results at all."""
    env = private_env(tmp_path)
    squat(default_folder(env))
    results = tmp_path / "results"
    done = govdrill("run", str(TRUTH), "--results", str(results), "-q", env=env)
    assert done.returncode == 3, done.stdout + done.stderr
    assert "refusing the runtime folder" in done.stderr
    assert "Traceback" not in done.stderr
    assert not results.exists()


@pytest.mark.parametrize("planted", ["file", "symlink"])
def test_planted_path_at_runtime_folder_is_a_clear_refusal(tmp_path: Path, planted: str) -> None:
    """A plain file (or a symlink) where the runtime folder should be: every command says
    what is wrong, in one line, instead of a traceback."""
    env = private_env(tmp_path)
    folder = default_folder(env)
    if planted == "file":
        folder.write_text("")
        os.chown(folder, NOBODY, NOBODY)
        expected = "not a directory"
    else:
        elsewhere = tmp_path / "elsewhere"
        elsewhere.mkdir(mode=0o700)
        folder.symlink_to(elsewhere)
        expected = "symbolic link"
    for command in (["halt", "--list"], ["run", str(TRUTH), "-q", "--results", str(tmp_path)]):
        done = govdrill(*command, env=env)
        assert done.returncode == 3, (command, done.stdout, done.stderr)
        assert expected in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert not list(tmp_path.glob("*/*.partial")) and not (tmp_path / "truth-check").exists()


def test_registry_is_private_and_old_readable_folders_are_closed(tmp_path: Path) -> None:
    """The registry folders are 0700 and each entry 0600; a folder of ours that an older
    version left readable by others (0755) is tightened, not refused."""
    env = private_env(tmp_path)
    folder = default_folder(env)
    folder.mkdir(mode=0o755)
    folder.chmod(0o755)
    with registrants(env, ("cafe0001",)):
        runs = folder / "runs"
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
        assert stat.S_IMODE(runs.stat().st_mode) == 0o700
        assert stat.S_IMODE((runs / "cafe0001.json").stat().st_mode) == 0o600


def test_foreign_xdg_runtime_dir_is_refused(tmp_path: Path) -> None:
    """An ``$XDG_RUNTIME_DIR`` owned by someone else (``sudo -E`` keeps the user's) is
    refused with advice, never used."""
    xdg = tmp_path / "xdg-of-nobody"
    xdg.mkdir(mode=0o700)
    os.chown(xdg, NOBODY, NOBODY)
    done = govdrill("halt", "--list", env=private_env(tmp_path, XDG_RUNTIME_DIR=str(xdg)))
    assert done.returncode == 3, done.stdout + done.stderr
    assert "not a private folder of yours" in done.stderr
    assert "Unset XDG_RUNTIME_DIR" in done.stderr
    assert not (xdg / "govdrill").exists()


def test_xdg_runtime_dir_is_used_when_set(tmp_path: Path) -> None:
    """With ``$XDG_RUNTIME_DIR`` set the registry lives there, not in the shared temp folder."""
    xdg = tmp_path / "xdg"
    xdg.mkdir(mode=0o700)
    env = private_env(tmp_path, XDG_RUNTIME_DIR=str(xdg))
    with registrants(env, ("cafe0002",)):
        assert (xdg / "govdrill" / "runs" / "cafe0002.json").is_file()
        assert not default_folder(env).exists()
        listed = govdrill("halt", "--list", env=env)
        assert "cafe0002" in listed.stdout


def test_fake_entry_in_own_registry_is_never_signalled(
    tmp_path: Path, bystander: subprocess.Popen[bytes]
) -> None:
    """An entry that names an unrelated process of the same user with its exact uid, start
    time and command line is not halted: unlocked it is not running, and locked by someone
    else it is still not held open by that process."""
    env = private_env(tmp_path, GOVDRILL_RUNTIME_DIR=str(tmp_path / "runtime"))
    with registrants(env, ("cafe0003",)):
        pass  # creates the registry the way a harness does
    runs = tmp_path / "runtime" / "runs"
    who = identify(bystander.pid)
    assert who is not None
    entry = {
        "run_id": "feedf00d", "drill": "fake",
        "harness": {"pid": who.pid, "start": who.start, "uid": who.uid, "pgid": who.pgid,
                    "pid_ns": who.pid_ns, "cmdline": list(who.cmdline)},
        "started": "2026-01-01T00:00:00.000+00:00", "run_dir": "/x", "tmpdir": "/x",
    }  # fmt: skip
    path = runs / "feedf00d.json"
    path.write_text(json.dumps(entry))
    path.chmod(0o600)
    done = govdrill("halt", "feedf00d", env=env)
    assert done.returncode == 1 and "no running drill with run id feedf00d" in done.stderr
    with open(path) as held:  # now someone holds its lock, as a live harness would
        fcntl.flock(held, fcntl.LOCK_EX)
        assert "feedf00d" in govdrill("halt", "--list", env=env).stdout
        done = govdrill("halt", "feedf00d", env=env)
        assert done.returncode == 1, done.stdout + done.stderr
        assert "not provably the harness" in done.stderr
    assert bystander.poll() is None
    assert not (runs / "feedf00d.halt").exists()


def test_bare_halt_stops_only_a_lone_drill(tmp_path: Path) -> None:
    """Two drills of one user: a bare ``govdrill halt`` lists them and halts neither (exit 2);
    naming one halts only it; ``--all`` halts the rest. One drill alone: a bare halt stops it."""
    env = private_env(tmp_path, GOVDRILL_RUNTIME_DIR=str(tmp_path / "runtime"))
    with registrants(env, ("cafe0004",), ("cafe0005",), ("cafe0006",)) as (a, b, c):
        bare = govdrill("halt", env=env)
        assert bare.returncode == 2, bare.stdout + bare.stderr
        assert all(r.run_id in bare.stdout for r in (a, b, c))
        assert "pass --all" in bare.stderr
        assert a.alive() and b.alive() and c.alive()
        named = govdrill("halt", "cafe0004", env=env)
        assert named.returncode == 0, named.stdout + named.stderr
        assert a.proc.wait(timeout=10) == 143
        assert b.alive() and c.alive()
        everything = govdrill("halt", "--all", env=env)
        assert everything.returncode == 0, everything.stdout + everything.stderr
        assert b.proc.wait(timeout=10) == 143 and c.proc.wait(timeout=10) == 143
    with registrants(env, ("cafe0007",)) as (alone,):
        assert govdrill("halt", env=env).returncode == 0
        assert alone.proc.wait(timeout=10) == 143
    assert govdrill("halt", "--list", env=env).stdout.strip() == "no drills running"


def test_is_alive_answers_by_lock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``runs.is_alive`` (what the sweep of unsealed run folders asks): true while the harness
    holds its entry or its run folder, false once it is SIGKILLed, and true when the registry
    cannot be trusted (nothing may be done to a run that might live)."""
    env = private_env(tmp_path, GOVDRILL_RUNTIME_DIR=str(tmp_path / "runtime"))
    for key in ("GOVDRILL_RUNTIME_DIR", "TMPDIR"):
        monkeypatch.setenv(key, env[key])
    with registrants(env, ("cafe0301",)) as (harness,):
        assert runs.is_alive("cafe0301")
        assert not runs.is_alive("cafe0302")
        harness.proc.kill()
        harness.proc.wait()
        assert not runs.is_alive("cafe0301")
    folder = tmp_path / "results" / ".run.partial"
    folder.mkdir(parents=True)
    assert not runs.is_alive("other-registry", folder)
    with runs.register("cafe0303", "here", folder):
        lock = RunLock.take(folder)  # the run folder's lock, as RunDir.create takes it
        try:
            # Found by its folder even by a harness with another registry.
            assert runs.is_alive("other-registry", folder)
            assert runs.is_alive("cafe0303")
        finally:
            lock.release()
    assert not runs.is_alive("cafe0303", folder)
    monkeypatch.setenv("GOVDRILL_RUNTIME_DIR", str(squat(tmp_path / "squatted")))
    assert runs.is_alive("cafe0301")
