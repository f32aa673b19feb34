"""Drill and target files: parsed at the boundary into typed, frozen objects."""

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
