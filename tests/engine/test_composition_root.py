"""run_drill is the composition root: its signer, clock and sleep are handed in, never found."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.engine import run_drill
from harness.integrity import SIGNING_KEY_ENV, generate_keypair, load_signer, verify_run
from harness.spec import load_drill
from tests.evidence.runs import SHORT

pytestmark = pytest.mark.slow


def test_the_run_is_signed_by_the_signer_handed_in_and_paced_by_its_sleep(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The attestation is signed by the ``signer`` argument, not by the key the environment
    names, and the engine's waits go through the ``sleep`` it was given."""
    handed, _ = generate_keypair(tmp_path / "handed.key")
    from_env, _ = generate_keypair(tmp_path / "env.key")
    monkeypatch.setenv(SIGNING_KEY_ENV, str(from_env))
    naps: list[float] = []

    def sleep(seconds: float) -> None:
        naps.append(seconds)
        import time

        time.sleep(seconds)

    result = run_drill(
        load_drill(SHORT),
        results=tmp_path / "results",
        signer=load_signer(str(handed)),
        sleep=sleep,
    )
    report = verify_run(result.run_dir, key=Path(str(handed) + ".pub"))
    assert report.intact, report.findings
    assert report.signed_by == load_signer(str(handed)).keyid
    assert naps, "the engine slept without the sleep it was handed"


def test_no_signer_means_unsigned_whatever_the_environment_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With ``signer=None`` the run is sealed unsigned: the engine never reads
    $GOVDRILL_SIGNING_KEY (the entry points do)."""
    from_env, _ = generate_keypair(tmp_path / "env.key")
    monkeypatch.setenv(SIGNING_KEY_ENV, str(from_env))
    result = run_drill(load_drill(SHORT), results=tmp_path / "results")
    report = verify_run(result.run_dir)
    assert report.intact, report.findings
    assert report.signed_by is None
