"""Runs sealed after their harness died get trusted time too: `govdrill sweep --tsa` (and a
`run --tsa` that seals a dead run first) timestamps each attestation it seals, against a real
local TSA; a TSA that gives no token leaves the run sealed without one, and says so (exit 3)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.evidence.runs import SHORT
from tests.evidence.test_unsealed import kill_mid_run
from tests.helpers import events_of, govdrill
from tests.tsa.local_tsa import LocalTsa
from tests.tsa.tsa_server import TsaBehaviour

pytestmark = pytest.mark.slow


def _sealed(staging: Path) -> Path:
    return staging.parent / staging.name[1 : -len(".partial")]


def test_sweep_timestamps_what_it_seals(tmp_path: Path, local_tsa: LocalTsa) -> None:
    """A killed run swept with --tsa carries a token that verify checks against the TSA's CA
    and the run's own attestation."""
    results = tmp_path / "results"
    staging = kill_mid_run(results)
    done = govdrill("sweep", str(results), "--tsa", local_tsa.url)
    assert done.returncode == 0, done.stdout + done.stderr
    sealed = _sealed(staging)
    assert (sealed / "attestation.tsr").is_file()
    verified = govdrill("verify", str(sealed), "--tsa-cert", str(local_tsa.ca_cert_path))
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "RFC 3161 timestamp" in verified.stdout


def test_a_sweep_without_a_token_seals_and_says_so(tmp_path: Path, local_tsa: LocalTsa) -> None:
    """The TSA answers 500: the dead run is sealed all the same, without a token; the sweep
    prints TIMESTAMP MISSING and exits 3."""
    results = tmp_path / "results"
    staging = kill_mid_run(results)
    local_tsa.server.behaviour = TsaBehaviour.ERROR_500
    done = govdrill("sweep", str(results), "--tsa", local_tsa.url)
    assert done.returncode == 3, done.stdout + done.stderr
    assert "TIMESTAMP MISSING" in done.stdout
    sealed = _sealed(staging)
    assert sealed.is_dir() and not (sealed / "attestation.tsr").exists()
    assert govdrill("verify", str(sealed)).returncode == 0


def test_a_run_with_tsa_timestamps_the_dead_run_it_seals_first(
    tmp_path: Path, local_tsa: LocalTsa
) -> None:
    """`run --tsa` seals the dead run it finds before its own drill, and stamps both."""
    results = tmp_path / "results"
    staging = kill_mid_run(results)
    done = govdrill("run", str(SHORT), "--results", str(results), "-q", "--tsa", local_tsa.url)
    assert done.returncode in (0, 1), done.stdout + done.stderr  # its own verdict is not tested
    sealed = _sealed(staging)
    assert (sealed / "attestation.tsr").is_file()
    new = [p for p in sealed.parent.iterdir() if p != sealed]
    assert len(new) == 1 and (new[0] / "attestation.tsr").is_file()
    swept = [e for e in events_of(new[0]) if e["event"] == "unsealed_run_swept"]
    assert swept and "timestamp_missing" not in swept[0]
