"""A target's version source and safe state: what each spelling means, and every bad value
refused at its file:line with a did-you-mean as for any other field."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from harness.errors import SpecError
from harness.spec import load_drill
from harness.spec.load import SafeState, VersionSource
from harness.spec.loader import load_target
from tests.helpers import govdrill

TARGET_HEAD = """\
target: svc
sandboxes:
  process:
    command: ["{python}", "-c", "pass"]
"""

DRILL = """\
drill: d
target:
  target: svc
  {target_lines}
  sandboxes:
    process:
      command: ["{{python}}", "-c", "pass"]
  control_paths:
    kill: {{signal: {{signal: SIGTERM}}}}
{drill_lines}
steps:
  - at: 1s
    stop: [kill]
"""


def _target(tmp_path: Path, lines: str) -> Path:
    path = tmp_path / "target.yaml"
    path.write_text(TARGET_HEAD + textwrap.dedent(lines))
    return path


def _target_problems(tmp_path: Path, lines: str) -> list[str]:
    path = _target(tmp_path, lines)
    with pytest.raises(SpecError) as info:
        load_target(path)
    return [str(p).removeprefix(f"{path}:") for p in info.value.problems]


def _drill(tmp_path: Path, target_lines: str = "", drill_lines: str = "") -> Path:
    path = tmp_path / "drill.yaml"
    path.write_text(DRILL.format(target_lines=target_lines, drill_lines=drill_lines))
    return path


@pytest.mark.parametrize(
    ("lines", "source"),
    [
        ("", VersionSource(header="X-Model-Version")),
        ("version_header: X-Version\n", VersionSource(header="X-Version")),
        ("version_header: null\n", VersionSource()),
        ("version: {header: X-Version}\n", VersionSource(header="X-Version")),
        ("version: {json_path: $.model_version}\n", VersionSource(json_path="$.model_version")),
        (
            "version: {header: X-V, json_path: $.meta.version}\n",
            VersionSource(header="X-V", json_path="$.meta.version"),
        ),
        ("version: null\n", VersionSource()),
    ],
)
def test_each_spelling_of_the_version_source_reads_what_it_says(
    tmp_path: Path, lines: str, source: VersionSource
) -> None:
    """``version:`` reads exactly the sources it names (a JSON path alone reads no header);
    ``version_header`` still works; a file that says nothing reads X-Model-Version."""
    assert load_target(_target(tmp_path, lines)).version_source == source


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        (
            "version: {json_path: $.v}\nversion_header: X-Model-Version\n",
            "6: version_header: give version: {header: ...} or the older version_header,"
            " not both",
        ),
        ("version: {}\n", "5: version: name a header, a json_path or both"),
        ("version: {jsonpath: $.v}\n",
         "5: version.jsonpath: unknown key; did you mean 'json_path'?"),
        ("version: {json_path: '$.v[*]'}\n",
         "5: version.json_path: '$.v[*]': a version is one value"),
        ("version: {json_path: v}\n", "5: version.json_path:"),
        ("version: {header: X Version}\n", "5: version.header: 'X Version' is not a valid header"),
        ("safe_state:\n  statuses: [404]\n  json_pth: $.error\n",
         "7: safe_state.json_pth: unknown key; did you mean 'json_path'?"),
        ("safe_state:\n  statuses: [404]\n  regex: '('\n",
         "7: safe_state.regex: invalid regular expression"),
        ("safe_state:\n  statuses: [404]\n  equals: gone\n",
         "5: safe_state: equals needs json_path"),
        ("safe_state:\n  statuses: [200, 404]\n  json_path: $.error\n",
         "5: safe_state: statuses: 200: a 2xx answer is serving"),
        ("safe_state: {statuses: [42]}\n", "5: safe_state.statuses[0]:"),
    ],
)  # fmt: skip
def test_a_bad_version_or_safe_state_is_refused_at_its_line(
    tmp_path: Path, lines: str, expected: str
) -> None:
    """Both version spellings at once, an empty or many-valued version, and a safe state's
    bad key, regex, equals without a path or 2xx with body rules: each at file:line."""
    found = _target_problems(tmp_path, lines)
    assert len(found) == 1 and found[0].startswith(expected), found


def test_a_drill_takes_its_targets_safe_state_unless_it_gives_its_own(tmp_path: Path) -> None:
    """A target's safe_state is the default of its drills; a drill's own replaces it whole
    (no field of the target's survives), and without either the drill default holds."""
    target_rule = "safe_state: {statuses: [404], json_path: $.error, regex: not found}"
    inherited = load_drill(_drill(tmp_path, target_rule))
    expected = SafeState(statuses=(404,), json_path="$.error", regex="not found")
    assert inherited.safe_state == expected
    own = load_drill(_drill(tmp_path, target_rule, "safe_state: {statuses: [410]}"))
    assert own.safe_state == SafeState(statuses=(410,))
    assert load_drill(_drill(tmp_path)).safe_state == SafeState()
    overridden = load_drill(_drill(tmp_path, target_rule), overrides=["safe_state.statuses=[503]"])
    assert overridden.safe_state == SafeState(statuses=(503,))


def test_a_drills_bad_safe_state_is_refused_at_its_line(tmp_path: Path) -> None:
    """A drill's own safe_state is checked as the target's is, at the drill's line."""
    path = _drill(tmp_path, drill_lines="safe_state: {statuses: [404], regx: gone}")
    with pytest.raises(SpecError) as info:
        load_drill(path)
    assert [str(p) for p in info.value.problems] == [
        f"{path}:10: safe_state.regx: unknown key; did you mean 'regex'?"
    ]


def test_validate_exits_2_naming_the_line(tmp_path: Path) -> None:
    """``govdrill validate`` refuses a drill whose target gives both version spellings."""
    path = _drill(tmp_path, "version: {json_path: $.v}\n  version_header: X-V")
    done = govdrill("validate", str(path))
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"{path}:5: target.version_header: give version" in done.stderr
