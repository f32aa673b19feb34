"""What the control calls of a ``govdrill init`` target must carry: the ``--control-header``
and ``--secret`` flags, parsed into typed headers and secret sources before any request.

A secret is only ever named here, never read: ``--secret admin=env:ADMIN_TOKEN`` becomes the
target's ``secrets: {admin: {env: ADMIN_TOKEN}}`` and the harness resolves it when a drill
runs, so no file init writes can hold its value. A header refers to one as ``${admin}``;
every reference must be declared with ``--secret`` (an undeclared one would silently fall
back to an environment variable of the same name at run time). Problems name the flag and the
header's name, never a header's value (it may be a literal token the user should not see
echoed into a log).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from harness.init.questions import BadAnswer

__all__ = ["ControlAuth", "ControlHeader", "SecretSource", "parse_control_auth"]

_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
"""An HTTP header name (RFC 9110's token)."""
_SECRET_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
"""What ``${NAME}`` may name (the harness resolves no other form)."""
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_REFERENCE = re.compile(r"\$\{([^}]*)\}")
_UNSAFE = ("\r", "\n", "\0")
_LITERAL_CREDENTIAL = re.compile(r"authorization|cookie|key|token|secret|password", re.I)
"""Header names whose literal value is most likely a credential written into the file."""
MAX_HEADER_CHARS = 4096


@dataclass(frozen=True, slots=True)
class SecretSource:
    """Where the harness finds one secret at run time (exactly one of the three)."""

    name: str
    env: str | None = None
    file: str | None = None
    """An absolute path: a relative one on the command line means the current folder, not
    the target's (where the harness would look for it)."""
    generate: bool = False


@dataclass(frozen=True, slots=True)
class ControlHeader:
    """A header sent with every control call; its value may hold ``${secret}`` references."""

    name: str
    value: str

    @property
    def references(self) -> tuple[str, ...]:
        """The secrets the value names, in order."""
        return tuple(m.group(1) for m in _REFERENCE.finditer(self.value))


@dataclass(frozen=True, slots=True)
class ControlAuth:
    """The headers and secrets of a target's control path (both empty by default)."""

    headers: tuple[ControlHeader, ...] = ()
    secrets: tuple[SecretSource, ...] = ()

    @property
    def notes(self) -> tuple[str, ...]:
        """What the user should still look at, as lines for init's "still yours to do"."""
        used = {name for header in self.headers for name in header.references}
        lines = [
            f"--secret {s.name} is used by no --control-header; remove it from secrets: or use it"
            for s in self.secrets
            if s.name not in used
        ]
        lines += [
            f"--secret {s.name}=generate makes a new value every run, which a service the"
            " harness does not start cannot know; give env: or file: instead"
            for s in self.secrets
            if s.generate
        ]
        lines += [
            f"the header {h.name} holds a literal value, now in the target file; if it is a"
            " credential, pass it as --secret NAME=env:VAR and ${NAME}"
            for h in self.headers
            if not h.references and _LITERAL_CREDENTIAL.search(h.name)
        ]
        return tuple(lines)


def parse_control_auth(headers: list[str] | None, secrets: list[str] | None) -> ControlAuth:
    """The ``--control-header`` and ``--secret`` flags as typed values; BadAnswer (exit 2)
    naming the flag for the first that is malformed, and for a reference no secret declares."""
    parsed_secrets: list[SecretSource] = []
    for spec in secrets or []:
        source = _secret(spec)
        if any(s.name == source.name for s in parsed_secrets):
            raise BadAnswer(f"--secret {source.name}: given twice")
        parsed_secrets.append(source)
    parsed_headers: list[ControlHeader] = []
    for spec in headers or []:
        header = _header(spec)
        if any(h.name.lower() == header.name.lower() for h in parsed_headers):
            raise BadAnswer(f"--control-header {header.name}: given twice")
        parsed_headers.append(header)
    declared = {s.name for s in parsed_secrets}
    for header in parsed_headers:
        for name in header.references:
            if name not in declared:
                raise BadAnswer(
                    f"--control-header {header.name}: ${{{name}}} is not declared; add"
                    f" --secret {name}=env:VAR (or file:PATH, or generate)"
                )
    return ControlAuth(tuple(parsed_headers), tuple(parsed_secrets))


def _secret(spec: str) -> SecretSource:
    """``NAME=env:VAR``, ``NAME=file:PATH`` or ``NAME=generate`` as a SecretSource."""
    usage = "expected NAME=env:VAR, NAME=file:PATH or NAME=generate"
    name, equals, source = spec.partition("=")
    shown = name.strip()[:64] if _SECRET_NAME.fullmatch(name.strip()) else repr(name[:64])
    if not equals:
        raise BadAnswer(f"--secret {shown}: {usage}")
    if not _SECRET_NAME.fullmatch(name):
        raise BadAnswer(
            f"--secret {shown}: a secret's name is letters, digits and _, not starting with a"
            " digit (it is referenced as ${NAME})"
        )
    kind, colon, where = source.partition(":")
    if kind == "generate" and not colon:
        return SecretSource(name, generate=True)
    if kind == "env" and colon:
        if not _ENV_NAME.fullmatch(where):
            raise BadAnswer(f"--secret {name}: env: needs an environment variable's name")
        return SecretSource(name, env=where)
    if kind == "file" and colon:
        if not where or any(c in where for c in _UNSAFE):
            raise BadAnswer(f"--secret {name}: file: needs a path without a line break")
        return SecretSource(name, file=str(Path(where).expanduser().absolute()))
    raise BadAnswer(f"--secret {name}: {usage}")


def _header(spec: str) -> ControlHeader:
    """``NAME: VALUE`` as a ControlHeader (the value may hold ``${secret}``)."""
    name, colon, value = spec.partition(":")
    name, value = name.strip(), value.strip()
    if any(c in spec for c in _UNSAFE):  # a line break would start a header of its own
        raise BadAnswer(f"--control-header {name[:64]!r}: a header has no line break or NUL in it")
    if not colon or not _TOKEN.fullmatch(name):
        raise BadAnswer(
            f"--control-header {name[:64]!r}: expected 'NAME: VALUE', NAME an HTTP header name"
        )
    if len(spec) > MAX_HEADER_CHARS:
        raise BadAnswer(f"--control-header {name}: longer than {MAX_HEADER_CHARS} characters")
    if not value:
        raise BadAnswer(f"--control-header {name}: the value is empty")
    for match in _REFERENCE.finditer(value):
        if not _SECRET_NAME.fullmatch(match.group(1)):
            raise BadAnswer(
                f"--control-header {name}: ${{{match.group(1)[:64]}}} is not a reference;"
                " use ${NAME} with NAME a --secret"
            )
    if "${" in _REFERENCE.sub("", value):
        raise BadAnswer(f"--control-header {name}: an unclosed ${{ (use ${{NAME}})")
    return ControlHeader(name, value)
