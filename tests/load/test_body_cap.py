"""The load reads at most ``max_body`` bytes of an answer, judges harm on that prefix, and
marks the answer truncated, so a target sending a gigabyte cannot swell the load child."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from pydantic import ValidationError

from harness.errors import SpecError
from harness.load.config import LoadConfig
from harness.load.process import LoadProcess
from harness.observations import ObservationLog, State
from harness.spec import load_drill
from harness.spec.models import MAX_BODY_LIMIT, HarmRule
from tests.helpers import ROOT, hostile_target, peak_rss_mb

CANARY = (HarmRule(regex="CANARY-[0-9a-f]{8}"),)


def _load(
    url: str, build: Callable[..., LoadConfig], tmp_path: Path, **overrides: object
) -> tuple[LoadProcess, ObservationLog]:
    log = ObservationLog()
    config = build(base_url=url, users=2, per_user_rate=None, harm=CANARY, **overrides)
    return LoadProcess(config=config, log=log, stderr_path=tmp_path / "load.stderr"), log


def test_a_gigabyte_body_is_cut_at_the_cap(
    tmp_path: Path,
    drill_load_config: Callable[..., LoadConfig],
    drill_wait_for: Callable[..., bool],
) -> None:
    """Answers of 1 GiB are read to 1 MiB each: truncated, judged on the prefix (the canary
    beyond it is not seen), and the load child stays far below the body's size."""
    with hostile_target(tmp_path / "t", "--mode", "big-body", "--canary-at", str(2 << 20)) as url:
        load, log = _load(url, drill_load_config, tmp_path)
        with load:
            load.wait_ready(30.0)
            assert drill_wait_for(lambda: len(log) >= 20, 60.0), load.health()
            assert load.pid is not None
            peak = peak_rss_mb(load.pid)
            assert load.health().ok, load.health()
    assert peak < 150, f"the load child peaked at {peak:.0f} MiB"
    rows = list(log)
    assert log.truncated == len(rows) >= 20
    assert all(r.status == 200 and r.state is State.SERVING and not r.harmful for r in rows)


def test_harm_in_the_prefix_is_seen(
    tmp_path: Path,
    drill_load_config: Callable[..., LoadConfig],
    drill_wait_for: Callable[..., bool],
) -> None:
    """A canary inside the first ``max_body`` bytes of a longer body makes the answer harmful."""
    args = ("--mode", "big-body", "--body-bytes", "200000", "--canary-at", "5000")
    with hostile_target(tmp_path / "t", *args) as url:
        load, log = _load(url, drill_load_config, tmp_path, max_body=10_000)
        with load:
            load.wait_ready(30.0)
            assert drill_wait_for(lambda: len(log) >= 10, 30.0), load.health()
    rows = list(log)
    assert all(r.harmful for r in rows)
    assert log.truncated == len(rows)


def test_a_body_within_the_cap_is_whole(
    tmp_path: Path,
    drill_load_config: Callable[..., LoadConfig],
    drill_wait_for: Callable[..., bool],
) -> None:
    """A body of exactly ``max_body`` bytes is read whole: a canary at its very end counts and
    nothing is marked truncated."""
    args = ("--mode", "big-body", "--body-bytes", "10000", "--canary-at", str(10_000 - 15))
    with hostile_target(tmp_path / "t", *args) as url:
        load, log = _load(url, drill_load_config, tmp_path, max_body=10_000)
        with load:
            load.wait_ready(30.0)
            assert drill_wait_for(lambda: len(log) >= 10, 30.0), load.health()
    rows = list(log)
    assert all(r.harmful for r in rows)
    assert log.truncated == 0


@pytest.mark.parametrize("bad", [0, -1, True, 1.5, MAX_BODY_LIMIT + 1])
def test_max_body_is_validated(drill_load_config: Callable[..., LoadConfig], bad: object) -> None:
    """``max_body`` must be a whole number of bytes from 1 to the limit."""
    with pytest.raises(ValidationError) as caught:
        drill_load_config(max_body=bad)
    assert [e["loc"] for e in caught.value.errors()] == [("max_body",)]


def test_max_body_travels_to_the_child(drill_load_config: Callable[..., LoadConfig]) -> None:
    """The cap survives the JSON trip to the load child, and defaults to 1 MiB."""
    text = drill_load_config(max_body=4096).model_dump_json()
    assert LoadConfig.model_validate_json(text).max_body == 4096
    assert drill_load_config().max_body == 1 << 20


DRILL = """\
drill: body-cap
target: model-service
load: {users: 1, max_body: MAX_BODY}
steps:
  - at: 1s
    stop: [sigterm]
"""


@pytest.mark.parametrize(
    ("given", "expected"), [("512KiB", 512 << 10), ("4096", 4096), ("1MiB", 1 << 20)]
)
def test_drill_max_body_accepts_sizes(tmp_path: Path, given: str, expected: int) -> None:
    """``load.max_body`` takes a size with a binary unit or a number of bytes."""
    path = tmp_path / "drill.yaml"
    path.write_text(DRILL.replace("MAX_BODY", given))
    drill = load_drill(path, targets_dirs=[ROOT / "targets"])
    assert drill.load.max_body == expected


@pytest.mark.parametrize("given", ["0", "1GiB", "yes", "lots"])
def test_drill_max_body_rejects_nonsense(tmp_path: Path, given: str) -> None:
    """A zero, too large or unparsable ``load.max_body`` is refused at its line and field."""
    path = tmp_path / "drill.yaml"
    path.write_text(DRILL.replace("MAX_BODY", given))
    with pytest.raises(SpecError) as caught:
        load_drill(path, targets_dirs=[ROOT / "targets"])
    assert str(caught.value.problems[0]).startswith(f"{path}:3: load.max_body:")
