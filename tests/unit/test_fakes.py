"""The test doubles shipped beside their base classes behave like the real thing: a signal
control path through the fake sandbox, teardown's evidence, and scripted control answers."""

from __future__ import annotations

import signal

import pytest

from harness.control import CallOutcome, ControlBackend, build_backend
from harness.control_fake import Answer, FakeBackend, ManualClock
from harness.errors import Interrupted, SandboxError
from harness.halt import Halt
from harness.sandbox.base import TeardownWay
from harness.sandbox.fake import FakeSandbox, SentSignal
from harness.spec.models import Action, ControlPath, SignalPath

MS = 1_000_000


def _signal_path(sandbox: FakeSandbox, name: str = "SIGTERM") -> ControlBackend:
    spec = ControlPath(signal=SignalPath(signal=name, to="group"))
    return build_backend(name.lower(), spec, endpoint=sandbox.endpoint, sandbox=sandbox, values={})


def test_a_delivered_sigterm_ends_the_fake_target_and_teardown_says_so() -> None:
    """SIGTERM through the real signal control path stops the fake target; teardown then
    reports it already gone, ended by that signal (not by the harness)."""
    sandbox = FakeSandbox()
    with sandbox:
        sandbox.start()
        backend = _signal_path(sandbox)
        result = backend.call(Action.STOP).result()
        assert result.outcome is CallOutcome.ACKED
        assert sandbox.signals == [SentSignal(signal.SIGTERM, True)]
        assert not sandbox.alive()
        again = backend.call(Action.STOP).result()
        assert again.outcome is CallOutcome.FAILED and "not delivered" in again.detail
    report = sandbox.teardown()
    assert report.way is TeardownWay.ALREADY_GONE
    assert report.exit_code == -signal.SIGTERM
    assert sandbox.teardowns == 2  # the context manager's, and this idempotent one


def test_a_target_ignoring_sigterm_is_killed_by_teardown() -> None:
    """A target that ignores SIGTERM survives it; the harness's teardown has to kill it."""
    sandbox = FakeSandbox(ignores=[signal.SIGTERM])
    sandbox.start()
    sandbox.send_signal(signal.SIGTERM, to_group=True)
    assert sandbox.alive()
    assert sandbox.teardown().way is TeardownWay.KILLED


def test_a_scripted_start_failure_and_a_halt_before_start() -> None:
    """The fake's start fails as scripted, and a halt already requested interrupts it."""
    with pytest.raises(SandboxError, match="port in use"):
        FakeSandbox(start_error="port in use").start()
    halt = Halt()
    halt.set(signal.SIGTERM)
    with pytest.raises(Interrupted) as info:
        FakeSandbox().start(halt)
    assert info.value.signum == signal.SIGTERM


def test_scripted_answers_arrive_on_the_manual_clock() -> None:
    """Each call takes the next answer; it is visible once the clock reaches it, a late one
    is a timeout at the timeout, and the last answer repeats."""
    clock = ManualClock(10 * MS)
    backend = FakeBackend(
        "api",
        clock,
        [Answer(after_ns=5 * MS), Answer(after_ns=None), Answer(CallOutcome.FAILED, "no")],
        timeout_s=0.1,
    )
    first = backend.call(Action.STOP)
    assert first.poll() is None
    clock.advance(5 * MS)
    done = first.poll()
    assert done is not None and done.outcome is CallOutcome.ACKED
    assert done.returned_ns == 15 * MS
    hung = backend.call(Action.STOP)
    clock.advance(99 * MS)
    assert hung.poll() is None
    clock.advance(1 * MS)
    late = hung.poll()
    assert late is not None and late.outcome is CallOutcome.TIMED_OUT
    assert late.returned_ns == hung.issued_ns + 100 * MS
    assert backend.call(Action.RESUME).result().outcome is CallOutcome.FAILED
    assert backend.call(Action.RESUME).result().outcome is CallOutcome.FAILED
    assert [c.action for c in backend.calls] == [Action.STOP] * 2 + [Action.RESUME] * 2
    with pytest.raises(ValueError, match="go back"):
        clock.advance(-1)
