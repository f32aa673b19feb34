"""Versions are strings a target chooses: the observation log stores any number of them in
bounded memory, and judging a rollback stays exact whatever ids the versions got."""

from __future__ import annotations

from harness.metrics import RollbackKind, RunInstants, analyse
from harness.observations import (
    MAX_VERSION_CHARS,
    MAX_VERSIONS,
    Observation,
    ObservationLog,
    State,
)
from tests.metrics.metrics_sim import MS, T0, Answer, S, simulate

JUNK = 300
"""Versions sprayed before the real ones: v1 then gets id 300 (0x12C), whose low byte is
that of junk version 44 (0x2C)."""


def _obs(version: str, t: int = T0, *, truncated: bool = False) -> Observation:
    return Observation(t, t + MS, 200, State.SERVING, False, version, truncated)


def test_hundreds_of_distinct_versions_are_kept() -> None:
    """300 distinct versions (more than a signed byte holds) are stored and read back."""
    log = ObservationLog()
    log.extend([_obs(f"v{i}") for i in range(JUNK)])
    table, ids = log.versions()
    assert [table[i] for i in ids] == [f"v{i}" for i in range(JUNK)]
    assert [o.version for o in log] == [f"v{i}" for i in range(JUNK)]
    assert log.version_counts().kept == JUNK
    assert log.version_counts().folded_answers == 0


def test_versions_beyond_the_cap_are_folded_and_counted() -> None:
    """After MAX_VERSIONS distinct versions, newcomers share one entry that says how many
    distinct versions it holds; answers from kept versions keep their own entry."""
    log = ObservationLog()
    log.extend([_obs(f"v{i}") for i in range(MAX_VERSIONS + 500)])
    log.extend([_obs("v0"), _obs(f"v{MAX_VERSIONS + 1}")])
    table, ids = log.versions()
    assert len(table) == MAX_VERSIONS + 1
    assert table[-1] == "(other: 500 distinct)"
    assert table[ids[-2]] == "v0"
    assert table[ids[-1]] == table[-1]
    counts = log.version_counts()
    assert (counts.kept, counts.folded_distinct, counts.folded_answers) == (MAX_VERSIONS, 500, 501)
    assert counts.folded_distinct_exact
    assert log.version_id(f"v{MAX_VERSIONS + 1}") is None
    assert log.version_id("v0") == 0


def test_pinned_versions_get_their_own_entry_after_the_cap() -> None:
    """A version the drill rolls back to is kept by name however many came before it."""
    log = ObservationLog(pinned=["v1"], max_versions=10)
    log.extend([_obs(f"junk{i}") for i in range(50)])
    log.append(_obs("v1"))
    assert log.version_id("v1") == 11  # after ten kept and the other entry
    assert log[50].version == "v1"


def test_long_versions_are_cut() -> None:
    """A version longer than MAX_VERSION_CHARS is stored cut to it."""
    log = ObservationLog()
    log.append(_obs("x" * 10_000))
    assert log[0].version == "x" * MAX_VERSION_CHARS


def test_wire_form_carries_truncation_and_commas() -> None:
    """The wire line round-trips the truncated flag and a version holding commas."""
    obs = _obs("v1,beta", truncated=True)
    assert Observation.from_line(obs.to_line()) == obs
    log = ObservationLog()
    log.extend([obs, _obs("v1")])
    assert log.truncated == 1


def _rollback(*, to_junk_twin: bool) -> RollbackKind:
    """v2 answers until SWITCH, then v1 (or, lying, junk version 44: same low id byte)."""
    switch = T0 + 2 * S

    def server(h: int, _user: int) -> Answer:
        if h < switch:
            return Answer(State.SERVING, False, "v2")
        return Answer(State.SERVING, False, "junk44" if to_junk_twin else "v1")

    log = ObservationLog()
    log.extend([_obs(f"junk{i}", T0 - S) for i in range(JUNK)])
    log.append(_obs("v1", T0 - S))  # long before the rollback: v1 gets id 300
    log.extend(list(simulate(server, users=10, begin_ns=T0, end_ns=T0 + 6 * S, seed=3)))
    assert log.version_id("v1") == JUNK and log.version_id("junk44") == JUNK & 0xFF
    instants = RunInstants(
        load_start_ns=T0 - S,
        load_end_ns=T0 + 6 * S,
        hold_s=1.0,
        rollback_issued_ns=T0 + 1 * S,
        rollback_version="v1",
    )
    rollback = analyse(log, instants).rollback
    assert rollback is not None
    return rollback.kind


def test_rollback_is_judged_on_the_whole_version_id() -> None:
    """With v1's id above 255 the switch to v1 is clean, and answers from the version that
    shares its id's low byte are not taken for v1."""
    assert _rollback(to_junk_twin=False) is RollbackKind.CLEAN
    assert _rollback(to_junk_twin=True) is RollbackKind.NOT_ROLLED_BACK


def test_a_folded_row_reads_as_the_other_entry() -> None:
    """A row whose version was folded reads back with the other entry's label."""
    log = ObservationLog(max_versions=2)
    log.extend([_obs("a"), _obs("b"), _obs("c"), _obs("d")])
    assert [o.version for o in log] == ["a", "b", "(other: 2 distinct)", "(other: 2 distinct)"]
