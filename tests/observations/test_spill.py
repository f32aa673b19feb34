"""A log over its memory budget moves full blocks to an unnamed file and still reads every row."""

from __future__ import annotations

import gc
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from harness.observations import Observation, ObservationLog, State

BLOCK, MEMORY = 4, 8


def _rows(n: int) -> list[Observation]:
    return [
        Observation(
            1_000 + 10 * i,
            1_005 + 10 * i + i % 7,
            200 if i % 3 else 503,
            State(i % 3),
            i % 5 == 0,
            f"v{i % 4}" if i % 3 else "",
        )
        for i in range(n)
    ]


def _spilling(tmp_path: Path, rows: list[Observation]) -> ObservationLog:
    """Rows added one by one and column by column in turns, over a tiny budget."""
    log = ObservationLog(spill_dir=tmp_path, block_rows=BLOCK, memory_rows=MEMORY)
    for first in range(0, len(rows), 9):
        part = rows[first : first + 9]
        if first % 2:
            log.extend(part)
        else:
            log.extend_columns(
                [o.start_ns for o in part],
                [o.end_ns for o in part],
                [o.status for o in part],
                [int(o.state) for o in part],
                [int(o.harmful) for o in part],
                [o.version for o in part],
            )
    return log


def _open_files_under(folder: Path) -> list[str]:
    """Targets of this process's open descriptors that lie in ``folder`` (deleted or not)."""
    found = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith(str(folder)):
            found.append(target)
    return found


def test_rows_read_back_across_block_boundaries(tmp_path: Path) -> None:
    """Iteration, indexing (negative too), columns, versions and blocks from any row give
    what an in-memory log gives, with most rows on disk."""
    rows = _rows(61)
    log = _spilling(tmp_path, rows)
    plain = ObservationLog()
    plain.extend(rows)
    assert log.spilled_rows >= 40 and log.spill_bytes == log.spilled_rows * 22
    assert len(log) == len(rows)
    assert (
        list(log)
        == list(plain)
        == [
            Observation(o.start_ns, o.end_ns, o.status, o.state, o.harmful, o.version) for o in rows
        ]
    )
    assert [log[i] for i in range(-len(rows), len(rows))] == [
        plain[i] for i in range(-len(rows), len(rows))
    ]
    for since in range(len(rows) + 1):
        assert log.columns(since) == plain.columns(since)
        assert log.versions(since) == plain.versions(since)
    for since in range(0, len(rows), 3):
        for until in range(since, len(rows) + 2, 5):
            blocks = list(log.blocks(since, until))
            assert all(0 < len(b) <= BLOCK for b in blocks)
            assert [b.first for b in blocks] == sorted({b.first for b in blocks})
            starts = [s for b in blocks for s in b.start]
            assert starts == [o.start_ns for o in rows[since:until]]
    with pytest.raises(IndexError):
        log[len(rows)]
    log.close()


def test_a_log_within_budget_never_touches_disk(tmp_path: Path) -> None:
    """Under the memory budget nothing is written and no file is opened; at it, the oldest
    block goes to disk."""
    log = ObservationLog(spill_dir=tmp_path, block_rows=BLOCK, memory_rows=MEMORY)
    log.extend(_rows(MEMORY - 1))
    assert log.spilled_rows == 0 and log.spill_bytes == 0
    assert _open_files_under(tmp_path) == []
    log.extend(_rows(1))
    assert log.spilled_rows == BLOCK
    log.close()


def test_the_spill_file_has_no_name_and_is_closed_with_the_log(tmp_path: Path) -> None:
    """The spill file never appears in its folder; close() (or dropping the log) releases it."""
    log = _spilling(tmp_path, _rows(40))
    assert log.spilled_rows > 0
    assert list(tmp_path.iterdir()) == []
    assert len(_open_files_under(tmp_path)) == 1
    log.close()
    log.close()  # idempotent
    assert _open_files_under(tmp_path) == []

    dropped = _spilling(tmp_path, _rows(40))
    assert len(_open_files_under(tmp_path)) == 1
    del dropped
    gc.collect()
    assert _open_files_under(tmp_path) == []


def test_a_failure_while_spilled_leaves_nothing_behind(tmp_path: Path) -> None:
    """An exception inside a ``with`` block closes the log; nothing stays in the folder."""
    with pytest.raises(RuntimeError, match="analysis failed"), _spilling(tmp_path, _rows(40)):
        raise RuntimeError("analysis failed")
    assert _open_files_under(tmp_path) == []
    assert list(tmp_path.iterdir()) == []


_SPILL_AND_WAIT = """
import sys
from pathlib import Path
from harness.observations import Observation, ObservationLog, State
log = ObservationLog(spill_dir=Path(sys.argv[1]), block_rows=4, memory_rows=8)
log.extend(Observation(i, i + 1, 200, State.SERVING, False, "v") for i in range(100))
assert log.spilled_rows > 0
print("spilled", flush=True)
sys.stdin.read()
"""


def test_a_killed_harness_leaves_no_spill_file(tmp_path: Path) -> None:
    """A process holding a spilled log is killed with SIGKILL: its folder stays empty, since
    the spill file never had a name."""
    child = subprocess.Popen(
        [sys.executable, "-c", _SPILL_AND_WAIT, str(tmp_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline() == "spilled\n"
        held = [
            os.readlink(f"/proc/{child.pid}/fd/{fd}") for fd in os.listdir(f"/proc/{child.pid}/fd")
        ]
        assert any(t.startswith(str(tmp_path)) and t.endswith("(deleted)") for t in held)
        assert list(tmp_path.iterdir()) == []
        child.send_signal(signal.SIGKILL)
    finally:
        child.kill()
        child.wait(10)
        if child.stdin is not None:
            child.stdin.close()
        if child.stdout is not None:
            child.stdout.close()
    assert child.returncode == -signal.SIGKILL
    assert list(tmp_path.iterdir()) == []


def test_a_budget_below_one_block_is_refused() -> None:
    """memory_rows under two blocks (or an empty block) is a programming error."""
    with pytest.raises(ValueError, match="block_rows"):
        ObservationLog(block_rows=8, memory_rows=15)
    with pytest.raises(ValueError, match="block_rows"):
        ObservationLog(block_rows=0)
