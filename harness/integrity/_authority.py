"""Who ordered or approved a drill: ``--authorized-by`` or $GOVDRILL_AUTHORIZED_BY, checked
once at the boundary and then carried, unchanged, into the signed statement."""

from __future__ import annotations

import os

from harness.errors import Problem, SpecError

__all__ = ["AUTHORIZED_BY_ENV", "MAX_AUTHORIZED_BY", "choose_authorized_by", "printable"]

AUTHORIZED_BY_ENV = "GOVDRILL_AUTHORIZED_BY"
MAX_AUTHORIZED_BY = 200
"""A name, a role, a ticket: enough for "Jane Roe (CISO), CHG-1234", bounded so a hostile
value cannot swell every summary and report."""


def choose_authorized_by(flag: str | None) -> str | None:
    """``--authorized-by`` when given, else $GOVDRILL_AUTHORIZED_BY, else None; SpecError
    (exit 2, before anything runs) for a value that is empty, too long or not printable."""
    source, value = "--authorized-by", flag
    if value is None:
        source, value = f"${AUTHORIZED_BY_ENV}", os.environ.get(AUTHORIZED_BY_ENV)
        if value is None or not value.strip():
            return None
    value = value.strip()
    problem = None
    if not value:
        problem = "empty: name who ordered or approved the drill"
    elif len(value) > MAX_AUTHORIZED_BY:
        problem = f"{len(value)} characters; at most {MAX_AUTHORIZED_BY}"
    elif not value.isprintable():
        # Newlines, escape sequences and bidi overrides would forge lines in a terminal or
        # reorder text in a report: refused, never silently cleaned.
        problem = f"contains control or invisible formatting characters: {printable(value, 80)}"
    if problem is not None:
        raise SpecError([Problem(source, None, "authorized_by", problem, printable(value))])
    return value


def printable(text: str, limit: int = MAX_AUTHORIZED_BY) -> str:
    """``text`` safe for one terminal line: non-printable characters escaped, bounded."""
    shown = text if text.isprintable() else ascii(text)[1:-1]
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"
