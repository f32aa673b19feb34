"""A drill's ``in_flight`` policy and stream deadlines load typed, or fail at their file:line."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import SpecError
from harness.spec import load_drill
from harness.spec.models import DrainPolicy, InFlight, LoadSpec
from tests.helpers import ROOT

STREAMS_READ = "stream" in LoadSpec.model_fields
"""``load.stream`` arrives with the streaming load; until then every policy is refused."""

DRILL = """\
drill: streams
target: model-service
load: {{users: 3{stream}, request: {{method: POST, path: /v1/generate, json: {{prompt: hi}}}}}}
harm:
  - json_path: $.output
    regex: "CANARY-[0-9a-f]{{8}}"
steps:
  - at: 1s
    inject: bad_deploy
  - when: harm_detected
    stop: [admin_api]
{in_flight}deadlines: {{stop: 2s, harmful_chunks_after_stop: 0, stream_cut_time: 500ms}}
"""


def _load(tmp_path: Path, *, stream: bool, in_flight: str) -> object:
    path = tmp_path / "drill.yaml"
    path.write_text(DRILL.format(stream=", stream: true" if stream else "", in_flight=in_flight))
    return load_drill(path, targets_dirs=[ROOT / "targets"])


def test_in_flight_without_streams_is_refused_at_its_line(tmp_path: Path) -> None:
    """``in_flight`` on a load that reads no streams names its file and line."""
    with pytest.raises(SpecError) as info:
        _load(tmp_path, stream=False, in_flight="in_flight: cut\n")
    found = [str(p) for p in info.value.problems]
    assert len(found) == 1, found
    assert found[0].startswith(f"{tmp_path / 'drill.yaml'}:12: in_flight:"), found
    assert "load.stream: true" in found[0]


def test_stream_deadlines_load_without_a_policy(tmp_path: Path) -> None:
    """The two stream deadlines are accepted in ``deadlines:``, a duration and a count."""
    drill = _load(tmp_path, stream=False, in_flight="")
    deadlines = drill.deadlines  # type: ignore[attr-defined]
    assert deadlines.harmful_chunks_after_stop == 0
    assert deadlines.stream_cut_time == pytest.approx(0.5)


@pytest.mark.skipif(not STREAMS_READ, reason="load.stream is not on this branch yet")
@pytest.mark.parametrize(
    ("text", "policy"),
    [("in_flight: cut\n", InFlight.CUT), ("in_flight: {drain: 2s}\n", DrainPolicy(drain=2.0))],
)
def test_in_flight_policies_load_typed(tmp_path: Path, text: str, policy: object) -> None:
    """``cut`` and ``{drain: 2s}`` become typed policies."""
    drill = _load(tmp_path, stream=True, in_flight=text)
    assert drill.in_flight == policy  # type: ignore[attr-defined]


def test_a_bad_drain_is_refused_at_its_line(tmp_path: Path) -> None:
    """A drain that is not a duration is refused at its line, whatever else is wrong."""
    with pytest.raises(SpecError) as info:
        _load(tmp_path, stream=STREAMS_READ, in_flight="in_flight: {drain: soon}\n")
    found = [str(p) for p in info.value.problems]
    assert any(":12: in_flight" in p for p in found), found


def test_an_unknown_policy_is_refused_at_its_line(tmp_path: Path) -> None:
    """A policy that is neither ``cut`` nor ``{drain: ...}`` gets one message at its line."""
    with pytest.raises(SpecError) as info:
        _load(tmp_path, stream=STREAMS_READ, in_flight="in_flight: finish\n")
    found = [str(p) for p in info.value.problems]
    assert len(found) == 1 and ":12: in_flight: expected cut or {drain: DURATION}" in found[0]
