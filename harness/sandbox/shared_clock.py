"""Check that a container target's event stamps are on the harness's monotonic clock."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

__all__ = ["check_shared_clock"]


def check_shared_clock(events: Path | None, started_ns: int, ready_ns: int) -> dict[str, Any]:
    """Whether the target's event stamps are on the harness's monotonic clock.

    The target's ``started`` and ``ready`` events must lie between the instant the harness
    asked the engine to start the container and the instant it saw the target ready. A
    container has no clock of its own (no time namespace), so this holds unless something
    between the two machines' clocks is wrong; the check makes that a recorded fact.
    """
    result: dict[str, Any] = {"window_ns": [started_ns, ready_ns]}
    stamps = _first_events(events, ("started", "ready")) if events is not None else {}
    if not stamps:
        result.update(shared=None, detail="the target keeps no event log; clock unchecked")
        return result
    inside = all(started_ns <= t <= ready_ns for t in stamps.values())
    result.update(
        shared=inside,
        target_stamps_ns=stamps,
        detail="the target's started/ready stamps lie inside the harness's window"
        if inside
        else "the target's stamps lie outside the harness's window: its event log is on"
        " another clock and cannot be compared",
    )
    return result


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
