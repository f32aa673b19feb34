"""Drill and target files: parsed at the boundary into typed, frozen objects.

The names below are imported on first use (PEP 562), so importing one small module of this
package (the load child imports :mod:`harness.spec.load` before Locust) does not build every
model of the drill and target files.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from harness.spec.durations import Duration, format_duration, parse_duration
    from harness.spec.loader import apply_overrides, find_target_file, load_drill, load_target
    from harness.spec.models import (
        Action,
        ControlPath,
        Deadlines,
        Drill,
        Expect,
        HarmRule,
        LoadSpec,
        RunVerdict,
        SafeState,
        Step,
        Target,
        Trigger,
    )

_HOME = {
    "Duration": "durations",
    "format_duration": "durations",
    "parse_duration": "durations",
    "apply_overrides": "loader",
    "find_target_file": "loader",
    "load_drill": "loader",
    "load_target": "loader",
    **{
        name: "models"
        for name in (
            "Action",
            "ControlPath",
            "Deadlines",
            "Drill",
            "Expect",
            "HarmRule",
            "LoadSpec",
            "RunVerdict",
            "SafeState",
            "Step",
            "Target",
            "Trigger",
        )
    },
}

__all__ = [
    "Action",
    "ControlPath",
    "Deadlines",
    "Drill",
    "Duration",
    "Expect",
    "HarmRule",
    "LoadSpec",
    "RunVerdict",
    "SafeState",
    "Step",
    "Target",
    "Trigger",
    "apply_overrides",
    "find_target_file",
    "format_duration",
    "load_drill",
    "load_target",
    "parse_duration",
]


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value  # later lookups skip this function
    return value
