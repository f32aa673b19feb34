"""Where a ``${NAME}`` may appear: only in the fields the harness resolves at run time.

A ``${NAME}`` anywhere else would reach the target or the evidence as the literal text
``${NAME}`` (or, in argv, where every user of the machine can read it), so validation refuses
it with the file, line and field. The fields that resolve:

- ``control_paths.<name>.http.headers.<header>`` (sent with every call of that path);
- ``control_paths.<name>.command.env.<VAR>`` (an environment variable of the harness's own
  commands of that path, incidents through it included);
- ``sandboxes.process.env.<VAR>`` (an environment variable of the target: how a secret
  reaches a process-sandboxed target besides its file in ``{secrets_dir}``);

Never in an argv (a sandbox's command, a command path's or incident's command, a readiness
command): every user of the machine can read a process's argv, so there the refusal says
"secrets go to env, never argv".
- in a drill, ``load.request.headers.<header>``, and the fields above under an inline
  ``target:``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from harness.errors import Problem
from harness.spec._yaml import Located

__all__ = ["RESOLVED_FIELDS", "reference_problems"]

_REF = re.compile(r"\$\{([^}]*)\}")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_ANY = "*"
_TARGET_FIELDS: tuple[tuple[str, ...], ...] = (
    ("control_paths", _ANY, "http", "headers", _ANY),
    ("control_paths", _ANY, "command", "env", _ANY),
    ("sandboxes", "process", "env", _ANY),
)
_TARGET_ARGV: tuple[tuple[str, ...], ...] = (
    ("sandboxes", _ANY, "command"),
    ("control_paths", _ANY, "command", "stop"),
    ("control_paths", _ANY, "command", "resume"),
    ("control_paths", _ANY, "command", "rollback"),
    ("incidents", _ANY, "enable"),
    ("incidents", _ANY, "disable"),
    ("ready", "command"),
)
_DRILL_FIELDS: tuple[tuple[str, ...], ...] = (
    ("load", "request", "headers", _ANY),
    *(("target", *fields) for fields in _TARGET_FIELDS),
)
_DRILL_ARGV = (("target_args",), *(("target", *fields) for fields in _TARGET_ARGV))
RESOLVED_FIELDS = (
    "control_paths.*.http.headers, control_paths.*.command.env, sandboxes.process.env"
    " and load.request.headers"
)
"""The fields that resolve ``${NAME}``, as a message names them."""


def reference_problems(
    node: Any, located: Located, *, target_file: bool, path: tuple[str | int, ...] = ()
) -> list[Problem]:
    """Every ``${...}`` in ``node`` (a drill, or a target file when ``target_file``) that is
    not a plain ``${NAME}`` or sits in a field that does not resolve it."""
    allowed = _TARGET_FIELDS if target_file else _DRILL_FIELDS
    argv = _TARGET_ARGV if target_file else _DRILL_ARGV
    problems: list[Problem] = []

    def walk(node: Any, path: tuple[str | int, ...]) -> None:
        if isinstance(node, str):
            for match in _REF.finditer(node):
                message = ""
                if not _NAME.match(match.group(1)):
                    message = f"${{{match.group(1)}}} is not a valid reference; use ${{NAME}}"
                elif _in_argv(path, argv):
                    message = f"secrets go to env, never argv: {_dotted(path)}"
                elif not _resolves(path, allowed):
                    message = (
                        f"${{{match.group(1)}}} is not resolved in this field; ${{NAME}} is"
                        f" resolved only in {RESOLVED_FIELDS} (a secret reaches a process"
                        " target through sandboxes.process.env or its file, never argv)"
                    )
                if message:
                    problems.append(
                        Problem(located.file, located.line_of(path), _dotted(path), message)
                    )
                    return
        elif isinstance(node, Mapping):
            for key, value in node.items():
                if _REF.search(str(key)):
                    problems.append(
                        Problem(
                            located.file,
                            located.line_of((*path, str(key))),
                            _dotted((*path, str(key))),
                            "a key is never resolved; ${NAME} belongs in a value",
                        )
                    )
                walk(value, (*path, str(key)))
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, (*path, i))

    walk(node, path)
    return problems


def _in_argv(path: tuple[str | int, ...], argvs: tuple[tuple[str, ...], ...]) -> bool:
    """Whether ``path`` is a command field of ``argvs`` (a shell string) or one of its items
    (an argv list): not a field inside an HTTP call written in the same place."""
    for fields in argvs:
        head, rest = path[: len(fields)], path[len(fields) :]
        matches = len(head) == len(fields) and all(
            want in (_ANY, got) for want, got in zip(fields, head, strict=True)
        )
        if matches and (not rest or (len(rest) == 1 and isinstance(rest[0], int))):
            return True
    return False


def _resolves(path: tuple[str | int, ...], allowed: tuple[tuple[str, ...], ...]) -> bool:
    """Whether ``path`` is one of ``allowed`` fields or inside one (a command's argv items)."""
    for fields in allowed:
        if len(path) >= len(fields) and all(
            want in (_ANY, got) for want, got in zip(fields, path, strict=False)
        ):
            return True
    return False


def _dotted(loc: tuple[str | int, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out
