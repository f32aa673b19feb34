"""Drill files are collected as items (and nothing else is); broken drills are collection
errors naming file and line; the plugin is cheap to load."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.helpers import ROOT, TARGETS, small_drill


def test_shipped_drills_are_collected(pytester: pytest.Pytester) -> None:
    """``pytest drills/`` collects one item per shipped drill file, named after the drill."""
    result = pytester.runpytest("--co", "-q", "-p", "no:cacheprovider", str(ROOT / "drills"))
    files = sorted((ROOT / "drills").rglob("*.yaml"))
    assert files
    collected = [line for line in result.outlines if ".yaml::" in line]
    assert len(collected) == len(files), result.outlines
    for path in files:
        name = path.read_text().split("\n", 1)[0].removeprefix("drill:").strip()
        assert f"{path.relative_to(ROOT).as_posix()}::{name}" in collected
    assert result.ret == pytest.ExitCode.OK


def test_only_yaml_with_a_drill_key_is_collected(pytester: pytest.Pytester) -> None:
    """Target files and other YAML beside drills are not collected; drills are, with both
    suffixes."""
    pytester.makefile(".yaml", ok=small_drill("ok"), ci="name: ci\nsteps: [build, test]\n")
    pytester.makefile(".yml", other=small_drill("other"))
    target = pytester.path / "targets" / "model-service" / "target.yaml"
    target.parent.mkdir(parents=True)
    target.write_text((TARGETS / "model-service" / "target.yaml").read_text())
    result = pytester.runpytest("--co", "-q", f"--drill-targets={TARGETS}")
    assert sorted(line for line in result.outlines if "::" in line) == [
        "ok.yaml::ok",
        "other.yml::other",
    ]


def test_evidence_copies_of_drills_are_not_collected(pytester: pytest.Pytester) -> None:
    """The results folder and any run folder (a ``drill.yaml`` beside a ``summary.json``) are
    skipped, so a second ``pytest`` run does not collect the drills the first one recorded."""
    pytester.makefile(".yaml", ok=small_drill("ok"))
    for run in ("results/ok/20260101T000000Z-0123abcd", "kept/ok/20260101T000000Z-4567cdef"):
        folder = pytester.mkdir(run.split("/")[0]) / run.split("/", 1)[1]
        folder.mkdir(parents=True)
        (folder / "drill.yaml").write_text(small_drill("ok"))
    (pytester.path / "kept" / "ok" / "20260101T000000Z-4567cdef" / "summary.json").write_text("{}")
    result = pytester.runpytest("--co", "-q", f"--drill-targets={TARGETS}")
    assert [line for line in result.outlines if "::" in line] == ["ok.yaml::ok"]


def test_drill_glob_narrows_collection(pytester: pytest.Pytester) -> None:
    """The ``drill_glob`` ini value decides which files are looked at; a pattern with a slash
    matches the path from the rootdir, nested folders included."""
    pytester.makeini("[pytest]\ndrill_glob = drills/*.yaml\n")
    pytester.mkdir("drills")
    pytester.mkdir("drills/nested")
    (pytester.path / "drills" / "nested" / "in.yaml").write_text(small_drill("inside"))
    pytester.makefile(".yaml", outside=small_drill("outside"))
    result = pytester.runpytest("--co", "-q", f"--drill-targets={TARGETS}")
    assert [line for line in result.outlines if "::" in line] == ["drills/nested/in.yaml::inside"]


def test_targets_default_to_beside_and_above_the_drill(pytester: pytest.Pytester) -> None:
    """Without ``--drill-targets`` a drill finds ``targets/<name>/`` above it, as the CLI does."""
    (pytester.path / "targets").symlink_to(TARGETS)
    pytester.mkdir("drills")
    (pytester.path / "drills" / "ok.yaml").write_text(small_drill("ok"))
    result = pytester.runpytest("--co", "-q", "drills")
    assert [line for line in result.outlines if "::" in line] == ["drills/ok.yaml::ok"]


def test_k_selects_drills_by_name(pytester: pytest.Pytester) -> None:
    """``-k`` selects drills by their drill name like any other test."""
    pytester.makefile(".yaml", first=small_drill("alpha-drill"), second=small_drill("beta-drill"))
    result = pytester.runpytest("--co", "-q", "-k", "beta", f"--drill-targets={TARGETS}")
    assert [line for line in result.outlines if "::" in line] == ["second.yaml::beta-drill"]
    result.stdout.fnmatch_lines(["1/2 tests collected (1 deselected)*"])


def test_broken_drill_is_a_collection_error_with_file_and_line(pytester: pytest.Pytester) -> None:
    """A drill that does not load fails collection with ``file:line: field: message`` lines and
    no Python traceback."""
    text = small_drill("broken").replace("  users: 4", "  userz: 4")
    text = text.replace("hold: 300ms", "hold: soon")
    pytester.makefile(".yaml", broken=text)
    result = pytester.runpytest(f"--drill-targets={TARGETS}")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(
        [
            "*ERROR collecting broken.yaml*",
            "*broken.yaml:6: load.userz: unknown key; did you mean 'users'?",
            "*broken.yaml:18: hold: *",
            "*1 error*",
        ]
    )
    assert "Traceback" not in result.stdout.str()
    assert "harness/" not in result.stdout.str()


def test_invalid_yaml_drill_is_a_collection_error(pytester: pytest.Pytester) -> None:
    """A drill file that is not even valid YAML is still recognised and reported at its line."""
    pytester.makefile(".yaml", bad="drill: bad\ntarget: model-service\nload: {users: [1, 2}\n")
    result = pytester.runpytest(f"--drill-targets={TARGETS}")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(["*bad.yaml:3: invalid YAML*"])


def test_options_and_markers_are_registered(pytester: pytest.Pytester) -> None:
    """The ``--drill-*`` options and the ``drill`` marker exist beside Locust's own plugin."""
    result = pytester.runpytest("--help")
    result.stdout.fnmatch_lines(
        ["*--drill-sandbox*", "*--drill-results*", "*--drill-set*", "*--drill-targets*"]
    )
    assert pytester.runpytest("--markers").stdout.fnmatch_lines(["@pytest.mark.drill:*"]) is None


def test_plugin_import_is_light() -> None:
    """Importing the plugin pulls in neither the engine, the spec models, the metrics, nor
    Locust or gevent."""
    code = (
        "import sys, harness.pytest.plugin\n"
        "heavy = ('harness.engine', 'harness.spec', 'harness.metrics', 'locust', 'gevent',"
        " 'pydantic')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy or m in heavy))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    )
    assert done.stdout.strip() == "[]"
