"""--report-template: a folder's templates replace the installed ones by name; a bad one is
bad input (exit 2, naming the file and line) and nothing is written."""

from __future__ import annotations

import fnmatch
import tomllib
from pathlib import Path

from harness.report._templates import TEMPLATE_DIR
from tests.helpers import ROOT, govdrill
from tests.report.run_folder import write_run

DRILL = ROOT / "tests" / "report" / "markup.yaml"


def _templates(folder: Path, **files: str) -> Path:
    folder.mkdir()
    for name, text in files.items():
        (folder / name.replace("__", ".")).write_text(text, encoding="utf-8")
    return folder


def test_a_user_template_replaces_the_installed_one_by_name(tmp_path: Path) -> None:
    """A branded page template sets its own title and still includes an installed partial;
    a replaced partial shows up inside the installed page."""
    run = write_run(tmp_path / "run", poison=False)
    page = _templates(
        tmp_path / "page",
        report__html__j2="<!DOCTYPE html>\n<title>ACME audit of {{ summary.drill }}</title>\n"
        '{% include "_tiles.html.j2" %}\n',
    )
    out = tmp_path / "page.html"
    done = govdrill("report", str(run), "--out", str(out), "--report-template", str(page))
    assert done.returncode == 0, done.stderr
    html = out.read_text(encoding="utf-8")
    assert "<title>ACME audit of markup</title>" in html
    assert '<div class="tile"><span>time to stop</span>' in html
    part = _templates(tmp_path / "part", _files__html__j2="<p>Filed by ACME Assurance.</p>\n")
    done = govdrill("report", str(run), "--out", str(out), "--report-template", str(part))
    assert done.returncode == 0, done.stderr
    html = out.read_text(encoding="utf-8")
    assert "<p>Filed by ACME Assurance.</p>" in html
    assert "<h2>Evidence mapping</h2>" in html and "manifest.json</code> holds" not in html


def test_a_template_syntax_error_is_bad_input_naming_file_and_line(tmp_path: Path) -> None:
    """`govdrill report` with a broken template exits 2 naming file:line and writes nothing."""
    run = write_run(tmp_path / "run", poison=False)
    broken = _templates(tmp_path / "broken", _tiles__html__j2="<div>\n\n{% if %}\n</div>\n")
    out = tmp_path / "page.html"
    done = govdrill("report", str(run), "--out", str(out), "--report-template", str(broken))
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"{broken / '_tiles.html.j2'}:3:" in done.stderr
    assert "Traceback" not in done.stderr
    assert not out.exists()
    assert not (run / "report.html").exists()


def test_an_undefined_variable_is_bad_input_naming_file_and_line(tmp_path: Path) -> None:
    """A template that uses a variable the report does not give fails at its line, exit 2."""
    run = write_run(tmp_path / "run", poison=False)
    wrong = _templates(tmp_path / "wrong", _files__html__j2="<p>\n{{ summary.no_such_key }}</p>\n")
    done = govdrill("report", str(run), "--report-template", str(wrong))
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"{wrong / '_files.html.j2'}:2:" in done.stderr
    assert "no_such_key" in done.stderr
    assert not (run / "report.html").exists()


def test_run_with_a_bad_template_folder_runs_nothing(tmp_path: Path) -> None:
    """`govdrill run` checks the templates before any drill: a missing folder or a syntax
    error exits 2 and leaves no results folder behind."""
    results = tmp_path / "results"
    missing = tmp_path / "missing"
    done = govdrill("run", str(DRILL), "--results", str(results), "--report-template", str(missing))
    assert done.returncode == 2, done.stdout + done.stderr
    assert str(missing) in done.stderr and "no such folder" in done.stderr
    broken = _templates(tmp_path / "broken", report__css="{% endif %}\n")
    done = govdrill("run", str(DRILL), "--results", str(results), "--report-template", str(broken))
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"{broken / 'report.css'}:1:" in done.stderr
    assert not results.exists()


def test_every_installed_template_is_package_data() -> None:
    """pyproject's package-data globs cover every file of the installed template folder, so a
    wheel install can render a report (checked by hand with `pip wheel`, see the report)."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    globs = config["tool"]["setuptools"]["package-data"]["harness.report"]
    files = [p.relative_to(TEMPLATE_DIR.parent).as_posix() for p in TEMPLATE_DIR.iterdir()]
    assert files
    for name in files:
        assert any(fnmatch.fnmatch(name, g) for g in globs), name
