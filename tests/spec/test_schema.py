"""`govdrill schema drill|target|summary`: the published schemas are what the command prints,
and the drill and target schemas accept every shipped file."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from harness.cli import main
from harness.spec import load_drill

ROOT = Path(__file__).resolve().parent.parent.parent
DRILLS = sorted((ROOT / "drills").rglob("*.yaml")) + sorted(
    (ROOT / "tests").glob("*/drills/*.yaml")
)
TARGETS = sorted((ROOT / "targets").glob("*/target.yaml"))


def _printed(kind: str, capsys: pytest.CaptureFixture[str]) -> str:
    assert main(["schema", kind]) == 0
    return capsys.readouterr().out


@pytest.mark.parametrize("kind", ["drill", "target", "summary"])
def test_committed_schema_is_what_the_command_prints(
    kind: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """docs/schema/<kind>.schema.json cannot drift from the models: regenerate it with
    `govdrill schema <kind> > docs/schema/<kind>.schema.json`."""
    printed = _printed(kind, capsys)
    assert (ROOT / "docs" / "schema" / f"{kind}.schema.json").read_text() == printed
    jsonschema.Draft202012Validator.check_schema(json.loads(printed))


@pytest.mark.parametrize("path", DRILLS, ids=lambda p: str(p.relative_to(ROOT)))
def test_drill_schema_accepts_every_shipped_drill(path: Path) -> None:
    """Every drill the loader accepts is valid under the published drill schema."""
    schema = json.loads((ROOT / "docs" / "schema" / "drill.schema.json").read_text())
    jsonschema.validate(yaml.safe_load(path.read_text()), schema)


@pytest.mark.parametrize("path", TARGETS, ids=lambda p: str(p.relative_to(ROOT)))
def test_target_schema_accepts_every_shipped_target(path: Path) -> None:
    """Every shipped target file is valid under the published target schema."""
    schema = json.loads((ROOT / "docs" / "schema" / "target.schema.json").read_text())
    jsonschema.validate(yaml.safe_load(path.read_text()), schema)


def test_drill_schema_refuses_what_the_loader_refuses() -> None:
    """The schema is not a rubber stamp: unknown keys, bad durations and outcomes fail."""
    schema = json.loads((ROOT / "docs" / "schema" / "drill.schema.json").read_text())
    base = yaml.safe_load((ROOT / "drills" / "kill-switch-under-load.yaml").read_text())
    for wrong in ({"hodl": "3s"}, {"hold": "3 weeks"}, {"expect": {"rungs": {"a": "maybe"}}}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate({**base, **wrong}, schema)
    jsonschema.validate({**base, "hold": "1.5s", "expect": {"rungs": {"a": "skipped"}}}, schema)


def test_yaml_language_server_comment_is_accepted(tmp_path: Path) -> None:
    """A drill that points editors at the schema with yaml-language-server's comment loads."""
    source = ROOT / "drills" / "kill-switch-under-load.yaml"
    drill = tmp_path / "drill.yaml"
    schema = ROOT / "docs" / "schema" / "drill.schema.json"
    drill.write_text(f"# yaml-language-server: $schema={schema}\n" + source.read_text())
    loaded = load_drill(drill, targets_dirs=[ROOT / "targets"])
    assert loaded == load_drill(source).model_copy(update={"source": str(drill)})
