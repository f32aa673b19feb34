"""The hooks pytest calls: options, markers, drill file collection and the ``drill_runner``
fixture. This module only forwards; the work, and every heavy import, happens elsewhere."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from harness.platform_check import platform_problem
from harness.pytest.settings import SETTINGS, DrillSettings, settings_of
from harness.sandbox_kind import SandboxKind

if TYPE_CHECKING:
    from harness.pytest.collect import DrillFile
    from harness.pytest.runner import DrillRunner

YAML_SUFFIXES = (".yaml", ".yml")
SANDBOXES = tuple(SandboxKind)


def pytest_addoption(parser: pytest.Parser) -> None:
    """Register the ``--drill-*`` options and ``drill_*`` ini values."""
    group = parser.getgroup("govdrill", "governability drills (govdrill)")
    group.addoption(
        "--drill-sandbox",
        choices=SANDBOXES,
        default=None,
        help="run every drill in this sandbox instead of the one it names",
    )
    group.addoption(
        "--drill-results",
        default=None,
        metavar="DIR",
        help="where runs write their evidence (default: the drill_results ini value, else"
        " results/ in the rootdir)",
    )
    group.addoption(
        "--drill-set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a field of every drill, e.g. --drill-set load.users=5 (repeatable)",
    )
    group.addoption(
        "--drill-targets",
        action="append",
        default=[],
        metavar="DIR",
        help="look for targets/<name>/target.yaml here first (repeatable)",
    )
    group.addoption(
        "--drill-tsa",
        default=None,
        metavar="URL",
        help="timestamp each run's attestation at this RFC 3161 TSA (default: the drill_tsa"
        " ini value); a run without its token fails its test",
    )
    group.addoption(
        "--drill-authorized-by",
        default=None,
        metavar="NAME",
        help="who ordered or approved the drills, signed into each run (default:"
        " $GOVDRILL_AUTHORIZED_BY)",
    )
    parser.addini(
        "drill_glob",
        type="args",
        default=[],
        help="patterns of drill files (default: *.yaml *.yml; a pattern with a / is matched"
        " against the path from the rootdir); only YAML with a top-level drill: key is collected",
    )
    parser.addini("drill_results", type="string", default="", help="default of --drill-results")
    parser.addini("drill_tsa", type="string", default="", help="default of --drill-tsa")
    parser.addini(
        "drill_targets", type="paths", default=[], help="folders searched for targets first"
    )


def pytest_configure(config: pytest.Config) -> None:
    """Register the markers and resolve the drill settings once."""
    config.addinivalue_line("markers", "drill: a govdrill drill run as a test")
    if not any(line.split(":")[0].strip() == "slow" for line in config.getini("markers")):
        config.addinivalue_line("markers", "slow: runs a whole drill (govdrill)")
    config.stash[SETTINGS] = DrillSettings.from_config(config)


def pytest_collection_finish(session: pytest.Session) -> None:
    """Start the first drill's load child now, when drills will run: it imports Locust while
    pytest gets to that drill and the engine is imported."""
    from harness.pytest.collect import DrillItem

    if session.config.option.collectonly or not any(
        isinstance(item, DrillItem) for item in session.items
    ):
        return
    from harness.pytest.runner import session_pool

    session_pool(session.config).refill()


def pytest_unconfigure(config: pytest.Config) -> None:
    """Kill the session's spare load child (there is one only if a drill ran)."""
    from harness.pytest.runner import close_session_pool

    close_session_pool(config)


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """Never walk the results folder: its runs hold ``drill.yaml`` copies of drills."""
    results = settings_of(config).results
    return True if collection_path == results or results in collection_path.parents else None


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> DrillFile | None:
    """Collect a YAML file as a drill when it matches ``drill_glob`` (or was named on the
    command line), is not part of a run's evidence, and its top-level mapping has a
    ``drill:`` key."""
    settings = settings_of(parent.config)
    named = parent.session.isinitpath(file_path) and file_path.suffix in YAML_SUFFIXES
    if not (named or settings.matches(file_path)):
        return None
    if (file_path.parent / "summary.json").exists():
        return None  # the drill as run, inside a run's evidence folder elsewhere
    from harness.pytest.collect import DrillFile, is_drill_file

    if not is_drill_file(file_path):
        return None
    problem = platform_problem()
    if problem is not None:  # refused where a drill would run, not in unrelated suites
        raise pytest.UsageError(f"{file_path}: {problem}")
    file: DrillFile = DrillFile.from_parent(parent, path=file_path)
    return file


@pytest.fixture
def drill_runner(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[DrillRunner]:
    """Load, build and run drills from a test, with the session's ``--drill-*`` settings;
    every run's metrics become the test's JUnit properties."""
    from harness.pytest.runner import DrillRunner, session_pool

    problem = platform_problem()
    if problem is not None:
        pytest.fail(problem, pytrace=False)
    yield DrillRunner(
        settings_of(request.config),
        scratch=tmp_path,
        properties=request.node.user_properties,
        pool=session_pool(request.config),
    )
