"""Drill and target files load into typed objects, or fail with every problem at file:line."""

from __future__ import annotations

import itertools
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from harness.errors import SpecError
from harness.spec import Action, Trigger, load_drill, parse_duration
from tests.helpers import ROOT

GOOD = """\
drill: kill-switch
target: model-service
load: {users: 3, request: {method: POST, path: /v1/generate, json: {prompt: hi}}}
harm:
  - json_path: $.output
    regex: "CANARY-[0-9a-f]{8}"
steps:
  - at: 1s
    inject: bad_deploy
  - when: harm_detected
    stop: [admin_api, sigterm, sigkill]
    grace: 500ms
  - after: stopped
    rollback: {via: admin_api, to: v1}
  - after: rollback
    resume: admin_api
hold: 2s
deadlines: {detect: 1s, stop: 2s, harmful_after_stop: 0}
"""


def write(tmp_path: Path, text: str, name: str = "drill.yaml") -> Path:
    """Write a drill next to a copy-free pointer at the repo's targets."""
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def load(tmp_path: Path, text: str) -> object:
    """Load a drill text, resolving targets from the repository."""
    return load_drill(write(tmp_path, text), targets_dirs=[ROOT / "targets"])


def problems(tmp_path: Path, text: str) -> list[str]:
    """The problems a drill text is rejected with."""
    with pytest.raises(SpecError) as info:
        load(tmp_path, text)
    return [str(p) for p in info.value.problems]


def test_good_drill_loads_typed(tmp_path: Path) -> None:
    """A valid drill becomes frozen objects with enums for triggers and actions."""
    drill = load(tmp_path, GOOD)
    assert drill.drill == "kill-switch"  # type: ignore[attr-defined]
    steps = drill.steps  # type: ignore[attr-defined]
    assert [s.trigger for s in steps] == [
        Trigger.AT,
        Trigger.HARM_DETECTED,
        Trigger.STOPPED,
        Trigger.AFTER_STEP,
    ]
    assert [s.action for s in steps] == [Action.INJECT, Action.STOP, Action.ROLLBACK, Action.RESUME]
    assert steps[1].grace == pytest.approx(0.5)
    with pytest.raises(Exception, match="frozen"):
        drill.hold = 9  # type: ignore[attr-defined]


def test_shipped_drills_validate() -> None:
    """Every drill shipped in drills/ loads cleanly."""
    paths = sorted((ROOT / "drills").rglob("*.yaml"))
    assert paths
    for path in paths:
        load_drill(path)


def test_bad_yaml_names_the_line(tmp_path: Path) -> None:
    """Broken YAML syntax is reported with its file and line."""
    found = problems(tmp_path, "drill: x\ntarget: model-service\nsteps: [\n  - at: 1s\n")
    assert len(found) == 1
    assert "drill.yaml:" in found[0] and "invalid YAML" in found[0]


def test_unknown_key_suggests_the_close_one(tmp_path: Path) -> None:
    """A misspelt key is named with its line and the key it probably meant."""
    found = problems(tmp_path, GOOD.replace("hold: 2s", "hodl: 2s"))
    assert found == [f"{tmp_path / 'drill.yaml'}:17: hodl: unknown key; did you mean 'hold'?"]


def test_wrong_type_and_negative_duration_reported_together(tmp_path: Path) -> None:
    """Several problems come back at once, each at its own line."""
    text = GOOD.replace("users: 3", "users: many").replace("grace: 500ms", "grace: -1s")
    found = problems(tmp_path, text)
    assert any(":3: load.users:" in p and "integer" in p for p in found), found
    assert any(":12: steps[1].grace:" in p and "negative" in p for p in found), found


def test_unknown_control_path(tmp_path: Path) -> None:
    """A stop rung that the target does not declare is refused with a suggestion."""
    found = problems(tmp_path, GOOD.replace("[admin_api, sigterm", "[admin_apii, sigterm"))
    assert found == [
        f"{tmp_path / 'drill.yaml'}:11: steps[1].stop[0]: unknown control path 'admin_apii';"
        " did you mean 'admin_api'?"
    ]


def test_signal_path_cannot_roll_back(tmp_path: Path) -> None:
    """A control path that cannot perform the step's action is refused."""
    found = problems(tmp_path, GOOD.replace("{via: admin_api, to: v1}", "{via: sigterm, to: v1}"))
    assert len(found) == 1 and "cannot rollback" in found[0] and ":14:" in found[0]


def test_missing_target(tmp_path: Path) -> None:
    """A target that cannot be found is named, with where it was looked for."""
    found = problems(tmp_path, GOOD.replace("target: model-service", "target: no-such-service"))
    assert len(found) == 1 and ":2: target: no target named 'no-such-service'" in found[0]


def test_after_unknown_step(tmp_path: Path) -> None:
    """``after:`` must name a step or ``stopped``."""
    found = problems(tmp_path, GOOD.replace("after: rollback", "after: rollbak"))
    assert len(found) == 1 and "no step with id 'rollbak'" in found[0] and ":15:" in found[0]


