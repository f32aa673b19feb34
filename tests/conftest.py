"""Fixtures every test folder shares."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def results(tmp_path: Path) -> Path:
    """A fresh results folder."""
    return tmp_path / "results"
