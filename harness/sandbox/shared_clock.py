"""Check that a container target's event stamps are on the harness's monotonic clock."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["ClockCheck", "check_shared_clock"]


@dataclass(frozen=True, slots=True)
class ClockCheck:
    """Whether a container target's event stamps lie inside the harness's start window."""

    window_ns: tuple[int, int]
    shared: bool | None
    """None: the target keeps no event log, so nothing could be compared."""
    detail: str
    target_stamps_ns: Mapping[str, int] = field(default_factory=dict)

    def as_event(self) -> dict[str, Any]:
        """The fields of the ``clock_check`` timeline event."""
        event: dict[str, Any] = {"window_ns": list(self.window_ns), "shared": self.shared}
        if self.target_stamps_ns:
            event["target_stamps_ns"] = dict(self.target_stamps_ns)
        event["detail"] = self.detail
        return event


def check_shared_clock(events: Path | None, started_ns: int, ready_ns: int) -> ClockCheck:
    """Whether the target's event stamps are on the harness's monotonic clock.

    The target's ``started`` and ``ready`` events must lie between the instant the harness
    asked the engine to start the container and the instant it saw the target ready. A
    container has no clock of its own (no time namespace), so this holds unless something
    between the two machines' clocks is wrong; the check makes that a recorded fact.
    """
    window = (started_ns, ready_ns)
    stamps = _first_events(events, ("started", "ready")) if events is not None else {}
    if not stamps:
        return ClockCheck(window, None, "the target keeps no event log; clock unchecked")
    inside = all(started_ns <= t <= ready_ns for t in stamps.values())
    detail = (
        "the target's started/ready stamps lie inside the harness's window"
        if inside
        else "the target's stamps lie outside the harness's window: its event log is on"
        " another clock and cannot be compared"
    )
    return ClockCheck(window, inside, detail, stamps)


def _first_events(path: Path, names: Iterable[str]) -> dict[str, int]:
    wanted = set(names)
    found: dict[str, int] = {}
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return found
    for line in lines:
        with contextlib.suppress(ValueError, TypeError, KeyError):
            event = json.loads(line)
            name = event["event"]
            if name in wanted and name not in found:
                found[name] = int(event["t_ns"])
    return found
