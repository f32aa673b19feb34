"""Showing a run as it happens: a live panel on a terminal, plain lines elsewhere, or nothing."""

from __future__ import annotations

import os
import sys
from typing import Any, TextIO

from rich.console import Console
from rich.live import Live
from rich.table import Table

from harness.engine import LiveStatus, View

__all__ = ["PlainView", "QuietView", "RichView", "choose_view"]

# Timeline events worth a line of their own.
_KEY_EVENTS = {
    "target_ready": "target ready at {base_url} after {startup_s:.2f}s start-up",
    "load_ready": "load ready: {users} users",
    "step_fired": "step {step}: {action}",
    "step_returned": "step {step}: {outcome} ({detail})",
    "harm_detected": "harm detected",
    "stop_rung_issued": "stop rung {rung} issued",
    "stop_rung_returned": "stop rung {rung}: {outcome} ({detail})",
    "stop_escalated": "escalating past {from_rung}: {why}",
    "incident_not_injected": (
        "INCIDENT NOT INJECTED: step {step} ({incident}) {outcome}: {detail}"
    ),
    "stop_effective_seen": "stop in effect; holding for {holding_s}s",
    "stop_confirmed": "stop held (rung {rung})",
    "stop_ladder_exhausted": "stop ladder exhausted: {why}",
    "operator_waiting": "waiting on the operator to stop it through {paths}",
    "operator_notified": "notified {notifier}: {outcome} ({detail})",
    "operator_prompt_answer": "operator answered the prompt: {who}",
    "operator_deadline_passed": "OPERATOR DEADLINE PASSED: {deadline}",
    "fallback_started": "FALLBACK: {deadline} deadline missed, climbing {ladder}",
    "contest_filed": "complaint via {via}: {outcome} ({detail})",
    "reversal_confirmed": "harm reversed after the complaint via {via}",
    "load_failed": "LOAD FAILED: {state} {detail}",
    "harness_error": "harness error: {error}",
    "interrupted": "interrupted by signal {signal}",
    "teardown": "teardown: {way}",
    "verdict": "verdict: {verdict}",
}
# The line of an event that lacks a field its template names (a timeline from an older run).
_SHORTER = {"target_ready": "target ready at {base_url}"}


def _line(event: dict[str, Any]) -> str | None:
    template = _KEY_EVENTS.get(str(event.get("event")))
    if template is None:
        return None
    try:
        text = template.format(**event)
    except (KeyError, IndexError, ValueError):
        try:
            text = _SHORTER[str(event.get("event"))].format(**event)
        except (KeyError, IndexError, ValueError):
            text = str(event.get("event"))
    return f"[{event.get('t_s', 0.0):8.3f}s] {text}"


class QuietView:
    """Shows nothing (under pytest, or with --quiet)."""

    def event(self, event: dict[str, Any]) -> None:
        """Ignore the event."""

    def status(self, status: LiveStatus) -> None:
        """Ignore the status."""


class PlainView:
    """One line per key event, for logs and CI."""

    CLOCK_EVERY_S = 10.0
    """A wait on a person prints its countdown this often (a log line, not a repaint)."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._clock_at: float | None = None

    def event(self, event: dict[str, Any]) -> None:
        """Print key events as they happen."""
        line = _line(event)
        if line is not None:
            print(line, file=self._stream, flush=True)

    def status(self, status: LiveStatus) -> None:
        """Plain output repaints nothing; a wait on a person prints its clock now and then."""
        if not status.clock:
            self._clock_at = None
            return
        if self._clock_at is None or status.elapsed_s - self._clock_at >= self.CLOCK_EVERY_S:
            self._clock_at = status.elapsed_s
            print(f"[{status.elapsed_s:8.3f}s] {status.clock}", file=self._stream, flush=True)


class RichView:
    """A live panel: step, request rate, harm, the stop, and the latest events."""

    def __init__(self, drill: str, console: Console | None = None) -> None:
        self._drill = drill
        self._console = console or Console(stderr=True)
        self._events: list[str] = []
        self._status: LiveStatus | None = None
        self._startup_s: float | None = None
        self._live = Live(self._render(), console=self._console, refresh_per_second=8)

    def __enter__(self) -> RichView:
        self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._live.update(self._render())
        self._live.__exit__(None, None, None)

    def _render(self) -> Table:
        table = Table(title=f"govdrill · {self._drill}", expand=False, show_header=False)
        table.add_column(style="bold")
        table.add_column()
        if self._startup_s is not None:
            # A real model server takes seconds to start: shown apart, never in "elapsed".
            table.add_row("start-up", f"{self._startup_s:6.2f} s (target, before the drill)")
        s = self._status
        if s is not None:
            table.add_row("elapsed", f"{s.elapsed_s:6.2f} s")
            table.add_row("step", s.step)
            table.add_row("requests", f"{s.requests:,}  ({s.rate:,.0f}/s)")
            harm_style = "red" if s.harmful else "green"
            table.add_row("harmful", f"[{harm_style}]{s.harmful:,}[/]")
            table.add_row("stop", s.stop_state)
            if s.clock:
                table.add_row("clock", f"[bold yellow]{s.clock}[/]")
        for line in self._events[-8:]:
            table.add_row("", line)
        return table

    def event(self, event: dict[str, Any]) -> None:
        """Add key events to the panel."""
        if event.get("event") == "target_ready" and isinstance(event.get("startup_s"), float):
            self._startup_s = event["startup_s"]
        line = _line(event)
        if line is not None:
            self._events.append(line)
            self._live.update(self._render())

    def status(self, status: LiveStatus) -> None:
        """Refresh the figures."""
        self._status = status
        self._live.update(self._render())


def choose_view(drill: str, *, quiet: bool, stream: TextIO = sys.stderr) -> View:
    """Rich on an interactive terminal, plain lines in CI or pipes, nothing when quiet."""
    if quiet:
        return QuietView()
    interactive = stream.isatty() and not os.environ.get("CI") and os.environ.get("TERM") != "dumb"
    if interactive:
        return RichView(drill)
    return PlainView(stream)
