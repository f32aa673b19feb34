"""Run one command of the harness's own (a control path, an incident, a readiness check),
bounded in time and in the output it keeps.

The command runs in a session of its own, so at its deadline (or when the run halts) the
whole process group is killed, not just its first process: a ``sh -c`` that started a
``sleep`` leaves nothing behind to hold the pipe open. Only the last ``keep`` bytes of its
output (stdout and stderr interleaved) are kept, whatever it prints.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from harness.halt import Halt

__all__ = ["KEEP_BYTES", "CommandRun", "run_bounded"]

KEEP_BYTES = 4096
"""The most of a command's output kept (its end: where an error usually is)."""
_SLICE_S = 0.05
"""How long one wait blocks before the halt event is looked at again."""
_DRAIN_S = 1.0
"""How long the output reader may still take after the group is gone."""


@dataclass(frozen=True, slots=True)
class CommandRun:
    """How one bounded command ended."""

    returncode: int | None
    """Its exit code (negative: the signal that ended it), or None when it was killed at
    its deadline or could not start."""
    output: str
    """The end of its output (at most ``KEEP_BYTES``), not yet redacted."""
    timed_out: bool = False
    error: str = ""
    """Why it could not start (``returncode`` is None then)."""


def run_bounded(
    command: str | list[str],
    *,
    shell: bool,
    env: Mapping[str, str],
    cwd: Path | str | None,
    timeout_s: float,
    halt: Halt | None = None,
    keep: int = KEEP_BYTES,
    clock: Callable[[], int] = time.monotonic_ns,
) -> CommandRun:
    """Run ``command`` until it exits or ``timeout_s`` passes (then its process group is
    killed); raises Interrupted, after killing the group, as soon as ``halt`` is set."""
    try:
        proc = subprocess.Popen(
            command,
            shell=shell,
            env=dict(env),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    except OSError as exc:
        return CommandRun(None, "", error=f"cannot run: {exc.strerror or exc}")
    tail = bytearray()
    assert proc.stdout is not None
    reader = threading.Thread(
        target=_keep_tail, args=(proc.stdout, tail, keep), daemon=True, name="command-output"
    )
    reader.start()
    deadline = clock() + int(timeout_s * 1e9)
    timed_out = False
    try:
        while proc.poll() is None:
            if halt is not None:
                halt.raise_if_set()
            left = (deadline - clock()) / 1e9
            if left <= 0:
                timed_out = True
                break
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(min(left, _SLICE_S))
    finally:
        # Whatever it started goes with it, whether it exited, timed out or the run halted.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        reader.join(_DRAIN_S)
        if not reader.is_alive():  # else a process that left the group holds the pipe
            proc.stdout.close()
    output = bytes(tail).decode("utf-8", "replace")
    return CommandRun(None if timed_out else proc.returncode, output, timed_out=timed_out)


def _keep_tail(stream: IO[bytes], tail: bytearray, keep: int) -> None:
    """Read ``stream`` to its end, keeping only its last ``keep`` bytes in ``tail``."""
    with contextlib.suppress(OSError, ValueError):
        while chunk := os.read(stream.fileno(), 65536):
            tail += chunk
            if len(tail) > keep:
                del tail[: len(tail) - keep]
