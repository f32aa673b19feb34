"""A log loaded column by column holds exactly what the same rows appended one by one do."""

from __future__ import annotations

import pytest

from harness.observations import Observation, ObservationLog, State


def test_columns_and_rows_give_the_same_log() -> None:
    """Same columns, same version table (with folding past the limit), same rows."""
    rows = [
        Observation(i, i + 5, 200 if i % 3 else 503, State(i % 3), i % 2 == 0, f"v{i % 4}")
        for i in range(40)
    ]
    by_rows = ObservationLog(max_versions=2)
    by_rows.extend(rows)
    by_columns = ObservationLog(max_versions=2)
    by_columns.extend_columns(
        [o.start_ns for o in rows],
        [o.end_ns for o in rows],
        [o.status for o in rows],
        [int(o.state) for o in rows],
        [int(o.harmful) for o in rows],
        [o.version for o in rows],
    )
    assert by_columns.columns() == by_rows.columns()
    assert by_columns.versions() == by_rows.versions()
    assert by_columns.version_counts() == by_rows.version_counts()
    assert list(by_columns) == list(by_rows)


def test_columns_of_different_lengths_are_refused() -> None:
    """A short column is an error, and nothing is added."""
    log = ObservationLog()
    with pytest.raises(ValueError, match="one value per row"):
        log.extend_columns([1, 2], [3, 4], [200, 200], [0, 0], [0], ["", ""])
    assert len(log) == 0
