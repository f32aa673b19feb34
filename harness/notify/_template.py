"""Filling a notification template: ``{placeholders}`` from the alert, ``${NAME}`` secrets.

One pass over each string, left to right: a value put in is never scanned again, so an alert
whose summary says ``{run_id}`` or ``${admin_token}`` (a drill's text, a target's words) is
sent as those characters, never as what they name. Values go into a JSON *value*, and the
body is serialised with ``json.dumps`` afterwards, so quotes, backslashes and control
characters in them stay escaped. A string that is exactly one placeholder keeps its type
(``"{deadline}"`` is a number, ``"{paths}"`` a list); inside longer text it is rendered.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from harness.notify._records import Alert, iso_utc

__all__ = ["TemplateError", "fill", "fill_text", "placeholder_values", "render"]

_TOKEN = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\{([A-Za-z_][A-Za-z0-9_]*)\}")


class TemplateError(Exception):
    """A ``${NAME}`` the run did not resolve (the message names it, never a value)."""


def placeholder_values(alert: Alert, now_ns: int) -> dict[str, Any]:
    """The typed value of every placeholder for ``alert`` sent at ``now_ns``."""
    due = alert.due_at(now_ns)
    left = None if due is None else round(max(due - now_ns, 0) / 1e9, 1)
    return {
        "drill": alert.drill,
        "run_id": alert.run_id,
        "target": alert.target,
        "summary": alert.summary,
        "paths": list(alert.paths),
        "deadline": left,
        "incident": alert.incident,
        "base_url": alert.base_url,
        "started_at": iso_utc(alert.started_at),
    }


def render(value: Any) -> str:
    """A placeholder's value as text inside a longer string."""
    if value is None:
        return "none"
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def fill_text(text: str, values: Mapping[str, Any], secrets: Mapping[str, str]) -> Any:
    """``text`` with its placeholders and secrets filled in one pass (a lone placeholder
    keeps its type); an unknown ``{name}`` stays as written (validation refused those)."""
    whole = _TOKEN.fullmatch(text)
    if whole is not None and whole.group(2) in values:
        return values[whole.group(2)]

    def one(match: re.Match[str]) -> str:
        secret, name = match.group(1), match.group(2)
        if secret is not None:
            try:
                return secrets[secret]
            except KeyError:
                raise TemplateError(f"${{{secret}}} was not resolved for this run") from None
        return render(values[name]) if name in values else match.group(0)

    return _TOKEN.sub(one, text)


def fill(template: Any, values: Mapping[str, Any], secrets: Mapping[str, str]) -> Any:
    """A copy of the JSON ``template`` with every string filled (keys are left as written)."""
    if isinstance(template, str):
        return fill_text(template, values, secrets)
    if isinstance(template, dict):
        return {key: fill(item, values, secrets) for key, item in template.items()}
    if isinstance(template, list):
        return [fill(item, values, secrets) for item in template]
    return template
