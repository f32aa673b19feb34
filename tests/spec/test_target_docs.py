"""docs/targets.md documents every field of a target file: each property of the published
target schema, and of every sandbox's settings, is named there."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from harness.schemas import SchemaName, schema_document
from harness.spec import models
from tests.helpers import ROOT

DOCS = ROOT / "docs" / "targets.md"


def _properties(schema: dict[str, Any], where: str) -> Iterator[tuple[str, str]]:
    """Every ``(where, field)`` a schema declares, in its own object and its ``$defs``."""
    for name in schema.get("properties", {}):
        yield where, name
    for title, part in schema.get("$defs", {}).items():
        for name in part.get("properties", {}):
            yield title, name


def _target_fields() -> set[tuple[str, str]]:
    """The target schema's fields, and the sandbox settings it leaves as free mappings
    (each ``*SandboxSpec`` model: process, docker, compose, external and any added later)."""
    fields = set(_properties(schema_document(SchemaName.TARGET), "Target"))
    specs = [getattr(models, n) for n in models.__all__ if n.endswith("SandboxSpec")]
    assert specs, "no sandbox settings models found"
    for spec in specs:
        fields |= set(_properties(spec.model_json_schema(mode="validation"), spec.__name__))
    return fields


def test_every_target_field_is_documented() -> None:
    """A field added to a target model without a word in docs/targets.md fails here: the
    docs name each field in backticks (`field`, or `field:` in a sentence or table)."""
    text = DOCS.read_text()
    fields = _target_fields()
    assert len(fields) > 40  # the walk found the models, not an empty schema
    missing = sorted(f"{where}.{name}" for where, name in fields if f"`{name}`" not in text)
    assert not missing, f"docs/targets.md does not mention: {', '.join(missing)}"


def test_the_docs_name_every_sandbox_kind() -> None:
    """Each sandbox kind has its own section in docs/targets.md."""
    text = DOCS.read_text()
    from harness.sandbox_kind import SandboxKind

    missing = [kind.value for kind in SandboxKind if f"### `{kind.value}`" not in text]
    assert not missing, missing
