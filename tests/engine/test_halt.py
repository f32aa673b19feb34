"""``Halt`` carries the signal that pressed it, typed, where a ``threading.Event`` once had a
``signum`` attribute stuck on with a type-ignore."""

from __future__ import annotations

import signal
import threading

import pytest

from harness.errors import Interrupted
from harness.halt import Halt


def test_unpressed_halt_has_no_signal_and_does_not_raise() -> None:
    """A fresh halt is not set, names no signal and lets the run go on."""
    halt = Halt()
    assert not halt.is_set()
    assert halt.signum is None
    assert halt.wait(0) is False
    halt.raise_if_set()


def test_signal_is_kept_and_becomes_the_exit_code() -> None:
    """Pressed by SIGTERM, the halt raises Interrupted(15): exit code 143."""
    halt = Halt()
    halt.set(signal.SIGTERM)
    assert halt.is_set() and halt.wait(0)
    assert halt.signum == signal.SIGTERM
    with pytest.raises(Interrupted) as caught:
        halt.raise_if_set()
    assert caught.value.signum == signal.SIGTERM
    assert caught.value.exit_code == 128 + signal.SIGTERM


def test_pressed_without_a_signal_counts_as_ctrl_c() -> None:
    """Set by other means (a test, an embedding program), the halt stands for SIGINT."""
    halt = Halt()
    halt.set()
    assert halt.signum is None
    assert halt.interrupted().signum == signal.SIGINT


def test_latest_signal_wins() -> None:
    """A second signal (Ctrl-C, then ``govdrill halt``'s SIGTERM) is what is reported."""
    halt = Halt()
    halt.set(signal.SIGINT)
    halt.set(signal.SIGTERM)
    assert halt.signum == signal.SIGTERM


def test_wait_wakes_when_pressed_from_another_thread() -> None:
    """A waiter is woken by a press from another thread (as a signal handler does)."""
    halt = Halt()
    presser = threading.Thread(target=halt.set, args=(signal.SIGTERM,))
    presser.start()
    assert halt.wait(30)
    presser.join(30)
    assert isinstance(halt.interrupted(), Interrupted)
