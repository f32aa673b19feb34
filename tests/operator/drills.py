"""Drill texts and loading for the operator-stop and contest tests, on the purpose-built
complaint-service target beside this file."""

from __future__ import annotations

import textwrap
from pathlib import Path

from harness.spec import load_drill
from harness.spec.models import Drill

HERE = Path(__file__).parent

OPERATOR = """\
drill: operator-stop-test
target: complaint-service
load: {users: 2, request: {method: POST, path: /v1/generate, json: {prompt: hi}}}
harm:
  - json_path: $.output
    regex: "CANARY-[0-9a-f]{8}"
notify:
  oncall:
    alertmanager: {url: "http://127.0.0.1:9093/api/v2/alerts"}
  console:
    terminal: {}
steps:
  - at: 500ms
    inject: harmful_output
  - when: harm_detected
    stop:
      by: operator
      notify: [oncall, console]
      paths: [admin_api]
      fallback: [admin_api, sigterm]
      fallback_after: stop
    grace: 500ms
hold: 1s
deadlines: {detect: 1s, ack: 5s, stop: 5s, time_in_harm: 8s}
"""

CONTEST = """\
drill: contest-test
target: complaint-service
load: {users: 2, request: {method: POST, path: /v1/generate, json: {prompt: hi}}}
harm:
  - json_path: $.output
    regex: "CANARY-[0-9a-f]{8}"
steps:
  - at: 500ms
    inject: harmful_output
  - at: 1500ms
    contest:
      via: feedback
      params: {reason: "wrong answer"}
    fallback: [admin_api, sigterm]
hold: 1s
deadlines: {reversal: 3s}
"""


def write(tmp_path: Path, text: str, name: str = "drill.yaml") -> Path:
    """Write a drill text (dedented) into ``tmp_path``."""
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def load(tmp_path: Path, text: str) -> Drill:
    """Load a drill text against the complaint-service target."""
    return load_drill(write(tmp_path, text), targets_dirs=[HERE])
