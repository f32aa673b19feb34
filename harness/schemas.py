"""JSON Schemas of the files govdrill reads and writes: drill and target files, summary.json.

Each schema is generated from the model that validates the file, so it cannot drift from
it; ``docs/schema/`` holds the committed copies (a test keeps them equal). The drill and
target schemas describe the files as written, which the loader then resolves: a drill's
``target`` is a name or an inline target, durations may be ``2s``/``250ms`` or seconds,
sizes ``1MiB`` or bytes, and the loader's own fields (``source``, ``directory``) are not
for files to set. Editors pick them up through yaml-language-server's comment::

    # yaml-language-server: $schema=../docs/schema/drill.schema.json
"""

from __future__ import annotations

import enum
import json
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema

from harness.run_summary import RunSummary
from harness.spec.durations import MAX_DURATION_S, parse_duration
from harness.spec.models import Drill, Target

__all__ = ["SchemaName", "schema_document", "schema_text"]

_DIALECT = "https://json-schema.org/draft/2020-12/schema"
_DURATION: JsonSchemaValue = {
    "anyOf": [
        {"type": "number", "minimum": 0, "maximum": MAX_DURATION_S},
        {"type": "string", "pattern": r"^\s*[0-9]+(\.[0-9]+)?\s*(ms|s|m|h)\s*$"},
    ],
    "description": "a duration: 250ms, 2s, 1.5s, 1m, 1h, or a number of seconds",
}
_LOADER_FIELDS = {"Drill": ("source",), "Target": ("directory",)}
"""Set by the loader, never by a file."""


class SchemaName(enum.StrEnum):
    """The files a schema is published for."""

    DRILL = "drill"
    TARGET = "target"
    SUMMARY = "summary"


class _AsWritten(GenerateJsonSchema):
    """Schemas of values as a file writes them, before the models' own parsing."""

    def function_before_schema(
        self, schema: core_schema.BeforeValidatorFunctionSchema
    ) -> JsonSchemaValue:
        if schema["function"].get("function") is parse_duration:
            return dict(_DURATION)
        return super().function_before_schema(schema)


def schema_document(name: SchemaName) -> dict[str, Any]:
    """The JSON Schema of one kind of file."""
    if name is SchemaName.SUMMARY:
        return _with_dialect(RunSummary, RunSummary.model_json_schema(mode="serialization"))
    model: type[BaseModel] = Drill if name is SchemaName.DRILL else Target
    schema = model.model_json_schema(mode="validation", schema_generator=_AsWritten)
    _as_files_write_them(schema)
    return _with_dialect(model, schema)


def schema_text(name: SchemaName) -> str:
    """The schema as ``govdrill schema`` prints it and ``docs/schema/`` keeps it."""
    return json.dumps(schema_document(name), indent=2, ensure_ascii=False) + "\n"


def _with_dialect(model: type[BaseModel], schema: dict[str, Any]) -> dict[str, Any]:
    return {"$schema": _DIALECT, **schema, "title": model.__name__}


def _as_files_write_them(schema: dict[str, Any]) -> None:
    """Drop the loader's own fields, and accept what the loader and models accept beyond
    the models' fields: a target named rather than inlined, a container op by its name."""
    defs = schema.get("$defs", {})
    for title, fields in _LOADER_FIELDS.items():
        part = schema if schema.get("title") == title else defs.get(title)
        if part is None:
            continue
        for field in fields:
            part.get("properties", {}).pop(field, None)
            if field in part.get("required", ()):
                part["required"].remove(field)
    props = schema.get("properties", {})
    if schema.get("title") == "Drill" and "target" in props:
        props["target"] = {
            "anyOf": [
                {"type": "string", "description": "a target's name: targets/<name>/target.yaml"},
                props["target"],
            ],
        }
    op = defs.get("ContainerOp")
    if op is not None:
        names = op["properties"]["op"]
        defs["ContainerOp"] = {"anyOf": [names, op], "title": "ContainerOp"}
