"""Trust files: the public keys a verifier accepts, each for a window of time.

A signing key is rotated, lent, or leaked; a signature proves who signed only while the key
was the signer's to use. A trust file lists each key with the period it was valid in, and
``verify`` judges a run by the key valid at the run's time::

    - name: ci-2026-q1                     # optional, shown in verify's output
      key: keys/ci-2026-q1.pub             # a path (relative to this file) or inline PEM
      not_before: 2026-01-01T00:00:00Z     # optional; a date means its midnight UTC
      not_after: 2026-04-01T00:00:00Z      # optional; both ends inclusive
    - key: |
        -----BEGIN PUBLIC KEY-----
        ...
      not_before: 2026-04-01

JSON is YAML, so the same list written as JSON is read too. Every problem is reported at once
as ``file:line: field: message`` (a SpecError: exit 2).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import EvidenceError, Problem, SpecError
from harness.integrity._keys import key_id, load_public_key
from harness.spec._yaml import Located, load_located

__all__ = ["TrustedKey", "load_trust"]

_FIELDS = ("name", "key", "not_before", "not_after")
_MAX_NAME = 120
_MAX_KEY_FILE = 64 * 1024


@dataclass(frozen=True, slots=True)
class TrustedKey:
    """One public key and the window it may sign in (None: open on that side)."""

    key_id: str
    """SHA-256 of the raw Ed25519 key, as runs name their signer."""
    public_pem: bytes
    not_before: dt.datetime | None
    not_after: dt.datetime | None
    name: str = ""
    """The trust file's label for it, or "" when it gave none."""
    where: str = ""
    """``file:line`` of its entry."""

    def valid_at(self, when: dt.datetime) -> bool:
        """Whether ``when`` lies in the window (both ends inclusive)."""
        if self.not_before is not None and when < self.not_before:
            return False
        return self.not_after is None or when <= self.not_after

    def window(self) -> str:
        """The window, for a person."""
        start = "…" if self.not_before is None else self.not_before.isoformat()
        end = "…" if self.not_after is None else self.not_after.isoformat()
        return f"{start} to {end}"

    def label(self) -> str:
        """Its name and the start of its id."""
        return f"{self.name} ({self.key_id[:16]}…)" if self.name else f"{self.key_id[:16]}…"


def load_trust(path: Path) -> tuple[TrustedKey, ...]:
    """The keys the trust file at ``path`` lists; SpecError listing every problem."""
    located = load_located(path)
    file = located.file
    if not isinstance(located.data, list) or not located.data:
        raise SpecError(
            [Problem(file, located.line_of(()), "", "a trust file is a non-empty list of keys")]
        )
    problems: list[Problem] = []
    keys = []
    for index, entry in enumerate(located.data):
        key = _entry(located, index, entry, path.parent, problems)
        if key is not None:
            keys.append(key)
    if problems:
        raise SpecError(problems)
    return tuple(keys)


def _entry(
    located: Located, index: int, entry: Any, base: Path, problems: list[Problem]
) -> TrustedKey | None:
    file, before = located.file, len(problems)

    def problem(field: str, message: str, value: Any = None) -> None:
        at = (index, field) if field else (index,)
        dotted = f"[{index}].{field}" if field else f"[{index}]"
        problems.append(Problem(file, located.line_of(at), dotted, message, value))

    if not isinstance(entry, dict):
        problem("", "each entry is a mapping with key, and optionally name, not_before, not_after")
        return None
    for unknown in sorted(set(entry) - set(_FIELDS)):
        problems.append(
            Problem(file, located.line_of((index, unknown)), f"[{index}].{unknown}",
                    f"unknown field; allowed: {', '.join(_FIELDS)}", unknown, _FIELDS)
        )  # fmt: skip
    name = entry.get("name", "")
    if not isinstance(name, str) or len(name) > _MAX_NAME or not name.isprintable():
        problem("name", f"a printable text of at most {_MAX_NAME} characters")
        name = ""
    pem = _key_pem(entry.get("key"), base, lambda message: problem("key", message))
    not_before = _instant(entry, "not_before", problem)
    not_after = _instant(entry, "not_after", problem)
    if not_before is not None and not_after is not None and not_after < not_before:
        problem("not_after", f"{not_after.isoformat()} is before not_before")
    if pem is None or len(problems) > before:
        return None
    try:
        public = load_public_key(pem, f"{file}:{located.line_of((index, 'key'))}")
    except EvidenceError as exc:
        problem("key", str(exc).split(": ", 1)[-1])
        return None
    return TrustedKey(
        key_id=key_id(public),
        public_pem=pem,
        not_before=not_before,
        not_after=not_after,
        name=name,
        where=f"{file}:{located.line_of((index,))}",
    )


def _key_pem(value: Any, base: Path, problem: Callable[[str], None]) -> bytes | None:
    if not isinstance(value, str) or not value.strip():
        problem("required: a public key, as PEM text or the path of a PEM file")
        return None
    if value.lstrip().startswith("-----BEGIN"):
        return value.encode("utf-8")
    path = base / value
    try:
        if path.stat().st_size > _MAX_KEY_FILE:
            problem(f"{value}: larger than {_MAX_KEY_FILE} bytes, not a public key")
            return None
        return path.read_bytes()
    except OSError as exc:
        problem(f"cannot read {value}: {exc.strerror}")
        return None


def _instant(
    entry: dict[str, Any], field: str, problem: Callable[[str, str, Any], None]
) -> dt.datetime | None:
    """The field as an aware datetime: YAML gives datetimes and dates, JSON gives text."""
    value = entry.get(field)
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = (dt.date if len(value) == 10 else dt.datetime).fromisoformat(value)
        except ValueError:
            problem(field, "not an ISO 8601 time such as 2026-04-01T00:00:00Z", value)
            return None
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            problem(field, "give the time zone (Z or +HH:MM): a bare time is ambiguous", value)
            return None
        return value.astimezone(dt.UTC)
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)
    problem(field, "not an ISO 8601 time such as 2026-04-01T00:00:00Z", value)
    return None
