"""verify catches every kind of tampering with a sealed run, and accepts an intact one."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.integrity import pae, seal_run
from harness.integrity._keys import load_signer
from tests.evidence.runs import SHORT, Runs
from tests.helpers import ROOT, govdrill, govdrill_in_process

pytestmark = pytest.mark.slow

TAMPERED_FILES = (
    "summary.json", "timeline.jsonl", "observations.csv.gz", "drill.yaml", "report.html",
    "junit.xml", "target.stderr.log", "target.events.jsonl", "manifest.json",
    "attestation.dsse.json", "signer.pub.pem", "snapshots/before-rollback/status.json",
    "snapshots/before-rollback/target.stderr.log",
)  # fmt: skip


def verify(run: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """`govdrill verify`, called in-process (the CLI process is tested in test_unsealed)."""
    return govdrill_in_process("verify", str(run), *extra)


def flip_byte(path: Path, where: float = 0.5) -> None:
    """Flip the lowest bit of one byte of ``path``."""
    data = bytearray(path.read_bytes())
    i = int(len(data) * where)
    data[i] ^= 0x01
    path.write_bytes(bytes(data))


def test_intact_signed_run_verifies(five_runs: Runs) -> None:
    """Every sealed run verifies against the signer's public key, with exit 0."""
    for run in five_runs.runs:
        done = verify(run, "--key", str(five_runs.public_key))
        assert done.returncode == 0, done.stdout
        assert "OK" in done.stdout and "signed by" in done.stdout


@pytest.mark.parametrize("name", TAMPERED_FILES)
def test_one_flipped_byte_is_named(run_copy: Path, five_runs: Runs, name: str) -> None:
    """Flipping one byte of any file of the run fails verify (exit 1) naming that file."""
    flip_byte(run_copy / name)
    done = verify(run_copy, "--key", str(five_runs.public_key))
    assert done.returncode == 1, done.stdout
    assert f": {name}: " in done.stdout, done.stdout


def test_every_byte_position_of_the_envelope_is_covered(run_copy: Path, five_runs: Runs) -> None:
    """A flip anywhere in the envelope (start, signature, payload, end) fails verify."""
    original = (run_copy / "attestation.dsse.json").read_bytes()
    for where in (0.0, 0.05, 0.3, 0.7, 0.98):
        (run_copy / "attestation.dsse.json").write_bytes(original)
        flip_byte(run_copy / "attestation.dsse.json", where)
        done = verify(run_copy, "--key", str(five_runs.public_key))
        assert done.returncode == 1, (where, done.stdout)
        assert "attestation.dsse.json" in done.stdout


def test_broken_timeline_chain_is_reported(run_copy: Path) -> None:
    """An edited timeline line breaks the chain even when the manifest is rebuilt to match."""
    path = run_copy / "timeline.jsonl"
    lines = path.read_text().splitlines()
    event = json.loads(lines[5])
    event["t_s"] = 0.0
    lines[5] = json.dumps(event)
    path.write_text("\n".join(lines) + "\n")
    for name in ("manifest.json", "attestation.dsse.json", "signer.pub.pem"):
        (run_copy / name).unlink()
    seal_run(run_copy, run_name=run_copy.name, signer=None)  # a forger re-seals, unsigned
    done = verify(run_copy)
    assert done.returncode == 1
    assert "chain broken: timeline.jsonl: timeline.jsonl:7:" in done.stdout, done.stdout


def test_cut_off_timeline_tail_is_reported(run_copy: Path) -> None:
    """Dropping the timeline's last line is caught by the head the manifest recorded."""
    path = run_copy / "timeline.jsonl"
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(lines[:-1]))
    done = verify(run_copy)
    assert done.returncode == 1
    assert "chain broken: timeline.jsonl" in done.stdout and "cut off" in done.stdout


def test_added_file_is_named(run_copy: Path) -> None:
    """A file that was not in the run fails verify, named as added."""
    (run_copy / "snapshots" / "extra.txt").write_text("planted\n")
    done = verify(run_copy)
    assert done.returncode == 1
    assert "added: snapshots/extra.txt" in done.stdout


def test_removed_file_is_named(run_copy: Path) -> None:
    """A file removed from the run fails verify, named as missing."""
    (run_copy / "target.events.jsonl").unlink()
    done = verify(run_copy)
    assert done.returncode == 1
    assert "missing: target.events.jsonl" in done.stdout


def test_removed_manifest_is_named(run_copy: Path) -> None:
    """Without its manifest a run cannot pass verify, and says so."""
    (run_copy / "manifest.json").unlink()
    done = verify(run_copy)
    assert done.returncode == 1
    assert "missing: manifest.json" in done.stdout


