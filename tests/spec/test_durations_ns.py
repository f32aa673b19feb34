"""Durations are written as before (``250ms``, ``2s``, ``0.3``) and reach the clock as exact
integer nanoseconds through one conversion, not scattered ``int(x * 1e9)`` truncations."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from harness.spec import load_drill
from harness.spec.durations import NS_PER_S, parse_duration, to_ns

ROOT = Path(__file__).resolve().parents[2]

DRILL = """\
drill: durations
target: model-service
load: {users: 3, request: {method: POST, path: /v1/generate, json: {prompt: hi}}}
steps:
  - at: 0.3
    inject: bad_deploy
  - when: harm_detected
    stop: [admin_api, sigterm]
    grace: 250ms
    delay: 1.1s
hold: 2s
max_duration: 1m
"""


@pytest.mark.parametrize(
    ("written", "ns"),
    [
        ("0.3s", 300_000_000),
        (0.3, 300_000_000),
        ("250ms", 250_000_000),
        ("1.1s", 1_100_000_000),
        ("24h", 24 * 3600 * NS_PER_S),
        (0, 0),
        ("1ms", 1_000_000),
    ],
)
def test_to_ns_is_exact(written: object, ns: int) -> None:
    """Decimal durations convert to the exact nanosecond (``int(0.3 * 1e9)`` is 299999999)."""
    assert to_ns(parse_duration(written)) == ns


def test_loaded_drill_exposes_nanoseconds(tmp_path: Path) -> None:
    """A loaded drill keeps seconds as written and gives each wait as integer nanoseconds."""
    path = tmp_path / "drill.yaml"
    path.write_text(textwrap.dedent(DRILL))
    drill = load_drill(path, targets_dirs=[ROOT / "targets"])
    assert drill.hold == 2.0 and drill.hold_ns == 2 * NS_PER_S
    assert drill.max_duration_ns == 60 * NS_PER_S
    timed, stop = drill.steps
    assert timed.at == 0.3 and timed.at_ns == 300_000_000
    assert stop.at_ns is None
    assert stop.grace_ns == 250_000_000 and stop.delay_ns == 1_100_000_000
    assert drill.target.ready.timeout_ns == to_ns(drill.target.ready.timeout)
    for value in (drill.hold_ns, timed.at_ns, stop.grace_ns, stop.delay_ns):
        assert type(value) is int
