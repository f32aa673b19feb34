"""The halt button inside one harness process: a flag the engine and the sandboxes check,
and the signal that pressed it (so the exit code and the evidence can name it)."""

from __future__ import annotations

import signal
import threading

from harness.errors import Interrupted

__all__ = ["Halt"]


class Halt:
    """Set from a signal handler (or any thread) to ask the running drill to end early; the
    engine then tears down and keeps the evidence, marked interrupted."""

    __slots__ = ("_event", "_signum")

    def __init__(self) -> None:
        self._event = threading.Event()
        self._signum: int | None = None

    def set(self, signum: int | None = None) -> None:
        """Press the button; ``signum`` is the signal that did it (the latest one wins, as a
        second Ctrl-C or a ``govdrill halt`` during teardown is what the user last asked)."""
        if signum is not None:
            self._signum = int(signum)
        self._event.set()

    def is_set(self) -> bool:
        """Whether the button has been pressed."""
        return self._event.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until pressed or ``timeout`` seconds pass; whether it was pressed."""
        return self._event.wait(timeout)

    @property
    def signum(self) -> int | None:
        """The signal that pressed the button, or None (not pressed, or not by a signal)."""
        return self._signum

    def interrupted(self) -> Interrupted:
        """The error this halt stands for: its signal, SIGINT when none was given."""
        return Interrupted(signal.SIGINT if self._signum is None else self._signum)

    def raise_if_set(self) -> None:
        """Raise Interrupted when the button has been pressed."""
        if self._event.is_set():
            raise self.interrupted()

    def __repr__(self) -> str:
        return f"Halt(set={self.is_set()}, signum={self._signum})"
