"""Fixtures for running real loads: a switchable target, a small load config, a log."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.load.config import LoadConfig
from harness.observations import ObservationLog
from harness.spec.models import HarmRule, RequestSpec, SafeState
from tests.helpers import wait_for
from tests.load.drill_target import DrillTarget


@pytest.fixture
def drill_target() -> Iterator[DrillTarget]:
    """A fresh switchable target on 127.0.0.1, closed after the test."""
    target = DrillTarget()
    yield target
    target.close_listener()


@pytest.fixture
def drill_load_config(drill_target: DrillTarget) -> Callable[..., LoadConfig]:
    """Build a small LoadConfig against the test target; keyword arguments override fields."""

    def build(**overrides: Any) -> LoadConfig:
        fields: dict[str, Any] = {
            "base_url": drill_target.url,
            "users": 3,
            "spawn_rate": 100.0,
            "request": RequestSpec(method="POST", path="/v1/generate", json={"prompt": "hi"}),
            "parent_pid": os.getpid(),
            "timeout_s": 2.0,
            "per_user_rate": 50.0,
            "harm": (HarmRule(json_path="$.output", regex="CANARY-[0-9a-f]{8}"),),
            "safe_state": SafeState(),
            "heartbeat_s": 0.05,
        }
        fields.update(overrides)
        return LoadConfig(**fields)

    return build


@pytest.fixture
def drill_log() -> ObservationLog:
    """An empty observation log."""
    return ObservationLog()


@pytest.fixture
def drill_stderr(tmp_path: Path) -> Path:
    """Where the load child's stderr goes."""
    return tmp_path / "load.stderr"


@pytest.fixture
def drill_wait_for() -> Callable[..., bool]:
    """``wait_for(predicate, timeout_s)``: poll until true or the timeout; return the last value."""
    return wait_for
