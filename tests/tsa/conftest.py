"""Fixtures of the trusted-time tests: a real local TSA (openssl ts on loopback)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.tsa.local_tsa import LocalTsa, start_local_tsa


@pytest.fixture
def local_tsa(tmp_path: Path) -> Iterator[LocalTsa]:
    """A running local TSA, stopped after the test."""
    tsa = start_local_tsa(tmp_path)
    try:
        yield tsa
    finally:
        tsa.stop()
