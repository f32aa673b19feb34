"""A control path that answers from a script on a clock the caller moves (a test double).

It sits beside :class:`harness.control.ControlBackend` as httpx keeps ``MockTransport`` beside
``BaseTransport``: the stop ladder and the steps can be driven by ``tick(now)`` in
milliseconds, with no thread, no socket and no sleep. A scripted answer arrives a set time
after the call was issued; one that would come after the path's timeout (or never) ends
the call as TIMED_OUT at the timeout, as a real path's would.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from harness.control import CallOutcome, ControlBackend, ControlResult, PendingCall
from harness.spec.models import Action

__all__ = ["Answer", "FakeBackend", "ManualClock", "ScriptedCall", "SentCall"]


class ManualClock:
    """A monotonic nanosecond clock that moves only when told to."""

    def __init__(self, now_ns: int = 0) -> None:
        self.now_ns = now_ns

    def __call__(self) -> int:
        return self.now_ns

    def advance(self, ns: int) -> int:
        """Move forward by ``ns``; return the new instant."""
        if ns < 0:
            raise ValueError("a monotonic clock does not go back")
        self.now_ns += ns
        return self.now_ns

    def to(self, now_ns: int) -> int:
        """Move forward to ``now_ns`` (never back); return it."""
        return self.advance(now_ns - self.now_ns)


@dataclass(frozen=True, slots=True)
class Answer:
    """One scripted answer of a control path."""

    outcome: CallOutcome = CallOutcome.ACKED
    detail: str = "ok"
    after_ns: int | None = 0
    """How long after the issue the answer comes; None: never (the call times out)."""


@dataclass(frozen=True, slots=True)
class SentCall:
    """One call the fake path received."""

    action: Action
    params: Mapping[str, Any]
    issued_ns: int


class ScriptedCall(PendingCall):
    """A call in flight whose answer is already known; it is visible once the clock has
    reached it, and ``result()`` returns it without waiting."""

    def __init__(
        self,
        path: str,
        action: Action,
        clock: ManualClock,
        *,
        timeout_s: float,
        answer: Answer,
    ) -> None:
        issued = clock()
        super().__init__(path, action, issued, timeout_s, clock)
        timeout_ns = round(timeout_s * 1e9)
        if answer.after_ns is not None and answer.after_ns <= timeout_ns:
            ends, outcome, detail = answer.after_ns, answer.outcome, answer.detail
        else:
            ends, outcome, detail = timeout_ns, CallOutcome.TIMED_OUT, "no answer (scripted)"
        self._ending = ControlResult(path, action, outcome, issued, issued + ends, detail)
        self._now = clock

    def poll(self) -> ControlResult | None:
        """The result once the clock has reached its answer (or the timeout), else None."""
        return self._ending if self._now() >= self._ending.returned_ns else None

    def result(self) -> ControlResult:
        """The result, at once: the clock is the caller's to move."""
        return self._ending


class FakeBackend(ControlBackend):
    """A control path answering each call with the next scripted answer (the last one again
    when the script runs out); it records every call it got."""

    def __init__(
        self,
        name: str,
        clock: ManualClock,
        answers: Iterable[Answer] = (Answer(),),
        *,
        acknowledges: bool = True,
        timeout_s: float = 5.0,
    ) -> None:
        super().__init__(name, clock)
        self.clock = clock
        self.acknowledges = acknowledges
        self.timeout = timeout_s
        self.calls: list[SentCall] = []
        """Every call received, in order."""
        self._script = list(answers)
        if not self._script:
            raise ValueError("a fake control path needs at least one answer")

    @property
    def timeout_s(self) -> float:
        """The longest one call may take."""
        return self.timeout

    def call(self, action: Action, params: Mapping[str, Any] | None = None) -> PendingCall:
        """Take the next answer; nothing runs until the clock reaches it."""
        answer = self._script.pop(0) if len(self._script) > 1 else self._script[0]
        self.calls.append(SentCall(action, dict(params or {}), self.clock()))
        return ScriptedCall(self.name, action, self.clock, timeout_s=self.timeout, answer=answer)

    def _perform(self, action: Action, params: Mapping[str, Any]) -> tuple[CallOutcome, str]:
        answer = self._script[0]
        return answer.outcome, answer.detail
