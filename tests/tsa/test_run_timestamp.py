"""`govdrill run --tsa` stamps each sealed attestation at a real local TSA, and `govdrill verify
--tsa-cert` checks the token against the TSA's CA and the run's own attestation."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness.integrity import ENVELOPE, MANIFEST, TIMESTAMP_FILE, verify_run
from tests.evidence.runs import SHORT
from tests.helpers import govdrill
from tests.tsa.local_tsa import LocalTsa, TsaBehaviour, start_local_tsa

pytestmark = pytest.mark.slow

AUTHORITY = "Zoë Roe (CISO), change CHG-2041"


@dataclass(frozen=True)
class Stamped:
    """Two signed runs stamped by one TSA, and the TSA (still running)."""

    runs: list[Path]
    tsa: LocalTsa
    public_key: Path
    stdout: str


@pytest.fixture(scope="module")
def stamped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stamped]:
    """Two real runs of the short drill with --tsa and --authorized-by, signed."""
    base = tmp_path_factory.mktemp("stamped")
    tsa = start_local_tsa(base)
    try:
        assert govdrill("keygen", str(base / "k.key")).returncode == 0
        done = govdrill(
            "run", str(SHORT), str(SHORT), "--results", str(base / "results"), "-q",
            "--sign-key", str(base / "k.key"), "--tsa", tsa.url, "--authorized-by", AUTHORITY,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        runs = sorted((base / "results" / "evidence-short").iterdir())
        assert len(runs) == 2
        yield Stamped(runs, tsa, base / "k.key.pub", done.stdout)
    finally:
        tsa.stop()


def _copy_run(run: Path, where: Path) -> Path:
    """The run copied under its own name (the name is signed) into another folder."""
    copy = where / run.name
    shutil.copytree(run, copy)
    return copy


def test_each_run_carries_a_token_over_its_attestation(stamped: Stamped) -> None:
    """attestation.tsr sits beside the attestation, outside the manifest, and OpenSSL's own
    verifier accepts it over the attestation's bytes with the TSA's CA."""
    assert stamped.tsa.server.answered == 2
    for run in stamped.runs:
        assert (run / TIMESTAMP_FILE).is_file()
        assert TIMESTAMP_FILE not in (run / MANIFEST).read_text()
        checked = subprocess.run(
            ["openssl", "ts", "-verify", "-in", str(run / TIMESTAMP_FILE),
             "-data", str(run / ENVELOPE), "-CAfile", str(stamped.tsa.ca_cert_path)],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert checked.returncode == 0 and "Verification: OK" in checked.stdout, checked.stderr


def test_verify_checks_the_token_and_reports_the_tsa_time(stamped: Stamped) -> None:
    """With the TSA's CA the run's time is the TSA's, and who authorized it is shown."""
    run = stamped.runs[0]
    done = govdrill(
        "verify", str(run), "--tsa-cert", str(stamped.tsa.ca_cert_path),
        "--key", str(stamped.public_key),
    )  # fmt: skip
    assert done.returncode == 0, done.stdout
    assert "(RFC 3161 timestamp, TSA of" in done.stdout
    assert f"authorized by: {AUTHORITY}" in done.stdout
    report = verify_run(run, tsa_cert=stamped.tsa.ca_cert_path)
    assert report.intact and report.signed and not report.time_self_asserted
    assert report.timestamp is not None and report.started_at is not None
    assert report.started_at <= report.timestamp
    assert report.authorized_by == AUTHORITY


def test_without_the_tsa_cert_the_token_still_binds_and_time_is_self_asserted(
    stamped: Stamped,
) -> None:
    """No certificate: the token is checked to be over this attestation, and the time shown
    is flagged as the run's own claim."""
    done = govdrill("verify", str(stamped.runs[0]))
    assert done.returncode == 0, done.stdout
    assert "is a token over this attestation; pass --tsa-cert" in done.stdout
    assert "(self-asserted by the run)" in done.stdout