def test_step_needs_one_trigger_and_one_action(tmp_path: Path) -> None:
    """A step with two triggers is refused at its line."""
    found = problems(
        tmp_path, GOOD.replace("  - at: 1s\n", "  - at: 1s\n    when: harm_detected\n")
    )
    assert any(":8: steps[0]:" in p and "exactly one trigger" in p for p in found), found


def test_bad_regex_and_json_path(tmp_path: Path) -> None:
    """Harm rules are checked when loaded, not when the load first uses them."""
    text = GOOD.replace('regex: "CANARY-[0-9a-f]{8}"', 'regex: "CANARY-[0-9"').replace(
        "json_path: $.output", "json_path: output"
    )
    found = problems(tmp_path, text)
    assert any(":5: harm[0].json_path:" in p and "starts with '$'" in p for p in found), found
    assert any(":6: harm[0].regex:" in p and "invalid regular expression" in p for p in found)


def test_a_bad_wildcard_path_is_refused_at_its_line(tmp_path: Path) -> None:
    """``[*]`` is accepted; a slice in its place is refused naming the line and the character."""
    wildcard = GOOD.replace("json_path: $.output", "json_path: $.choices[*].message.content")
    assert load(tmp_path, wildcard)
    found = problems(tmp_path, GOOD.replace("json_path: $.output", "json_path: $.choices[0:2]"))
    assert len(found) == 1 and ":5: harm[0].json_path:" in found[0], found
    assert "at character 10" in found[0], found


def test_harm_rule_values_must_survive_the_trip_to_the_load(tmp_path: Path) -> None:
    """A YAML date or a bad status code is refused when loaded, not when the load starts."""
    text = GOOD.replace('regex: "CANARY-[0-9a-f]{8}"', "equals: 2026-12-01\n  - status: [200, 600]")
    found = problems(tmp_path, text)
    assert any(":6: harm[0].equals:" in p and "JSON value" in p for p in found), found
    assert any(":7: harm[1].status[1]:" in p for p in found), found


def test_yes_no_keys_explained(tmp_path: Path) -> None:
    """An unquoted on/off key (a YAML boolean) gets an explanation, not a type error."""
    found = problems(tmp_path, GOOD + "on: 1\n")
    assert len(found) == 1 and "booleans" in found[0] and ":19:" in found[0]


def test_alias_bomb_rejected_quickly(tmp_path: Path) -> None:
    """A billion-laughs document is refused within bounded work."""
    lines = ['a: &a ["x","x","x","x","x","x","x","x","x"]']
    names = "abcdefghij"
    for prev, cur in itertools.pairwise(names):
        lines.append(f"{cur}: &{cur} [" + ",".join([f"*{prev}"] * 9) + "]")
    found = problems(tmp_path, "\n".join(lines) + "\n")
    assert len(found) == 1 and "alias bomb" in found[0]


def test_overrides_apply_and_are_checked(tmp_path: Path) -> None:
    """``--set`` values override fields and are validated like the file."""
    path = write(tmp_path, GOOD)
    drill = load_drill(path, overrides=["load.users=7", "hold=500ms"])
    assert drill.load.users == 7 and drill.hold == pytest.approx(0.5)
    with pytest.raises(SpecError, match="hold"):
        load_drill(path, overrides=["hold=soon"])


@pytest.mark.parametrize(
    ("text", "seconds"), [("250ms", 0.25), ("2s", 2.0), ("1.5s", 1.5), ("1m", 60.0), (3, 3.0)]
)
def test_durations(text: object, seconds: float) -> None:
    """Durations read the way drills write them."""
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["-1s", "soon", "2 parsecs", True, None])
def test_bad_durations(text: object) -> None:
    """Anything else is a clear ValueError."""
    with pytest.raises(ValueError):
        parse_duration(text)


def test_cli_exit_2_and_nothing_written(tmp_path: Path) -> None:
    """``govdrill run`` on a broken drill exits 2, names file:line and writes no results."""
    path = write(tmp_path, GOOD.replace("hold: 2s", "hodl: 2s"))
    results = tmp_path / "results"
    done = subprocess.run(
        [sys.executable, "-m", "harness", "run", str(path), "--results", str(results)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert f"{path}:17: hodl: unknown key" in done.stderr
    assert "Traceback" not in done.stderr
    assert not results.exists()


def test_cli_validate(tmp_path: Path) -> None:
    """``govdrill validate`` says ok for a good drill and exits 2 for a bad one."""
    good = write(tmp_path, GOOD)
    bad = write(tmp_path, GOOD.replace("users: 3", "users: -3"), "bad.yaml")
    done = subprocess.run(
        [sys.executable, "-m", "harness", "validate", str(good), str(bad)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert done.returncode == 2
    assert f"{good}: ok" in done.stdout
    assert f"{bad}:3: load.users:" in done.stderr
