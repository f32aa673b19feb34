"""govdrill runs on Linux only: it reads ``/proc``, contains targets with ``prctl`` and
cgroups, and its timing rests on Linux's monotonic clock. Elsewhere it refuses up front with
a clear message rather than failing halfway through a drill (or, worse, measuring wrongly)."""

from __future__ import annotations

import sys

__all__ = ["SUPPORTED_PLATFORM", "platform_problem"]

SUPPORTED_PLATFORM = "linux"


def platform_problem() -> str | None:
    """Why govdrill cannot run on this platform, or None on Linux (read at call time)."""
    if sys.platform.startswith(SUPPORTED_PLATFORM):
        return None
    return (
        f"govdrill runs only on Linux (this is {sys.platform!r}): it reads /proc and"
        " contains targets with prctl and cgroups; run it on a Linux host, VM or container"
    )
