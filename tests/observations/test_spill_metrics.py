"""A spilled log gives the metrics, ground truth, report columns and evidence file that the
same observations held in memory give."""

from __future__ import annotations

import gzip
import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.evidence import RunDir
from harness.metrics import RunInstants, analyse, check_ground_truth
from harness.metrics import _columns as columns_module
from harness.observations import Observation, ObservationLog, State
from harness.report._data import Observations, _observations
from tests.metrics.metrics_sim import MS, T0, Answer, S, simulate

_STATES = st.sampled_from([State.SERVING, State.SERVING, State.STOPPED, State.ERROR])


def _spilled(log: ObservationLog, folder: Path, block_rows: int) -> ObservationLog:
    """The same rows in the same order, in blocks of ``block_rows`` with two kept in memory."""
    out = ObservationLog(spill_dir=folder, block_rows=block_rows, memory_rows=2 * block_rows)
    out.extend(list(log))
    return out


@st.composite
def _runs(draw: st.DrawFn) -> tuple[list[Observation], RunInstants]:
    span = draw(st.sampled_from([20 * MS, 400 * MS, 4 * S]))
    rows = draw(
        st.lists(
            st.tuples(
                st.integers(0, span),
                st.integers(1, span // 4),
                _STATES,
                st.booleans(),
                st.sampled_from(["v1", "v2", ""]),
            ),
            max_size=60,
        )
    )
    observations = [
        Observation(
            T0 + start,
            T0 + start + length,
            200,
            state,
            harmful and state is State.SERVING,
            version if state is State.SERVING else "",
        )
        for start, length, state, harmful, version in rows
    ]
    edges = sorted(
        {T0, T0 + span, *(o.start_ns for o in observations), *(o.end_ns for o in observations)}
    )
    near = st.tuples(st.sampled_from(edges), st.sampled_from([-1, 0, 1])).map(sum)
    instant = st.one_of(st.none(), near, st.integers(0, span).map(lambda t: T0 + t))
    issued = draw(instant)
    rollback = draw(instant)
    instants = RunInstants(
        load_start_ns=T0,
        load_end_ns=T0 + span,
        hold_s=draw(st.sampled_from([0.0, 0.001, 0.005, 0.2])),
        incident_ns=draw(instant),
        detected_ns=draw(instant),
        stop_issued_ns=issued,
        stop_acked_ns=None if issued is None else draw(st.one_of(st.none(), near)),
        rollback_issued_ns=rollback,
        rollback_version=None if rollback is None else draw(st.sampled_from(["v1", "v2", None])),
        resumes_ns=tuple(sorted(draw(st.lists(near, max_size=2)))),
        complaint_sent_ns=draw(instant),
    )
    return observations, instants


@settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(run=_runs(), block_rows=st.integers(1, 7))
def test_spilled_and_in_memory_logs_give_the_same_metrics(
    run: tuple[list[Observation], RunInstants], block_rows: int, tmp_path: Path
) -> None:
    """Random rows in random arrival order, random instants, blocks of 1 to 7 rows (so
    several spills): every metric and the ground-truth check are identical."""
    rows, instants = run
    plain = ObservationLog()
    plain.extend(rows)
    with _spilled(plain, tmp_path, block_rows) as spilled:
        assert spilled.spilled_rows > 0 or len(rows) < 2 * block_rows
        metrics = analyse(plain, instants)
        assert analyse(spilled, instants) == metrics
        claim = [] if instants.stop_issued_ns is None else [instants.stop_issued_ns + 1]
        events = [(t, "stop_effective", {}) for t in claim]
        assert check_ground_truth(events, metrics, instants, log=spilled) == check_ground_truth(
            events, metrics, instants, log=plain
        )


@pytest.mark.parametrize("small_merge", [0, 1 << 16])
def test_simulated_drills_agree_spilled_and_in_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, small_merge: int
) -> None:
    """Thousands of rows from simulated drills (a stop, a rollback, harm that returns),
    in arrival order and shuffled, in blocks of 97: the same metrics, through both ways of
    merging a block's sorted values into the rest."""
    monkeypatch.setattr(columns_module, "_SMALL_MERGE", small_merge)
    issued, switch, resume = T0 + 1 * S, T0 + 2 * S, T0 + 2500 * MS

    def server(h: int, _user: int) -> Answer:
        if h < issued + 40 * MS:
            return Answer(State.SERVING, h > T0 + S // 2, "v2")
        if h < resume:
            return Answer(State.STOPPED)
        return Answer(State.SERVING, h > T0 + 3500 * MS, "v1" if h > switch else "v2")

    instants = RunInstants(
        load_start_ns=T0,
        load_end_ns=T0 + 5 * S,
        hold_s=0.3,
        incident_ns=T0 + S // 2,
        detected_ns=T0 + S // 2 + 20 * MS,
        stop_issued_ns=issued,
        stop_acked_ns=issued + 5 * MS,
        rollback_issued_ns=switch,
        rollback_version="v1",
        resumes_ns=(resume,),
        complaint_sent_ns=T0 + 4 * S,
    )
    log = simulate(server, users=8, begin_ns=T0, end_ns=T0 + 5 * S, seed=3)
    rows = list(log)
    random.Random(5).shuffle(rows)
    shuffled = ObservationLog()
    shuffled.extend(rows)
    for plain, folder in ((log, tmp_path / "ordered"), (shuffled, tmp_path / "shuffled")):
        folder.mkdir()
        with _spilled(plain, folder, 97) as spilled:
            assert spilled.spilled_rows >= len(plain) // 2
            metrics = analyse(plain, instants)
            assert metrics.stop.upper_ns is not None and metrics.rollback is not None
            assert analyse(spilled, instants) == metrics


def test_report_bins_and_evidence_file_are_the_same(tmp_path: Path) -> None:
    """The report's pictures (bins of the whole run and of a zoom) and observations.csv.gz,
    from a spilled log, from memory and from the written file, are the same."""
    rows = [
        Observation(T0 + i * MS, T0 + i * MS + 3 * MS + i % 5, 200, State(i % 3), i % 7 == 0,
                    f"v{i % 3}")
        for i in range(1000)
    ]  # fmt: skip
    plain = ObservationLog()
    plain.extend(rows)
    pictures = []
    files = []
    for name, log in (("plain", plain), ("spilled", _spilled(plain, tmp_path, 64))):
        report = Observations.from_log(log, T0)
        assert (report.first_start, report.last_end) == (0.0, 1.002)
        pictures.append([report.bin(0.0, 1.1, 0.05), report.bin(0.4, 0.5, 0.005)])
        run = RunDir(tmp_path / name, "drill", "stamp", "run")
        run.create()
        path = run.write_observations(log, T0)
        files.append(gzip.decompress(path.read_bytes()))
        from_file = _observations(path)
        pictures.append([from_file.bin(0.0, 1.1, 0.05), from_file.bin(0.4, 0.5, 0.005)])
        run.release()
    assert pictures[0] == pictures[1] == pictures[2] == pictures[3]
    assert sum(pictures[0][0].ok) > 0 and sum(pictures[0][0].harmful) > 0
    assert files[0] == files[1] and files[0].count(b"\n") == 1002
