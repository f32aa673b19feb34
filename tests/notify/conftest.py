"""Shared alert for the notification tests."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from harness.notify import Alert


@pytest.fixture
def alert() -> Alert:
    """An operator-stop alert with a deadline 30 s away."""
    return Alert(
        drill="operator-stop",
        run_id="r-1234",
        target="model-service",
        summary="The model leaks a canary secret.",
        paths=("admin_api",),
        deadline_s=30.0,
        incident="harmful_output",
        base_url="http://127.0.0.1:8123",
        started_at=datetime(2025, 1, 2, 3, 4, 5, 678000, tzinfo=UTC),
    )
