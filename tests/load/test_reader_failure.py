"""The harness's load reader never dies silently: what it raises ends the load as a reader
failure with its cause, never as a stalled or dead load, and the child does not linger."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from harness.load.config import LoadConfig
from harness.load.process import LoadProcess, LoadStatus
from harness.observations import Observation, ObservationLog


class _FailingLog(ObservationLog):
    """A log whose 20th append raises, standing in for any fault inside the reader."""

    def append(self, obs: Observation) -> None:
        if len(self) >= 19:
            raise RuntimeError("observation store is on fire")
        super().append(obs)


def test_reader_exception_is_a_reader_failure_with_its_cause(
    drill_target: object,
    drill_load_config: Callable[..., LoadConfig],
    tmp_path: Path,
    drill_wait_for: Callable[..., bool],
) -> None:
    """An exception in the reader turns health into READER_FAILED naming it, and the child
    is stopped instead of blocking on a pipe nobody reads."""
    load = LoadProcess(
        config=drill_load_config(), log=_FailingLog(), stderr_path=tmp_path / "load.stderr"
    )
    with load:
        load.wait_ready(30.0)
        assert drill_wait_for(lambda: not load.health().ok, 30.0), load.health()
        health = load.health()
        assert health.status is LoadStatus.READER_FAILED
        assert health.detail == "RuntimeError: observation store is on fire"
        assert isinstance(load.reader_error, RuntimeError)
        assert drill_wait_for(lambda: load.returncode is not None, 10.0), "child still running"
        # still a reader failure once the child is gone, not "dead" or "stalled"
        assert load.health().status is LoadStatus.READER_FAILED
    assert load.error is not None and "observation store is on fire" in load.error


def test_hundreds_of_versions_do_not_fail_the_reader(
    tmp_path: Path,
    drill_load_config: Callable[..., LoadConfig],
    drill_wait_for: Callable[..., bool],
) -> None:
    """A target naming a new version in every answer keeps the load running past 300 of them."""
    from tests.helpers import hostile_target

    with hostile_target(tmp_path / "t", "--mode", "versions") as url:
        log = ObservationLog()
        config = drill_load_config(base_url=url, per_user_rate=None)
        load = LoadProcess(config=config, log=log, stderr_path=tmp_path / "load.stderr")
        with load:
            load.wait_ready(30.0)
            assert drill_wait_for(lambda: len(log) >= 300 or not load.health().ok, 60.0)
            assert load.health().ok, load.health()
    assert log.version_counts().kept >= 300
