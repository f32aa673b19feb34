"""The terminal prompt: skipped without a terminal or under pytest; on a real pseudo-terminal
it shows what is happening, the control paths and a countdown, and reads the answer."""

from __future__ import annotations

import io
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

from harness.notify import Alert, Notifiers, NotifyResult, countdown
from harness.spec.notify import NotifierSpec

ROOT = Path(__file__).resolve().parents[2]
TERMINAL = {"console": NotifierSpec.model_validate({"terminal": {}})}

PROMPT_SCRIPT = """
import sys, threading
from datetime import UTC, datetime
from harness.notify import Alert, Notifiers
from harness.spec.notify import NotifierSpec

heard = threading.Event()
notifiers = Notifiers.from_specs(
    {"console": NotifierSpec.model_validate({"terminal": {}})}, on_answer=lambda a: heard.set()
)
alert = Alert(drill="operator-stop", run_id="r-9", target="model-service",
              summary="The model leaks a canary.", paths=("admin_api",), deadline_s=30.0,
              incident="harmful_output", base_url="http://127.0.0.1:1",
              started_at=datetime.now(UTC))
(outcome,) = notifiers.notify(["console"], alert)
print("OUTCOME", outcome.result.value, flush=True)
heard.wait(60)
notifiers.close()
(answer,) = notifiers.answers()
print("ANSWER", repr(answer.text), answer.notifier, answer.t_ns > 0, flush=True)
"""


def test_skipped_without_a_terminal(alert: Alert) -> None:
    """Pipes or files for stdin/stdout: skipped with "no terminal", and nothing written."""
    out = io.StringIO()
    notifiers = Notifiers.from_specs(TERMINAL, stdin=io.StringIO(), stdout=out, quiet=False)
    (outcome,) = notifiers.notify(["console"], alert)
    assert outcome.result is NotifyResult.SKIPPED and outcome.detail == "no terminal"
    assert out.getvalue() == "" and notifiers.answers() == []


def test_quiet_under_pytest(alert: Alert) -> None:
    """Under pytest the prompt stays quiet by default (it would fight pytest's capture)."""
    (outcome,) = Notifiers.from_specs(TERMINAL).notify(["console"], alert)
    assert outcome.result is NotifyResult.SKIPPED and outcome.detail == "quiet (under pytest)"


def test_countdown_field_has_one_width() -> None:
    """The countdown is drawn in place, so every form of it has the same width."""
    forms = [countdown(None), countdown(0), countdown(29_100_000_000), countdown(-3_000_000_000)]
    assert forms[2] == "[   30s left]" and forms[3] == "[    3s LATE]"
    assert len({len(form) for form in forms}) == 1


def _read_until(fd: int, needle: bytes, seen: bytearray, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while needle not in seen:
        left = deadline - time.monotonic()
        assert left > 0, f"{needle!r} never shown; got {bytes(seen)!r}"
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                chunk = b""
            assert chunk, f"terminal closed before {needle!r}; got {bytes(seen)!r}"
            seen += chunk


def test_prompt_on_a_pty_counts_down_and_reads_the_answer() -> None:
    """On a pseudo-terminal the prompt names the drill, the summary and the control path,
    redraws the countdown as it falls, and an entered line becomes the operator's answer."""
    master, slave = pty.openpty()
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}
    env["PYTHONPATH"] = str(ROOT)
    proc = subprocess.Popen(
        [sys.executable, "-c", PROMPT_SCRIPT],
        stdin=slave, stdout=slave, stderr=subprocess.PIPE, env=env, cwd=ROOT,
    )  # fmt: skip
    os.close(slave)
    seen = bytearray()
    try:
        _read_until(master, b"who acted? > ", seen)
        text = seen.decode()
        assert "a person must act now" in text and "operator-stop" in text
        assert "The model leaks a canary." in text and "admin_api" in text
        assert "s left]" in text
        first = text.rsplit("[", 1)[1]
        # The next redraw is the field alone, between a cursor save and restore.
        _read_until(master, b"\x1b7\r[", seen)
        _read_until(master, b"s left]\x1b8", seen)
        redrawn = seen.decode().rsplit("\x1b7\r[", 1)[1].split("]", 1)[0] + "]"
        assert int(redrawn.split("s")[0]) < int(first.split("s")[0]) + 1
        os.write(master, b"alice\n")
        _read_until(master, b"ANSWER 'alice' console True", seen)
        assert b"OUTCOME ok" in seen and b"recorded 'alice'" in seen
        assert proc.wait(20) == 0, proc.stderr.read() if proc.stderr else ""
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
        os.close(master)
        if proc.stderr:
            proc.stderr.close()
