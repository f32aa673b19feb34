"""Real model servers from the package index run from cached venvs (``targets/venvs.py``);
their tests skip when a venv is missing, unless ``GOVDRILL_REQUIRE_SERVERS`` is set (as
``.ci/run`` does), which turns the skip into a failure."""

from __future__ import annotations

import importlib.util
import os
import sys
from types import ModuleType

import pytest

from tests.helpers import TARGETS


def _venvs() -> ModuleType:
    spec = importlib.util.spec_from_file_location("govdrill_target_venvs", TARGETS / "venvs.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


VENVS = _venvs()


def require_server_venv(target: str) -> None:
    """Skip (or with GOVDRILL_REQUIRE_SERVERS, fail) unless ``target``'s venv is built and
    linked for its current requirements."""
    place = VENVS.place_of(target)
    if VENVS.ready(place):
        return
    problem = (
        f"the {target} venv is not built for its requirements ({place.cached});"
        f" run: python3 targets/venvs.py {target}"
    )
    if os.environ.get("GOVDRILL_REQUIRE_SERVERS"):
        pytest.fail(f"GOVDRILL_REQUIRE_SERVERS is set but {problem}", pytrace=False)
    pytest.skip(f"{problem} (set GOVDRILL_REQUIRE_SERVERS=1 to make this a failure)")
