"""Which model version gave an answer: a header, else a value in the JSON body."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from harness.jsonpath import MISSING, parse_json_path, resolve_one
from harness.judging._answer import Answer, as_text
from harness.observations import MAX_VERSION_CHARS
from harness.spec.load import VersionSource

__all__ = ["VersionExtractor", "compile_version", "extract_version", "version_reader"]

VersionExtractor = Callable[[Mapping[str, str], bytes], str]
"""``(headers, body) -> version``, as returned by :func:`compile_version`."""


def compile_version(source: VersionSource) -> VersionExtractor:
    """Resolve the version source once into ``(headers, body) -> version`` ("" when unknown).

    The header wins when both are given and the header is present. Newlines and carriage
    returns become spaces and the result is cut to :data:`MAX_VERSION_CHARS`, so a version
    can always travel on one observation line.
    """
    version_of = version_reader(source)

    def extract(headers: Mapping[str, str], body: bytes) -> str:
        return version_of(Answer(0, headers, body, 0))

    return extract


def extract_version(source: VersionSource, headers: Mapping[str, str], body: bytes) -> str:
    """Return which model version produced an answer ("" when it does not say)."""
    return compile_version(source)(headers, body)


def version_reader(source: VersionSource) -> Callable[[Answer], str]:
    """The version of an :class:`Answer`, resolved once from the source."""
    header = source.header.lower() if source.header is not None else None
    # The model refuses wildcards here: a version is one value.
    steps = parse_json_path(source.json_path).steps if source.json_path is not None else None

    def from_header(answer: Answer) -> str:
        value = answer.headers.get(header) if header is not None else None
        return _clean_version(value) if value else ""

    def from_body(answer: Answer) -> str:
        found = resolve_one(answer.doc(), steps) if steps is not None else MISSING
        if found is MISSING or found is None:
            return ""
        return _clean_version(as_text(found))

    def from_header_else_body(answer: Answer) -> str:
        return from_header(answer) or from_body(answer)

    if header is not None and steps is not None:
        return from_header_else_body
    if header is not None:
        return from_header
    if steps is not None:
        return from_body
    return _no_version


def _no_version(answer: Answer) -> str:
    return ""


def _clean_version(value: str) -> str:
    if "\n" in value or "\r" in value:
        value = value.replace("\r", " ").replace("\n", " ")
    return value[:MAX_VERSION_CHARS]
