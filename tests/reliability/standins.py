"""Helpers for the registry and sweep tests: an isolated runtime environment and stand-in
harnesses (real processes holding real registrations)."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.helpers import ROOT, labelled_processes, wait_for


def private_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """An environment whose default registry is ``tmp_path/tmp/govdrill-<uid>``."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("GOVDRILL_RUNTIME_DIR", "XDG_RUNTIME_DIR", "TMPDIR")
    }
    tmp = tmp_path / "tmp"
    tmp.mkdir(exist_ok=True)
    return {**env, "TMPDIR": str(tmp), "PYTHONPATH": str(ROOT), **extra}


@dataclass
class Registrant:
    """A running stand-in harness and what it announced."""

    proc: subprocess.Popen[str]
    run_id: str
    work_folder: Path | None
    child_pid: int | None

    def alive(self) -> bool:
        """Whether the stand-in harness still runs."""
        return self.proc.poll() is None


@contextlib.contextmanager
def registrants(
    env: dict[str, str], *specs: tuple[str, ...], prefix: tuple[str, ...] = ()
) -> Iterator[list[Registrant]]:
    """Start one stand-in harness per ``(run_id, *flags)``, each waited for until ready;
    everything they started is killed afterwards."""
    started: list[Registrant] = []
    try:
        for run_id, *flags in specs:
            proc = subprocess.Popen(
                [*prefix, sys.executable, "-m", "tests.reliability.registrant", run_id, *flags],
                cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            )  # fmt: skip
            assert proc.stdout is not None
            line = proc.stdout.readline()
            if not line.startswith("ready"):
                proc.kill()
                raise AssertionError(f"registrant {run_id} failed: {line}{proc.stderr.read()}")
            _, folder, child = ([*line.rstrip("\n").split(" "), "", ""])[:3]
            if child:
                # Popen returns once the child's exec has begun (vfork, close-on-exec pipe):
                # its new environment, and so its labels, can still be unreadable in /proc for
                # a moment; seen under load in about 1 start in 10.
                assert wait_for(lambda rid=run_id: bool(labelled_processes(run_id=rid)), 10.0), (
                    f"registrant {run_id}: its labelled child never appeared"
                )
            started.append(
                Registrant(proc, run_id, Path(folder) if folder else None,
                           int(child) if child else None)
            )  # fmt: skip
        yield started
    finally:
        for registrant in started:
            if registrant.child_pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(registrant.child_pid, 9)
            registrant.proc.kill()
            registrant.proc.communicate(timeout=10)


def process_alive(pid: int) -> bool:
    """Whether ``pid`` exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"
