"""``load.workers`` and ``--load-workers``: validated with file:line, exit 2 and nothing written
on bad input, and one worker is exactly today's single load child."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from harness.errors import SpecError
from harness.load.config import LoadConfig, LoadRole
from harness.load.factory import SKEWS_ENV, make_load
from harness.load.fleet import LoadFleet
from harness.load.process import LoadProcess
from harness.observations import ObservationLog
from harness.spec import load_drill
from harness.spec.models import RequestSpec
from tests.helpers import ROOT, govdrill, govdrill_in_process

DRILL = ROOT / "drills" / "distributed-load.yaml"


def _drill(tmp_path: Path, load: str) -> Path:
    path = tmp_path / "drill.yaml"
    path.write_text(
        "drill: w\ntarget: model-service\n"
        f"load:\n{load}"
        "  request: {method: POST, path: /v1/generate, json: {prompt: hi}}\n"
        "steps:\n  - at: 1s\n    inject: harmful_output\n"
    )
    return path


def test_workers_default_to_one_and_the_shipped_drill_has_two() -> None:
    """A drill without ``load.workers`` runs one child; the distributed drill asks for two."""
    assert load_drill(ROOT / "drills" / "kill-switch-under-load.yaml").load.workers == 1
    assert load_drill(DRILL).load.workers == 2


def test_more_workers_than_users_names_the_line(tmp_path: Path) -> None:
    """Three workers for two users is an error at the ``workers`` line."""
    path = _drill(tmp_path, "  users: 2\n  workers: 3\n")
    with pytest.raises(SpecError) as caught:
        load_drill(path)
    assert f"{path}:5: load.workers: 3 workers need at least 3 users" in str(caught.value)


@pytest.mark.parametrize("bad", ["0", "17", "two"])
def test_bad_worker_counts_are_rejected(tmp_path: Path, bad: str) -> None:
    """0, more than 16, or not a number: an error naming file, line and field."""
    path = _drill(tmp_path, f"  users: 20\n  workers: {bad}\n")
    with pytest.raises(SpecError) as caught:
        load_drill(path)
    assert f"{path}:5: load.workers:" in str(caught.value)


def test_the_flag_overrides_the_drill(tmp_path: Path) -> None:
    """``--load-workers N`` is ``--set load.workers=N``; 0 is refused with exit 2 and nothing
    written to results/."""
    assert load_drill(DRILL, overrides=["load.workers=3"]).load.workers == 3
    results = tmp_path / "results"
    done = govdrill("run", str(DRILL), "--load-workers", "0", "--results", str(results))
    assert done.returncode == 2 and "--load-workers: 0 is not at least 1" in done.stderr
    done = govdrill_in_process("run", str(DRILL), "--load-workers", "9", "--results", str(results))
    assert done.returncode == 2 and "load.workers: 9 workers need at least 9 users" in done.stderr
    assert not results.exists()


def _config(workers: int) -> LoadConfig:
    return LoadConfig(
        base_url="http://127.0.0.1:9", users=4, spawn_rate=4.0, request=RequestSpec(),
        parent_pid=os.getpid(), workers=workers,
    )  # fmt: skip


def test_one_worker_is_the_single_child(tmp_path: Path) -> None:
    """workers: 1 gives a plain LoadProcess with the drill's config untouched (local role, no
    skew); more gives a fleet."""
    one = make_load(config=_config(1), log=ObservationLog(), stderr_path=tmp_path / "e.log")
    assert type(one) is LoadProcess
    assert one.config == _config(1) and one.config.role is LoadRole.LOCAL
    assert one.clock_uncertainty_ns == 0
    two = make_load(config=_config(2), log=ObservationLog(), stderr_path=tmp_path / "e.log")
    assert isinstance(two, LoadFleet) and two.master.config.role is LoadRole.MASTER


def test_the_skew_hook_must_name_every_worker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The test-only skews are checked: one per worker, whole nanoseconds."""
    from harness.errors import LoadError

    monkeypatch.setenv(SKEWS_ENV, "250000000")
    with pytest.raises(LoadError, match="1 skews for 2 workers"):
        make_load(config=_config(2), log=ObservationLog(), stderr_path=tmp_path / "e.log")
    monkeypatch.setenv(SKEWS_ENV, "a,b")
    with pytest.raises(LoadError, match="not comma-separated nanoseconds"):
        make_load(config=_config(2), log=ObservationLog(), stderr_path=tmp_path / "e.log")
