"""Keep a container's output (bounded) and write it, with the target's event log, into the
run's evidence."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from harness.target_events import copy_event_log

__all__ = ["LOG_CAP_BYTES", "ContainerLogs", "logs_of", "write_collected"]

LOG_CAP_BYTES = 20 * 1024 * 1024
"""The most of each output stream kept per container."""

ContainerLogs = tuple[str, bytes, bytes]
"""A container's label (name and image), stdout and stderr."""


def logs_of(container: Any) -> ContainerLogs:
    """A container's output so far, each stream capped at ``LOG_CAP_BYTES``."""
    out = err = b""
    with contextlib.suppress(Exception):
        out = container.logs(stdout=True, stderr=False)[-LOG_CAP_BYTES:]
        err = container.logs(stdout=False, stderr=True)[-LOG_CAP_BYTES:]
    image = (container.attrs.get("Config") or {}).get("Image", "")
    return f"{container.name} ({image})", out, err


def write_collected(into: Path, logs: list[ContainerLogs], events: Path | None) -> list[Path]:
    """Write the containers' output as target.stdout.log / target.stderr.log (one section
    per container when a redeploy replaced one) and copy the event log."""
    written = []
    for stream in ("stdout", "stderr"):
        dest = into / f"target.{stream}.log"
        with open(dest, "wb") as f:
            for entry in logs:
                if len(logs) > 1:
                    f.write(f"== container {entry[0]} ==\n".encode())
                f.write(entry[1] if stream == "stdout" else entry[2])
        written.append(dest)
    if events is not None and events.is_file():
        dest = into / "target.events.jsonl"
        copy_event_log(events, dest)  # bounded: a target may write gigabytes
        written.append(dest)
    return written