def test_another_key_is_refused(run_copy: Path, tmp_path: Path) -> None:
    """A run signed by one key fails verify against another key."""
    assert govdrill("keygen", str(tmp_path / "other.key")).returncode == 0
    done = verify(run_copy, "--key", str(tmp_path / "other.key.pub"))
    assert done.returncode == 1
    assert "signature: attestation.dsse.json: signed by key" in done.stdout


def test_resealed_by_a_forger_is_refused(run_copy: Path, five_runs: Runs, tmp_path: Path) -> None:
    """Editing the summary and re-sealing with the forger's own key fails the trusted key."""
    summary = json.loads((run_copy / "summary.json").read_text())
    summary["deadlines"]["stop"]["verdict"] = "met"
    summary["metrics"]["time_to_stop"]["upper"] = 0.001
    (run_copy / "summary.json").write_text(json.dumps(summary, indent=2))
    for name in ("manifest.json", "attestation.dsse.json", "signer.pub.pem"):
        (run_copy / name).unlink()
    assert govdrill("keygen", str(tmp_path / "forger.key")).returncode == 0
    seal_run(run_copy, run_name=run_copy.name, signer=load_signer(str(tmp_path / "forger.key")))
    assert verify(run_copy).returncode == 0  # self-consistent ...
    done = verify(run_copy, "--key", str(five_runs.public_key))
    assert done.returncode == 1  # ... but not by the key we trust
    assert "not by the given key" in done.stdout


def test_unsigned_run_verifies_but_not_against_a_key(run_copy: Path, five_runs: Runs) -> None:
    """An unsigned seal verifies on its own; asked for a signature it fails."""
    for name in ("manifest.json", "attestation.dsse.json", "signer.pub.pem"):
        (run_copy / name).unlink()
    seal_run(run_copy, run_name=run_copy.name, signer=None)
    done = verify(run_copy)
    assert done.returncode == 0 and "unsigned" in done.stdout
    done = verify(run_copy, "--key", str(five_runs.public_key))
    assert done.returncode == 1 and "the run is unsigned" in done.stdout


def test_envelope_is_in_toto_dsse(five_runs: Runs) -> None:
    """The envelope carries an in-toto Statement v1 over every file, signed over its PAE."""
    import base64

    from harness.integrity import load_public_key

    run = five_runs.runs[0]
    env = json.loads((run / "attestation.dsse.json").read_text())
    assert env["payloadType"] == "application/vnd.in-toto+json"
    statement = json.loads(base64.b64decode(env["payload"]))
    assert statement["_type"] == "https://in-toto.io/Statement/v1"
    assert statement["predicateType"].startswith("urn:govdrill:")
    assert statement["predicate"]["verdict"] == "passed"
    names = {s["name"] for s in statement["subject"]}
    assert {"summary.json", "timeline.jsonl", "report.html", "manifest.json"} <= names
    public = load_public_key(five_runs.public_key.read_bytes(), "pub")
    sig = base64.b64decode(env["signatures"][0]["sig"])
    public.verify(sig, pae(env["payloadType"], base64.b64decode(env["payload"])))


def test_keygen_writes_a_private_key_only_its_owner_reads(tmp_path: Path) -> None:
    """The private key is mode 0600, the public key beside it, and nothing is overwritten."""
    done = govdrill("keygen", str(tmp_path / "k"))
    assert done.returncode == 0
    assert (tmp_path / "k").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "k.pub").read_text().startswith("-----BEGIN PUBLIC KEY-----")
    again = govdrill("keygen", str(tmp_path / "k"))
    assert again.returncode == 2 and "already exists" in again.stderr


def test_bad_signing_key_is_bad_input(tmp_path: Path) -> None:
    """A signing key that is not an Ed25519 PEM key stops the run before it starts (exit 2)."""
    (tmp_path / "bad.key").write_text("not a key\n")
    done = govdrill(
        "run", str(SHORT), "--results", str(tmp_path / "results"), "-q",
        "--sign-key", str(tmp_path / "bad.key"),
    )  # fmt: skip
    assert done.returncode == 2 and "bad.key" in done.stderr
    assert not (tmp_path / "results").exists()


def test_killed_run_presents_no_manifest(tmp_path: Path) -> None:
    """A harness killed mid-run leaves only a staging folder, never a manifest."""
    results = tmp_path / "results"
    proc = subprocess.Popen(
        [sys.executable, "-m", "harness", "run", str(SHORT), "--results", str(results), "-q"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 20
    try:
        while time.monotonic() < deadline:
            timelines = list(results.glob("*/.*.partial/timeline.jsonl"))
            if timelines and b"stop_rung_issued" in timelines[0].read_bytes():
                break
            time.sleep(0.02)
        else:
            pytest.fail("the run never reached its stop")
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(10)
    assert not [p for p in results.glob("*/*") if not p.name.startswith(".")]
    assert not list(results.rglob("manifest.json"))
    assert not list(results.rglob("attestation.dsse.json"))
