"""`govdrill verify --trust` judges each run by the key valid at its time: the TSA's checked
time when there is one, else the run's self-asserted start, flagged as such."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness.integrity import load_trust, verify_run
from tests.evidence.runs import SHORT
from tests.helpers import govdrill
from tests.tsa.local_tsa import LocalTsa, start_local_tsa

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Rotation:
    """Three stamped runs: the old key A, then the new key B, then A again (after rotation)."""

    a1: Path
    b2: Path
    a3: Path
    key_a: Path
    key_b: Path
    times: dict[Path, dt.datetime]
    tsa: LocalTsa
    base: Path


@pytest.fixture(scope="module")
def rotation(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rotation]:
    """Three real runs of the short drill, each stamped by the local TSA."""
    base = tmp_path_factory.mktemp("rotation")
    tsa = start_local_tsa(base)
    try:
        for name in ("a", "b"):
            assert govdrill("keygen", str(base / f"{name}.key")).returncode == 0
        runs = []
        for key in ("a", "b", "a"):  # one invocation each: runs are made in this order
            results = base / f"results-{len(runs)}"
            done = govdrill(
                "run", str(SHORT), "--results", str(results), "-q",
                "--sign-key", str(base / f"{key}.key"), "--tsa", tsa.url,
            )  # fmt: skip
            assert done.returncode == 0, done.stdout + done.stderr
            (run,) = (results / "evidence-short").iterdir()
            runs.append(run)
        times = {}
        for run in runs:
            stamped = verify_run(run, tsa_cert=tsa.ca_cert_path).timestamp
            assert stamped is not None
            times[run] = stamped
        assert times[runs[0]] < times[runs[1]] < times[runs[2]]
        yield Rotation(
            *runs, key_a=base / "a.key.pub", key_b=base / "b.key.pub", times=times, tsa=tsa,
            base=base,
        )  # fmt: skip
    finally:
        tsa.stop()


def _trust(folder: Path, name: str, *entries: tuple[Path, dt.datetime | None, dt.datetime | None]
           ) -> Path:  # fmt: skip
    lines = []
    for key, not_before, not_after in entries:
        lines.append(f"- key: {key}")
        if not_before is not None:
            lines.append(f"  not_before: {not_before.isoformat()}")
        if not_after is not None:
            lines.append(f"  not_after: {not_after.isoformat()}")
    path = folder / name
    path.write_text("\n".join(lines) + "\n")
    return path


def _verify(run: Path, trust: Path, tsa: LocalTsa | None) -> tuple[int, str]:
    extra = [] if tsa is None else ["--tsa-cert", str(tsa.ca_cert_path)]
    done = govdrill("verify", str(run), "--trust", str(trust), *extra)
    return done.returncode, done.stdout + done.stderr


def test_rotation_two_keys_two_periods(rotation: Rotation, tmp_path: Path) -> None:
    """A valid until the rotation, B from then on: A's run before it and B's after it are
    accepted; A's run after the rotation is rejected (the old key was retired)."""
    r = rotation
    split = r.times[r.a1] + (r.times[r.b2] - r.times[r.a1]) / 2
    trust = _trust(tmp_path, "trust.yaml", (r.key_a, None, split), (r.key_b, split, None))
    code, out = _verify(r.a1, trust, r.tsa)
    assert code == 0, out
    assert f"key: {load_trust(trust)[0].label()} trusted" in out
    assert "(RFC 3161 timestamp" in out
    code, out = _verify(r.b2, trust, r.tsa)
    assert code == 0, out
    assert f"key: {load_trust(trust)[1].label()} trusted" in out
    code, out = _verify(r.a3, trust, r.tsa)
    assert code == 1, out
    assert "FAIL key not trusted: attestation.dsse.json: key" in out
    assert "(TSA) is outside" in out


def test_a_key_outside_its_window_is_rejected_and_inside_accepted(
    rotation: Rotation, tmp_path: Path
) -> None:
    """The same run and key: a window that ended before the run's TSA time rejects it, a
    window around it accepts it; the report names the key the run was judged by."""
    r = rotation
    when = r.times[r.b2]
    ended = _trust(tmp_path, "ended.yaml", (r.key_b, None, when - dt.timedelta(seconds=1)))
    code, out = _verify(r.b2, ended, r.tsa)
    assert code == 1, out
    assert "is outside" in out
    around = _trust(
        tmp_path, "around.yaml",
        (r.key_b, when - dt.timedelta(minutes=1), when + dt.timedelta(minutes=1)),
    )  # fmt: skip
    code, out = _verify(r.b2, around, r.tsa)
    assert code == 0, out
    report = verify_run(r.b2, trust=load_trust(around), tsa_cert=r.tsa.ca_cert_path)
    assert report.intact and report.key_id == load_trust(around)[0].key_id
    assert report.trusted_key == load_trust(around)[0]


def test_without_trusted_time_the_self_asserted_start_is_used_and_flagged(
    rotation: Rotation, tmp_path: Path
) -> None:
    """A window opening one second after the run's self-asserted start: without --tsa-cert
    the run is judged at that start (rejected, flagged self-asserted); with it, at the TSA's
    later time (accepted)."""
    r = rotation
    started = verify_run(r.b2).started_at
    assert started is not None and started < r.times[r.b2]
    trust = _trust(tmp_path, "late.yaml", (r.key_b, started + dt.timedelta(seconds=1), None))
    code, out = _verify(r.b2, trust, None)
    assert code == 1, out
    assert "(self-asserted) is outside" in out
    code, out = _verify(r.b2, trust, r.tsa)
    assert code == 0, out


def test_a_key_the_trust_file_does_not_list_is_rejected(rotation: Rotation, tmp_path: Path) -> None:
    """Signed by A, the trust file lists only B: rejected whatever the time."""
    trust = _trust(tmp_path, "only-b.yaml", (rotation.key_b, None, None))
    code, out = _verify(rotation.a1, trust, rotation.tsa)
    assert code == 1, out
    assert "which the trust file does not list" in out


def test_an_unsigned_run_is_rejected_under_a_trust_file(rotation: Rotation, tmp_path: Path) -> None:
    """No signature at all cannot satisfy a trust file."""
    results = tmp_path / "results"
    assert govdrill("run", str(SHORT), "--results", str(results), "-q").returncode == 0
    (run,) = (results / "evidence-short").iterdir()
    trust = _trust(tmp_path, "any.yaml", (rotation.key_a, None, None))
    code, out = _verify(run, trust, None)
    assert code == 1, out
    assert "the run is unsigned; a trust file was given" in out
    assert not verify_run(run).signed
