"""The report's Jinja2 templates: the installed ones, each replaceable by name from a folder.

Autoescape is on for every template and undefined names are errors (StrictUndefined), so a
value reaches the page as text unless the harness built it as markup itself. A user's folder
(``--report-template DIR``) is searched first and the installed templates second. Every
template is compiled when the environment is made, so a syntax error is bad input (exit 2,
naming the file and line) before anything is written.
"""

from __future__ import annotations

import functools
import json
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

from jinja2 import (
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    PackageLoader,
    StrictUndefined,
    TemplateError,
    TemplateSyntaxError,
    select_autoescape,
)
from markupsafe import Markup

from harness.errors import Problem, SpecError
from harness.report._numbers import format_bounded, format_number, plus

__all__ = ["PAGE", "TEMPLATE_DIR", "render_page", "report_templates"]

PAGE = "report.html.j2"
"""The page template; the others are included from it."""

TEMPLATE_DIR = Path(__file__).parent / "templates"
"""The installed templates (package data)."""


def _pill(value: Any, extra: str = "") -> Markup:
    """A coloured word: its class is the lowered word, so a verdict or phase picks its colour."""
    word = str(value)
    classes = f"pill {extra} {word.lower()}" if extra else f"pill {word.lower()}"
    return Markup('<span class="{}">{}</span>').format(classes, word)


def _minus(upper: Any, lower: Any) -> float | None:
    """``upper - lower`` when both are known numbers, else None."""
    if not isinstance(lower, int | float) or isinstance(lower, bool):
        return None
    return plus(upper, -lower)


def _seconds(metric: Any) -> bool:
    unit = metric.get("unit") if isinstance(metric, dict) else getattr(metric, "unit", None)
    return bool(unit == "s")


def _bounded_value(metric: Any) -> str:
    """A metric's value, with its unit when in seconds (the tile's big number)."""
    seconds = _seconds(metric)
    value = format_bounded(metric, seconds=seconds).partition(" ")[0]
    return f"{value} s" if seconds else value


def _bounded_range(metric: Any) -> str:
    """A metric's ``[lower, upper]``."""
    return format_bounded(metric, seconds=_seconds(metric)).partition(" ")[2]


def _thousands(value: Any) -> str:
    """A count of bytes or lines with thousands separators (anything else as it is)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return format_number(value)


FILTERS: dict[str, Callable[..., Any]] = {
    "num": format_number,
    "pill": _pill,
    "plus": plus,
    "minus": _minus,
    "bounded_value": _bounded_value,
    "bounded_range": _bounded_range,
    "json": json.dumps,
    "thousands": _thousands,
}
"""The filters every template may use (docs/report-templates.md describes them)."""


def report_templates(folder: Path | None = None) -> Environment:
    """The templates of ``folder`` over the installed ones, all compiled; raises SpecError
    (exit 2) naming the folder, or the file and line of a syntax error."""
    return _installed() if folder is None else _environment(folder)


@functools.cache
def _installed() -> Environment:
    """The installed templates alone, compiled once per process (they never change)."""
    return _environment(None)


def _environment(folder: Path | None) -> Environment:
    loaders: list[FileSystemLoader | PackageLoader] = []
    if folder is not None:
        if not folder.is_dir():
            raise SpecError([Problem(str(folder), None, "--report-template", "no such folder")])
        loaders.append(FileSystemLoader(folder))
    loaders.append(PackageLoader("harness.report", "templates"))
    env = Environment(
        loader=ChoiceLoader(loaders),
        autoescape=select_autoescape(
            enabled_extensions=("html", "j2", "htm", "xml", "svg"), default=True
        ),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(FILTERS)
    problems = []
    for name in env.list_templates():
        try:
            env.get_template(name)
        except TemplateSyntaxError as exc:
            problems.append(Problem(exc.filename or name, exc.lineno, "", exc.message or str(exc)))
        except (TemplateError, UnicodeDecodeError) as exc:
            problems.append(Problem(_where(env, name), None, "", str(exc)))
    if problems:
        raise SpecError(problems)
    return env


def render_page(env: Environment, context: dict[str, Any]) -> str:
    """The page from ``context``; a template that fails while rendering (an undefined
    variable, a missing include) is bad input naming the template's file and line."""
    try:
        return env.get_template(PAGE).render(context)
    except TemplateError as exc:
        file, line = _failing_line(exc.__traceback__)
        raise SpecError([Problem(file or PAGE, line, "", f"report template: {exc}")]) from exc


def _where(env: Environment, name: str) -> str:
    """The file a template name comes from, as best known."""
    try:
        _source, filename, _uptodate = env.loader.get_source(env, name)  # type: ignore[union-attr]
    except (TemplateError, UnicodeDecodeError, OSError):
        return name
    return filename or name


def _failing_line(tb: types.TracebackType | None) -> tuple[str | None, int | None]:
    """The innermost template frame of a rendering error (Jinja rewrites its traceback so
    template frames carry the template's file and line)."""
    found: tuple[str | None, int | None] = (None, None)
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if filename.endswith((".j2", ".css", ".html")):
            found = (filename, tb.tb_lineno)
        tb = tb.tb_next
    return found
