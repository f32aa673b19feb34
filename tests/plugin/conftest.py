"""Fixtures of the plugin tests (their small real drills are ``tests.helpers.small_drill``).

``pytester`` itself is enabled by ``-p pytester`` in the pyproject's addopts, because pytest
refuses ``pytest_plugins`` in a conftest below the rootdir.
"""

from __future__ import annotations

import pytest

# In-process pytester runs drop every module first imported during the inner run; yaml, the
# spec models and the engine are imported here so that each inner run sees the same ones.
import harness.engine
import harness.pytest.collect
import harness.pytest.outcome
import harness.pytest.runner
import harness.spec  # noqa: F401
from tests.helpers import TARGETS


@pytest.fixture
def drill_args(pytester: pytest.Pytester) -> list[str]:
    """Arguments every inner run needs: the reference targets and a results folder of its own."""
    return [f"--drill-targets={TARGETS}", f"--drill-results={pytester.path / 'results'}"]
