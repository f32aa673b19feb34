"""`govdrill pack` on bad input: clear errors with exit 2 and nothing written; a hostile
folder, a refused timestamp or an untrusted key is listed, never fatal."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import subprocess
from pathlib import Path

import pytest

from harness.engine import run_drill
from harness.errors import SpecError
from harness.integrity import (
    ENVELOPE,
    MANIFEST,
    TIMESTAMP_FILE,
    canonical_json,
    generate_keypair,
    load_signer,
    request_timestamp,
    verify_run,
)
from harness.pack import parse_period
from harness.spec.loader import load_drill
from tests.helpers import govdrill_in_process, small_drill
from tests.pack.quarter import Quarter
from tests.tsa.local_tsa import LocalTsa


def _pack(
    results: Path, out: Path, *extra: str, since: str = "2026-07-01", until: str = "2026-09-30"
) -> subprocess.CompletedProcess[str]:
    return govdrill_in_process(
        "pack", str(results), "--since", since, "--until", until, "--out", str(out), *extra
    )


def test_a_bare_date_is_the_whole_day_and_times_are_utc() -> None:
    """--since a date starts at its midnight, --until a date ends at its last second; a time
    without an offset is UTC, one with an offset is converted."""
    period = parse_period("2026-07-01", "2026-09-30")
    assert period.since == dt.datetime(2026, 7, 1, tzinfo=dt.UTC)
    assert period.until == dt.datetime(2026, 9, 30, 23, 59, 59, tzinfo=dt.UTC)
    other = parse_period("2026-07-01T12:00:00", "2026-07-02T02:00:00+02:00")
    assert other.since == dt.datetime(2026, 7, 1, 12, tzinfo=dt.UTC)
    assert other.until == dt.datetime(2026, 7, 2, 0, tzinfo=dt.UTC)
    with pytest.raises(SpecError, match="--since"):
        parse_period("2026-10-01", "2026-09-30")


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--since", "2026-10-01"], "--since: '2026-10-01' is after --until"),
        (["--since", "last tuesday"], "--since: 'last tuesday' is not a date"),
        (["--until", "2026-02-30"], "--until: '2026-02-30' is not a date"),
        (["--tsa", "ftp://tsa.example"], "--tsa"),
        (["--trust", "no-such-trust.yaml"], "no-such-trust.yaml: --trust: no such file"),
        (["--tsa-cert", "no-such-ca.pem"], "no-such-ca.pem: --tsa-cert: no such file"),
    ],
)
def test_bad_arguments_exit_2_and_write_nothing(tmp_path: Path, args: list[str], says: str) -> None:
    """Each bad argument is named; the command exits 2 and no pack folder appears."""
    results = tmp_path / "results"
    results.mkdir()
    out = tmp_path / "pack"
    argv = ["--since", "2026-07-01", "--until", "2026-09-30", *args]
    done = govdrill_in_process("pack", str(results), "--out", str(out), "--no-pdf", *argv)
    assert done.returncode == 2, done.stderr
    assert says in done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results"]


def test_bad_folders_and_keys_exit_2(tmp_path: Path) -> None:
    """A results folder that is not one, an --out already holding files, and a signing key
    that is not a key are bad input: exit 2, the existing --out left as it was."""
    out = tmp_path / "pack"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    done = _pack(tmp_path / "nowhere", out, "--no-pdf")
    assert done.returncode == 2
    assert "nowhere: RESULTS: not a folder" in done.stderr
    assert "--out: already exists and is not an empty folder" in done.stderr
    assert [p.name for p in out.iterdir()] == ["keep.txt"]
    (tmp_path / "results").mkdir()
    (tmp_path / "not-a.key").write_text("hello")
    done = _pack(tmp_path / "results", tmp_path / "new", "--sign-key", str(tmp_path / "not-a.key"))
    assert done.returncode == 2 and "not-a.key" in done.stderr
    assert not (tmp_path / "new").exists()


def test_no_chromium_is_bad_input_and_a_failing_one_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """$GOVDRILL_CHROMIUM naming nothing is exit 2 (pass --no-pdf or install it); a Chromium
    that fails to print is exit 3 with no pack and no staging folder left."""
    results = tmp_path / "results"
    results.mkdir()
    monkeypatch.setenv("GOVDRILL_CHROMIUM", str(tmp_path / "no-such-chromium"))
    done = _pack(results, tmp_path / "pack")
    assert done.returncode == 2
    assert "no Chromium to print the PDF with" in done.stderr
    monkeypatch.setenv("GOVDRILL_CHROMIUM", "false")
    done = _pack(results, tmp_path / "pack")
    assert done.returncode == 3, done.stderr
    assert "printed no PDF" in done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results"]


def test_a_hostile_manifest_is_listed_not_fatal(tmp_path: Path) -> None:
    """A canonical manifest with a valid self-digest but nonsense inside trips the run
    checker itself; the pack lists the folder as not a readable run and goes on."""
    folder = tmp_path / "results" / "d" / "20260801T000000Z-cafe0001"
    folder.mkdir(parents=True)
    body = {"format": "govdrill-manifest/v1", "files": "not a mapping", "run": folder.name}
    body["self_sha256"] = hashlib.sha256(canonical_json(body)).hexdigest()
    (folder / MANIFEST).write_bytes(canonical_json(body) + b"\n")
    with pytest.raises(AttributeError):
        verify_run(folder)  # why the pack guards each folder on its own
    done = _pack(tmp_path / "results", tmp_path / "pack", "--no-pdf")
    assert done.returncode == 1, done.stderr
    assert (
        "EXCLUDED d/20260801T000000Z-cafe0001: not a readable run: verification could not"
        " read it: AttributeError" in done.stderr
    )
    manifest = json.loads((tmp_path / "pack" / "pack.manifest.json").read_bytes())
    assert manifest["runs"] == [] and manifest["excluded"][0]["reason"] == "not a readable run"


@pytest.mark.slow
def test_timestamps_corroborate_a_start_or_refuse_a_run(tmp_path: Path, pack_tsa: LocalTsa) -> None:
    """Two real runs stamped by a real local TSA as they seal: one's token bears out its
    start (the pack says so), the other's token is swapped for one over other bytes and the
    run is excluded as 'timestamp refused'."""
    drill_file = tmp_path / "d.yaml"
    drill_file.write_text(small_drill("pack-stamped"))
    results = tmp_path / "results"
    signer = load_signer(str(generate_keypair(tmp_path / "k.key")[0]))
    good, bad = (
        run_drill(load_drill(drill_file), results=results, signer=signer, tsa_url=pack_tsa.url)
        for _ in range(2)
    )
    (bad.run_dir / TIMESTAMP_FILE).write_bytes(
        request_timestamp((bad.run_dir / MANIFEST).read_bytes(), pack_tsa.url)
    )
    today = dt.datetime.now(dt.UTC).date().isoformat()
    out = tmp_path / "pack"
    done = _pack(
        results, out, "--no-pdf", "--tsa-cert", str(pack_tsa.ca_cert_path),
        since=(dt.date.today() - dt.timedelta(days=1)).isoformat(), until=today,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    manifest = json.loads((out / "pack.manifest.json").read_bytes())
    [included] = manifest["runs"]
    assert included["run_id"] == good.run_id
    assert included["start_source"] == "corroborated by its timestamp"
    assert included["timestamp"] is not None
    [refused] = manifest["excluded"]
    assert refused["run_id"] == bad.run_id and refused["reason"] == "timestamp refused"
    assert "corroborated by its timestamp" in (out / "pack.html").read_text()
    assert (good.run_dir / ENVELOPE).is_file()


@pytest.mark.slow
@pytest.mark.xdist_group("pack-quarter")
def test_a_trust_file_judges_each_run_by_the_key_valid_at_its_time(
    quarter: Quarter, tmp_path: Path
) -> None:
    """The quarter's key trusted only from 2026-08-01: the July runs are excluded as 'key
    not trusted' (judged at their self-asserted start), the later ones included."""
    trust = tmp_path / "trust.yaml"
    trust.write_text(
        f"- name: drills-from-august\n  key: {quarter.public_key}\n  not_before: 2026-08-01\n"
    )
    out = tmp_path / "pack"
    done = _pack(quarter.results, out, "--no-pdf", "--trust", str(trust))
    assert done.returncode == 1, done.stderr
    manifest = json.loads((out / "pack.manifest.json").read_bytes())
    included = {r["run_id"] for r in manifest["runs"]}
    refused = {e["run_id"] for e in manifest["excluded"] if e["reason"] == "key not trusted"}
    july = {"kill-1", "rollback-1", "kill-fail-1", "kill-fail-2", "kill-fix"}
    later = {"defect-1", "rollback-fail", "rollback-fix", "kill-fail-open"}
    assert refused == {quarter.run_id(k) for k in july}
    assert included == {quarter.run_id(k) for k in later}
    assert all("drills-from-august" in r["key_checked_with"] for r in manifest["runs"])
