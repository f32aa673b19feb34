"""Resolve a run's secrets: the target's declared ones and every ``${NAME}`` the drill uses.

Every value a ``${NAME}`` resolves to is a secret, declared or not: it goes into the run's one
``Redactor`` and is never written into the evidence. A declared secret comes from the
environment (``env:``), a file (``file:``, relative to the target's folder) or is generated
for the run (``generate: true``), tried in that order; it reaches the target as a file only
it can read (``{secrets_dir}/<name>``) and, when the target's ``env:`` names it, as an
environment variable. A ``${NAME}`` that is not a declared secret comes from the harness's
environment.

One trailing newline (``\\n`` or ``\\r\\n``) is stripped from values read from a file or the
environment, as ``echo TOKEN > file`` leaves one. A value shorter than ``MIN_SECRET_CHARS``
is refused (it is guessable, and hiding it would mangle the evidence), and so is one sent in
an HTTP header with a line break or NUL inside it. Problems name the field, never the value.
"""

from __future__ import annotations

import os
import secrets as _random
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.control import REFERENCE
from harness.errors import Problem, SpecError
from harness.redact import MIN_SECRET_CHARS, Redactor, SecretValues
from harness.spec.models import Drill, SecretSpec

__all__ = ["RunSecrets", "references", "resolve_secrets"]

_HEADER_UNSAFE = ("\r", "\n", "\0")


@dataclass(frozen=True, slots=True, repr=False)
class RunSecrets:
    """What one run knows that must never be written down."""

    files: Mapping[str, str]
    """The target's declared secrets, by name: written as files for the target."""
    values: SecretValues
    """The value of every ``${NAME}`` the drill uses (declared secrets and environment)."""

    def __repr__(self) -> str:  # names only, even in a traceback that shows locals
        return f"RunSecrets(files={sorted(self.files)}, values={sorted(self.values)})"

    @property
    def redactor(self) -> Redactor:
        """The run's one redactor, hiding every value above in every encoding."""
        return self.values.redactor


def resolve_secrets(drill: Drill, environ: Mapping[str, str] | None = None) -> RunSecrets:
    """Resolve the target's secrets and every ``${NAME}`` of ``drill``; SpecError (exit 2)
    lists every one that cannot be resolved or is unusable, without its value."""
    env = os.environ if environ is None else environ
    problems: list[Problem] = []
    files: dict[str, str] = {}
    target_dir = Path(drill.target.directory or ".")
    for name, spec in drill.target.secrets.items():
        where = f"target.secrets.{name}"
        value = _declared(spec, env, target_dir, where, drill.source, problems)
        if value is not None:
            files[name] = value
    values = dict(files)
    uses = list(references(drill.model_dump(mode="json", by_alias=True), ""))
    for where, name in uses:
        if name in values:
            continue
        raw = env.get(name)
        if raw:
            values[name] = _strip_newline(raw)
        elif name not in drill.target.secrets:
            problems.append(
                Problem(drill.source, None, where, f"${{{name}}} is neither a secret nor set")
            )
    reported: set[str] = set()
    for where, name in [(f"target.secrets.{n}", n) for n in files] + uses:
        value = values.get(name)
        if value is None or name in reported:
            continue
        message = _unusable(value, in_header=".headers." in f".{where}.")
        if message:
            reported.add(name)
            problems.append(Problem(drill.source, None, where, f"${{{name}}} {message}"))
    if problems:
        raise SpecError(problems)
    return RunSecrets(files=files, values=SecretValues(values))


def _declared(
    spec: SecretSpec,
    env: Mapping[str, str],
    target_dir: Path,
    where: str,
    source: str,
    problems: list[Problem],
) -> str | None:
    tried = []
    if spec.env is not None:
        raw = env.get(spec.env)
        if raw:
            return _strip_newline(raw)
        tried.append(f"${spec.env} is not set")
    if spec.file is not None:
        path = Path(spec.file).expanduser()
        path = path if path.is_absolute() else target_dir / path
        try:
            return _strip_newline(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            tried.append(f"{path} does not exist")
        except UnicodeDecodeError:
            problems.append(Problem(source, None, where, f"{path} is not UTF-8 text"))
            return None
        except OSError as exc:
            tried.append(f"{path} cannot be read: {exc.strerror or exc}")
    if spec.generate:
        return _random.token_urlsafe(24)
    problems.append(Problem(source, None, where, "; ".join(tried) or "has no source"))
    return None


def _strip_newline(value: str) -> str:
    """``value`` without one trailing newline, as a file written by ``echo`` ends."""
    if value.endswith("\n"):
        value = value[:-1]
        if value.endswith("\r"):
            value = value[:-1]
    return value


def _unusable(value: str, *, in_header: bool) -> str:
    """Why ``value`` cannot be a secret here ('' when it can), without quoting it."""
    if len(value) < MIN_SECRET_CHARS:
        return (
            f"is {len(value)} characters long; a secret needs at least {MIN_SECRET_CHARS}"
            " (a shorter one is guessable, and hiding it would mangle the evidence)"
        )
    if in_header and any(c in value for c in _HEADER_UNSAFE):
        return "holds a line break or NUL inside it, which an HTTP header cannot carry"
    return ""


def references(node: Any, where: str) -> Iterator[tuple[str, str]]:
    """Every ``${NAME}`` in ``node`` (a drill as plain data), with the dotted field it is in."""
    if isinstance(node, str):
        for match in REFERENCE.finditer(node):
            yield where, match.group(1)
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from references(value, f"{where}.{key}" if where else str(key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from references(value, f"{where}[{i}]")