def test_a_token_from_another_run_is_rejected(stamped: Stamped, tmp_path: Path) -> None:
    """The issue's done condition: run A carrying run B's (genuine) token fails verify, with
    the TSA's certificate and without it."""
    run_a = _copy_run(stamped.runs[0], tmp_path)
    shutil.copyfile(stamped.runs[1] / TIMESTAMP_FILE, run_a / TIMESTAMP_FILE)
    for extra in (["--tsa-cert", str(stamped.tsa.ca_cert_path)], []):
        done = govdrill("verify", str(run_a), *extra)
        assert done.returncode == 1, done.stdout
        assert (
            "FAIL timestamp: attestation.tsr: it stamps other bytes than this run's attestation"
            in done.stdout
        )
        assert "TAMPERED" in done.stdout


def test_a_forged_or_foreign_token_is_rejected(stamped: Stamped, tmp_path: Path) -> None:
    """A token with a flipped byte, or a token checked against another TSA's CA, fails."""
    run = _copy_run(stamped.runs[0], tmp_path / "flipped")
    token = bytearray((run / TIMESTAMP_FILE).read_bytes())
    token[-10] ^= 0xFF  # inside the signature
    (run / TIMESTAMP_FILE).write_bytes(bytes(token))
    done = govdrill("verify", str(run), "--tsa-cert", str(stamped.tsa.ca_cert_path))
    assert done.returncode == 1, done.stdout
    assert "FAIL timestamp: attestation.tsr:" in done.stdout
    other = start_local_tsa(tmp_path, name="another TSA")
    other.stop()
    done = govdrill("verify", str(stamped.runs[0]), "--tsa-cert", str(other.ca_cert_path))
    assert done.returncode == 1, done.stdout
    assert "FAIL timestamp: attestation.tsr: not a valid token from a TSA" in done.stdout


def test_a_run_without_a_token_fails_when_trusted_time_is_asked(
    stamped: Stamped, tmp_path: Path
) -> None:
    """--tsa-cert on a run whose token was removed: the time is only self-asserted (exit 1)."""
    run = _copy_run(stamped.runs[0], tmp_path)
    (run / TIMESTAMP_FILE).unlink()
    assert govdrill("verify", str(run)).returncode == 0
    done = govdrill("verify", str(run), "--tsa-cert", str(stamped.tsa.ca_cert_path))
    assert done.returncode == 1
    assert "no timestamp token: the run's time is only self-asserted" in done.stdout


def test_an_unusable_tsa_cert_is_bad_input(stamped: Stamped, tmp_path: Path) -> None:
    """A missing certificate file: exit 2, not a verdict on the run."""
    done = govdrill("verify", str(stamped.runs[0]), "--tsa-cert", str(tmp_path / "none.pem"))
    assert done.returncode == 2
    assert "cannot read the TSA certificate" in done.stderr


def test_a_tsa_that_fails_leaves_the_run_sealed_without_a_token(tmp_path: Path) -> None:
    """The TSA answers 500: the run is sealed and kept, says TIMESTAMP MISSING, exits 3; its
    evidence verifies, and fails only when trusted time is demanded."""
    tsa = start_local_tsa(tmp_path)
    tsa.server.behaviour = TsaBehaviour.ERROR_500
    try:
        done = govdrill(
            "run", str(SHORT), "--results", str(tmp_path / "results"), "-q", "--tsa", tsa.url
        )
    finally:
        tsa.stop()
    assert done.returncode == 3, done.stdout + done.stderr
    assert "TIMESTAMP MISSING: TSA http://127.0.0.1:" in done.stdout
    assert "answered HTTP 500" in done.stdout
    (run,) = (tmp_path / "results" / "evidence-short").iterdir()
    assert not run.name.startswith(".") and not (run / TIMESTAMP_FILE).exists()
    assert govdrill("verify", str(run)).returncode == 0
    assert govdrill("verify", str(run), "--tsa-cert", str(tsa.ca_cert_path)).returncode == 1


@pytest.mark.parametrize("url", ["file:///etc/passwd", "tsa.example.com"])
def test_a_tsa_url_that_is_not_http_is_bad_input(tmp_path: Path, url: str) -> None:
    """Refused before any drill runs: exit 2, nothing written to results/."""
    done = govdrill("run", str(SHORT), "--results", str(tmp_path / "r"), "-q", "--tsa", url)
    assert done.returncode == 2
    assert "not an http:// or https:// address" in done.stderr
    assert not (tmp_path / "r").exists()
