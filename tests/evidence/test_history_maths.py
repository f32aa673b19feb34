"""The arithmetic of `govdrill history`: percentiles across runs and the sparkline (pure
functions, kept out of the slow modules that run real drills)."""

from __future__ import annotations

import pytest

from harness.history import percentile, sparkline


def test_percentiles_and_sparkline() -> None:
    """p50/p95 interpolate linearly between runs; the sparkline spans low to high."""
    assert percentile([4.0, 1.0, 3.0, 2.0], 50) == 2.5
    assert percentile([1.0, 2.0, 3.0, 4.0], 95) == pytest.approx(3.85)
    assert percentile([], 50) is None
    assert sparkline([1.0, 2.0, 3.0]) == "▁▅█"
