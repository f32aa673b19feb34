"""A live prompt on the harness's terminal: what is happening, which control paths to use,
and the seconds left to the deadline, counting down while the operator types.

One thread per prompt waits with ``select`` on the terminal and a wake-up pipe, at most until
the next whole second (to redraw the countdown): no busy loop, and ``close`` ends it at once.
The countdown is redrawn in a fixed-width field at the start of the prompt line between a
cursor save and restore, so what the operator is typing stays where it is. Each line they
enter (their name, or "done") is kept as an :class:`OperatorAnswer`.

Shown only when both stdin and stdout are terminals; otherwise the send is ``skipped`` with
"no terminal". Quiet under pytest (``PYTEST_CURRENT_TEST``): skipped with "quiet".
"""

from __future__ import annotations

import os
import re
import select
import threading
from collections.abc import Callable
from typing import TextIO

from harness.notify._post import Posted
from harness.notify._records import Alert, NotifyResult, OperatorAnswer
from harness.notify._template import placeholder_values, render
from harness.notify.base import Notifier
from harness.spec.notify import NotifierKind

__all__ = ["MAX_ANSWER_CHARS", "TerminalNotifier"]

MAX_ANSWER_CHARS = 64
"""The most of one typed line kept (a name, or "done")."""
_PENDING_LIMIT = 1024
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f]")
_SAVE, _RESTORE = "\x1b7", "\x1b8"


def countdown(left_ns: int | None) -> str:
    """The fixed-width countdown field: ``[  42s left]``, ``[ +3s LATE ]`` or ``[no deadline]``."""
    if left_ns is None:
        return "[no deadline]"
    if left_ns >= 0:
        return f"[{-(-left_ns // 1_000_000_000):>5}s left]"
    return f"[{-left_ns // 1_000_000_000:>5}s LATE]"


class _Prompt:
    """One alert's prompt, drawn and read on its own thread until closed."""

    def __init__(
        self,
        notifier: str,
        alert: Alert,
        sent_ns: int,
        *,
        stdin_fd: int,
        out: TextIO,
        clock: Callable[[], int],
        heard: Callable[[OperatorAnswer], None],
    ) -> None:
        self._notifier = notifier
        self._alert = alert
        self._due = alert.due_at(sent_ns)
        self._values = placeholder_values(alert, sent_ns)
        self._fd = stdin_fd
        self._out = out
        self._clock = clock
        self._heard = heard
        self._wake_r, self._wake_w = os.pipe()
        self._thread = threading.Thread(target=self._run, name=f"prompt-{notifier}", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """End the prompt and leave the cursor on a fresh line."""
        if self._wake_w >= 0:
            os.write(self._wake_w, b"x")
            self._thread.join(timeout=2.0)
            os.close(self._wake_w)
            os.close(self._wake_r)
            self._wake_w = self._wake_r = -1

    def _left(self) -> int | None:
        return None if self._due is None else self._due - self._clock()

    def _write(self, text: str) -> None:
        try:
            self._out.write(text)
            self._out.flush()
        except (OSError, ValueError):  # the terminal went away; nothing to show it on
            pass

    def _banner(self) -> str:
        alert = self._alert
        summary = _UNPRINTABLE.sub(" ", alert.summary)
        return (
            "\n\x1b[1m== govdrill: a person must act now ==\x1b[0m\n"
            f"  drill {alert.drill} (run {alert.run_id}), target {alert.target}\n"
            f"  what is happening: {summary}\n"
            f"  use the control path(s): {render(self._values['paths']) or 'none named'}\n"
            f"  type your name (or 'done') and Enter once you have acted.\n"
        )

    def _prompt_line(self) -> str:
        return f"{countdown(self._left())} who acted? > "

    def _run(self) -> None:
        self._write(self._banner() + self._prompt_line())
        pending = ""
        reading = True
        while True:
            left = self._left()
            wait_s = 1.0 if left is None else ((left % 1_000_000_000) or 1_000_000_000) / 1e9
            watched = [self._wake_r, self._fd] if reading else [self._wake_r]
            try:
                ready, _, _ = select.select(watched, [], [], wait_s)
            except (OSError, ValueError):
                return
            if self._wake_r in ready:
                self._write("\n")
                return
            if self._fd in ready:
                try:
                    data = os.read(self._fd, 1024)
                except OSError:
                    data = b""
                if not data:  # end of input (Ctrl-D): keep counting, stop reading
                    reading = False
                    continue
                pending = (pending + data.decode("utf-8", "replace"))[-_PENDING_LIMIT:]
                while "\n" in pending:
                    line, pending = pending.split("\n", 1)
                    self._answer(line)
                continue
            self._write(f"{_SAVE}\r{countdown(self._left())}{_RESTORE}")

    def _answer(self, line: str) -> None:
        text = _UNPRINTABLE.sub("", line).strip()[:MAX_ANSWER_CHARS]
        if not text:
            self._write(self._prompt_line())
            return
        answer = OperatorAnswer(self._notifier, text, self._clock())
        self._heard(answer)
        self._write(f"  recorded {text!r}.\n{self._prompt_line()}")


class TerminalNotifier(Notifier):
    """Shows each alert as a live prompt when the harness runs on a terminal."""

    kind = NotifierKind.TERMINAL

    def __init__(
        self,
        name: str,
        *,
        stdin: TextIO,
        stdout: TextIO,
        clock: Callable[[], int],
        quiet: bool,
        on_answer: Callable[[OperatorAnswer], None] | None = None,
    ) -> None:
        super().__init__(name)
        self._stdin = stdin
        self._stdout = stdout
        self._clock = clock
        self._quiet = quiet
        self._on_answer = on_answer
        self._lock = threading.Lock()
        self._answers: list[OperatorAnswer] = []
        self._prompt: _Prompt | None = None

    @property
    def timeout_s(self) -> float:
        """Showing a prompt does not wait for anyone."""
        return 0.0

    def send(self, alert: Alert, now_ns: int) -> Posted:
        """Show the prompt (replacing an earlier one), or say why not."""
        if self._quiet:
            return Posted(NotifyResult.SKIPPED, "quiet (under pytest)")
        try:
            on_tty = self._stdin.isatty() and self._stdout.isatty()
            fd = self._stdin.fileno()
        except (OSError, ValueError, AttributeError):
            on_tty = False
        if not on_tty:
            return Posted(NotifyResult.SKIPPED, "no terminal")
        with self._lock:
            if self._prompt is not None:
                self._prompt.close()
            self._prompt = _Prompt(
                self.name,
                alert,
                now_ns,
                stdin_fd=fd,
                out=self._stdout,
                clock=self._clock,
                heard=self._heard,
            )
        return Posted(NotifyResult.OK, "prompt shown on the terminal")

    def _heard(self, answer: OperatorAnswer) -> None:
        with self._lock:
            self._answers.append(answer)
        if self._on_answer is not None:
            self._on_answer(answer)

    def answers(self) -> list[OperatorAnswer]:
        """Every line the operator entered, in order."""
        with self._lock:
            return list(self._answers)

    def close(self) -> None:
        """End the prompt, if one is shown."""
        with self._lock:
            prompt, self._prompt = self._prompt, None
        if prompt is not None:
            prompt.close()
