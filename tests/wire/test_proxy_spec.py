"""Incidents ``via: proxy`` load typed or are refused at their file:line, and a drill's own
incidents join its target's (the drill's win)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from harness.errors import SpecError
from harness.spec import load_drill
from harness.spec.models import PROXY_PATH
from tests.helpers import ROOT

HEAD = """\
drill: proxied
target: model-service
load: {users: 2, request: {method: POST, path: /v1/generate, json: {prompt: hi}}}
harm:
  - json_path: $.output
    regex: "CANARY-[0-9a-f]{8}"
incidents:
  leak:
"""
TAIL = """\
steps:
  - at: 1s
    inject: leak
  - when: harm_detected
    stop: [admin_api, sigterm]
deadlines: {stop: 2s}
"""
INCIDENT_LINE = 9
"""The line of the incident's first key (``via:``) in HEAD + its body."""


def drill_text(incident: str, tail: str = TAIL) -> str:
    """A drill whose incident ``leak`` has this body (indented under it)."""
    return HEAD + textwrap.indent(textwrap.dedent(incident), "    ") + tail


def load(tmp_path: Path, text: str) -> object:
    """Load a drill text, resolving targets from the repository."""
    path = tmp_path / "drill.yaml"
    path.write_text(text)
    return load_drill(path, targets_dirs=[ROOT / "targets"])


def problems(tmp_path: Path, text: str) -> list[str]:
    """The problems a drill text is refused with, as printed."""
    with pytest.raises(SpecError) as info:
        load(tmp_path, text)
    return [str(p) for p in info.value.problems]


def test_proxy_incident_loads_and_joins_target(tmp_path: Path) -> None:
    """A drill's proxy incident is typed, outside, clearable, and in target.incidents with
    the target's own hooks still there."""
    drill = load(
        tmp_path,
        drill_text("""\
        via: proxy
        rule: {rewrite: {json_path: $.output, append: " CANARY-deadbeef"}, rate: 0.5}
    """),
    )
    hook = drill.target.incidents["leak"]  # type: ignore[attr-defined]
    assert hook.via == PROXY_PATH and hook.outside and hook.clearable
    assert hook.rule is not None and hook.rule.rate == 0.5 and hook.rule.control is None
    assert "harmful_output" in drill.target.incidents  # type: ignore[attr-defined]
    assert set(drill.outside_incidents) == {"leak"}  # type: ignore[attr-defined]


def test_drill_incident_wins_over_target_of_same_name(tmp_path: Path) -> None:
    """An incident the drill names like one of its target's replaces it for this drill."""
    text = drill_text("via: proxy\nrule: {drop: {}}\n").replace("  leak:", "  harmful_output:")
    drill = load(tmp_path, text.replace("inject: leak", "inject: harmful_output"))
    hook = drill.target.incidents["harmful_output"]  # type: ignore[attr-defined]
    assert hook.outside and hook.enable is None


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ("via: proxy\nrule: {error: {status: 500}, rate: 1.5}\n", "incidents.leak.rule.rate", "1"),
        ("via: proxy\nrule: {rewrite: {json_path: output, append: x}}\n",
         "incidents.leak.rule.rewrite.json_path", "JSON path"),
        ("via: proxy\nrule: {refuse: {}}\n", "incidents.leak.rule", "control"),
        ("via: proxy\nrule: {lie: {status: 200}}\n", "incidents.leak.rule", "control"),
        ("via: proxy\nrule: {control: admin_api, rewrite: {json_path: $.a, append: x}}\n",
         "incidents.leak.rule", "data-path"),
        ("via: proxy\nrule: {control: admin_apii, refuse: {}}\n",
         "incidents.leak.rule.control", "did you mean 'admin_api'"),
        ("via: proxy\nrule: {control: sigterm, refuse: {}}\n",
         "incidents.leak.rule.control", "signal control path"),
        ("via: proxy\n", "incidents.leak", "needs rule"),
        ("via: proxy\nrule: {drop: {}}\nenable: {path: /x}\n", "incidents.leak", "enable"),
        ("via: admin_api\nenable: {path: /x}\nrule: {drop: {}}\n", "incidents.leak", "rule"),
        ("via: proxy\nrule: {reset: {}}\n", "incidents.leak.rule", "measured as a stop"),
        ("via: proxy\nrule: {error: {status: 503}}\n", "incidents.leak.rule",
         "measured as a stop"),
    ],
    ids=["rate", "json_path", "refuse-no-control", "lie-no-control", "data-rule-on-control",
         "unknown-control", "signal-control", "no-rule", "enable-with-proxy", "rule-not-proxy",
         "reset-judged-stopped", "503-judged-stopped"],
)  # fmt: skip
def test_bad_proxy_incident_refused_at_its_line(
    tmp_path: Path, body: str, field: str, words: str
) -> None:
    """Every rule that cannot apply is refused at validation, naming the file, the line of
    the incident (or deeper) and the field."""
    found = problems(tmp_path, drill_text(body))
    assert len(found) == 1, found
    (problem,) = found
    assert "drill.yaml:" in problem and f" {field}: " in problem, problem
    line = int(problem.split("drill.yaml:", 1)[1].split(":", 1)[0])
    assert INCIDENT_LINE - 1 <= line <= INCIDENT_LINE + 2, problem
    assert words in problem, problem


def test_control_path_named_proxy_refused(tmp_path: Path) -> None:
    """A target's control path may not take the built-in proxy's name."""
    text = """\
    drill: named-proxy
    target:
      target: inline
      sandboxes: {process: {command: ["{python}", "-c", "pass"]}}
      control_paths:
        proxy: {signal: {signal: SIGTERM}}
    steps:
      - at: 1s
        stop: [proxy]
    """
    found = problems(tmp_path, textwrap.dedent(text))
    assert any("drill.yaml:6: target.control_paths.proxy: " in p for p in found), found
    assert any("built-in fault proxy" in p for p in found), found


def test_clear_of_proxy_incident_allowed(tmp_path: Path) -> None:
    """A proxy incident can be cleared (its rule switched off) with no disable call."""
    tail = TAIL.replace("deadlines:", "  - after: stopped\n    clear: leak\ndeadlines:")
    drill = load(tmp_path, drill_text("via: proxy\nrule: {latency: {mean: 200ms}}\n", tail))
    assert drill.steps[-1].clear == "leak"  # type: ignore[attr-defined]


def test_validate_cli_exit_2_on_bad_rule(tmp_path: Path) -> None:
    """`govdrill validate` exits 2 naming the line of a rule outside [0, 1]."""
    from tests.helpers import govdrill

    path = tmp_path / "drill.yaml"
    path.write_text(drill_text("via: proxy\nrule: {reset: {}, rate: -0.1}\n"))
    done = govdrill("validate", str(path))
    assert done.returncode == 2, done.stdout + done.stderr
    assert "incidents.leak.rule.rate" in done.stdout + done.stderr
