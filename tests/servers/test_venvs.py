"""targets/venvs.py: a venv is built once per requirements, linked atomically, and reused."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.servers.conftest import VENVS


@pytest.mark.slow
def test_venv_is_built_once_then_reused_and_rebuilt_on_change(tmp_path: Path) -> None:
    """The first call builds and links; the second finds it cached; new requirements get a
    new venv and the link moves to it, the old one left for other checkouts."""
    targets, cache = tmp_path / "targets", tmp_path / "cache"
    (targets / "t").mkdir(parents=True)
    requirements = targets / "t" / "requirements.txt"
    requirements.write_text("# nothing to install\n")
    first = VENVS.place_of("t", cache, targets)
    assert VENVS.ensure(first) is not None
    assert VENVS.ready(first) and first.python.exists()
    assert VENVS.ensure(first) is None  # cached
    requirements.write_text("# nothing to install, other words\n")
    second = VENVS.place_of("t", cache, targets)
    assert second.cached != first.cached
    assert VENVS.ensure(second) is not None
    assert VENVS.ready(second) and not VENVS.ready(first)
    assert first.cached.is_dir()
    assert not [p for p in cache.iterdir() if ".building-" in p.name]  # none half-built
