"""The Docker engine's events for one run's containers, put on the host's monotonic clock.

Engine events carry the engine's wall-clock time. They are put on the host's monotonic clock
with one offset (wall - monotonic) sampled when the sandbox is made; the two clocks do not
drift apart by more than NTP slews them during one drill, so the error is the sampling
bracket (microseconds) plus the engine's own delay in stamping an event (milliseconds).
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from harness.sandbox.labels import LABEL_RUN

__all__ = ["RECORDED_ACTIONS", "Emit", "EngineEvents", "wall_minus_monotonic_ns"]

Emit = Callable[..., None]
"""``emit(name, **fields)``: one timeline event (the engine passes ``Timeline.event``)."""

RECORDED_ACTIONS = frozenset(
    {"create", "start", "die", "stop", "kill", "oom", "pause", "unpause", "restart", "destroy"}
)
"""Container events kept as evidence (exec and attach noise is left out)."""


def wall_minus_monotonic_ns() -> tuple[int, int]:
    """The offset wall - monotonic, and the bracket (ns) it was sampled within."""
    best: tuple[int, int] | None = None
    for _ in range(5):
        before = time.monotonic_ns()
        wall = time.time_ns()
        after = time.monotonic_ns()
        if best is None or after - before < best[1]:
            best = (wall - (before + after) // 2, after - before)
    assert best is not None
    return best


class EngineEvents:
    """The engine's events for one run's containers, read on a thread, stamped on the host's
    monotonic clock and handed to ``emit`` as ``container_event`` timeline events."""

    def __init__(self, client: Any, run_id: str, emit: Emit, offset_ns: int) -> None:
        self._client = client
        self._run_id = run_id
        self._emit = emit
        self._offset_ns = offset_ns
        self._stream: Any = None
        self._thread: threading.Thread | None = None
        self._closed = threading.Event()
        self.tearing_down = False
        """Set by the sandbox when the harness's own teardown begins: later events are its."""
        self.died: dict[str, tuple[int, int | None]] = {}
        """Container id → (monotonic instant, exit code) of its first ``die`` event."""

    def start(self) -> None:
        """Open the stream (from now on) and read it on a daemon thread."""
        self._stream = self._client.events(
            decode=True, filters={"type": "container", "label": f"{LABEL_RUN}={self._run_id}"}
        )
        # In a copy of this context, so the events carry the run's bound drill and run id.
        context = contextvars.copy_context()
        self._thread = threading.Thread(
            target=context.run, args=(self._read,), name="engine-events", daemon=True
        )
        self._thread.start()

    def _read(self) -> None:
        with contextlib.suppress(Exception):  # the stream ends with an error when closed
            for event in self._stream:
                if self._closed.is_set():
                    return
                self._one(event)

    def _one(self, event: Mapping[str, Any]) -> None:
        action = str(event.get("Action") or event.get("status") or "")
        action = action.split(":", 1)[0]
        if action not in RECORDED_ACTIONS:
            return
        attrs = (event.get("Actor") or {}).get("Attributes") or {}
        t_ns = int(event.get("timeNano") or 0) - self._offset_ns
        ident = str((event.get("Actor") or {}).get("ID") or event.get("id") or "")
        fields: dict[str, Any] = {
            "action": action,
            "container": attrs.get("name", ident[:12]),
            "image": attrs.get("image", event.get("from")),
        }
        code: int | None = None
        if "exitCode" in attrs:
            with contextlib.suppress(ValueError):
                code = int(attrs["exitCode"])
            fields["exit_code"] = code
        if "signal" in attrs:
            fields["signal"] = attrs["signal"]
        if action == "die":
            self.died.setdefault(ident, (t_ns, code))
        if self.tearing_down:
            fields["during_teardown"] = True
        self._emit(
            "container_event", t_ns=t_ns, clock="engine wall time - sampled offset", **fields
        )

    def close(self, settle_s: float = 0.3) -> None:
        """Stop reading, after a short wait for the events of the last actions to arrive."""
        if self._stream is None or self._closed.is_set():
            return
        if self._thread is not None:
            self._thread.join(settle_s)
        self._closed.set()
        with contextlib.suppress(Exception):
            self._stream.close()
        if self._thread is not None:
            self._thread.join(2.0)
