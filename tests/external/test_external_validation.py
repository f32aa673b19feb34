"""A drill on the external sandbox cannot use anything that needs to own the service's life:
signal rungs, docker or compose paths, and redeploy incidents are each refused at the line
that names them, all at once."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from harness.errors import SpecError
from harness.spec import load_drill
from tests.helpers import ROOT

DRILL = """\
drill: external-owning-paths
target: model-service
sandbox: external
load: {users: 1, request: {method: POST, path: /v1/generate, json: {prompt: hi}}}
steps:
  - at: 100ms
    inject: bad_release
  - when: harm_detected
    stop: [admin_api, sigterm, docker_stop]
  - after: stopped
    resume: admin_api
"""


def test_owning_paths_are_refused_on_external(tmp_path: Path) -> None:
    """The signal rung, the docker rung and the redeploy incident are three problems, each at
    its own line and field; the http rung and the http resume are fine."""
    targets = tmp_path / "targets"
    shutil.copytree(ROOT / "targets" / "model-service", targets / "model-service")
    target = targets / "model-service" / "target.yaml"
    text = target.read_text()
    target.write_text(
        text.replace("sandboxes:\n", 'sandboxes:\n  external: {base_url: "http://127.0.0.1:9"}\n')
    )
    drill = tmp_path / "drill.yaml"
    drill.write_text(DRILL)
    with pytest.raises(SpecError) as info:
        load_drill(drill, targets_dirs=[targets])
    shown = sorted(str(p) for p in info.value.problems)
    assert len(shown) == 3, shown
    assert shown[0].startswith(f"{drill}:7: steps[0].inject: incident 'bad_release' redeploys")
    assert shown[1].startswith(
        f"{drill}:9: steps[1].stop[1]: step 'stop', rung 2: control path 'sigterm' is a signal"
    )
    assert shown[2].startswith(f"{drill}:9: steps[1].stop[2]: control path 'docker_stop'")
    assert "not 'external'" in shown[2]


def test_plain_http_path_against_an_https_service_is_refused(tmp_path: Path) -> None:
    """On an https external service, the admin path that has no base_url of its own (it
    would send its token in plain HTTP) is refused at the rung and the incident's step."""
    targets = tmp_path / "targets"
    shutil.copytree(ROOT / "targets" / "model-service", targets / "model-service")
    target = targets / "model-service" / "target.yaml"
    external = 'sandboxes:\n  external: {base_url: "https://localhost:8443"}\n'
    target.write_text(target.read_text().replace("sandboxes:\n", external))
    drill = tmp_path / "drill.yaml"
    drill.write_text(
        DRILL.replace("bad_release", "harmful_output").replace(", sigterm, docker_stop", "")
    )
    with pytest.raises(SpecError) as info:
        load_drill(drill, targets_dirs=[targets])
    shown = sorted(str(p) for p in info.value.problems)
    assert len(shown) == 3, shown
    assert all("so it would call the https external service in plain HTTP" in s for s in shown)
    fields = {s.split(": ")[1] for s in shown}
    assert fields == {"steps[0].inject", "steps[1].stop[0]", "steps[2].resume"}
