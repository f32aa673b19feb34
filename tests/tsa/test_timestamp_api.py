"""request_timestamp and check_timestamp against a real local TSA (openssl ts on loopback)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from harness.errors import EvidenceError
from harness.integrity import check_timestamp, check_tsa_url, request_timestamp
from tests.tsa.local_tsa import LocalTsa, TsaBehaviour, start_local_tsa


def test_a_token_from_the_tsa_checks_against_its_ca(local_tsa: LocalTsa) -> None:
    """A token the TSA grants over some bytes holds for those bytes, with the TSA's time."""
    before = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(seconds=2)
    token = request_timestamp(b"the attestation", local_tsa.url)
    check = check_timestamp(token, b"the attestation", local_tsa.ca_cert_path)
    assert check.ok, check.detail
    assert check.time is not None
    assert before <= check.time <= dt.datetime.now(dt.UTC) + dt.timedelta(seconds=2)


def test_a_bundle_pinning_the_tsa_certificate_is_accepted(
    local_tsa: LocalTsa, tmp_path: Path
) -> None:
    """The CA plus the TSA's own certificate in one file: the token holds, pinned to it."""
    bundle = tmp_path / "bundle.pem"
    bundle.write_bytes(local_tsa.ca_cert_path.read_bytes() + local_tsa.tsa_cert_path.read_bytes())
    token = request_timestamp(b"x", local_tsa.url)
    assert check_timestamp(token, b"x", bundle).ok


def test_a_token_over_other_bytes_is_rejected(local_tsa: LocalTsa) -> None:
    """The token of one attestation does not hold for another."""
    token = request_timestamp(b"run A's attestation", local_tsa.url)
    check = check_timestamp(token, b"run B's attestation", local_tsa.ca_cert_path)
    assert not check.ok
    assert check.time is None
    assert "other bytes" in check.detail


def test_a_token_from_a_tsa_of_another_ca_is_rejected(local_tsa: LocalTsa, tmp_path: Path) -> None:
    """A real token, checked against a CA that never issued the TSA's certificate."""
    other = start_local_tsa(tmp_path, name="another TSA")
    try:
        token = request_timestamp(b"x", other.url)
    finally:
        other.stop()
    check = check_timestamp(token, b"x", local_tsa.ca_cert_path)
    assert not check.ok
    assert "verif" in check.detail.lower()


def test_garbage_is_not_a_token(local_tsa: LocalTsa) -> None:
    """Bytes that are not a TimeStampResp fail the check, never raise."""
    check = check_timestamp(b"\x30\x00nonsense", b"x", local_tsa.ca_cert_path)
    assert not check.ok
    assert "TimeStampResp" in check.detail


def test_an_unusable_tsa_certificate_is_bad_input(local_tsa: LocalTsa, tmp_path: Path) -> None:
    """A missing file, a file that is not PEM, or only the TSA's leaf: EvidenceError."""
    token = request_timestamp(b"x", local_tsa.url)
    (tmp_path / "junk.pem").write_text("not a certificate")
    for path, words in (
        (tmp_path / "absent.pem", "cannot read"),
        (tmp_path / "junk.pem", "not a PEM certificate"),
        (local_tsa.tsa_cert_path, "no CA certificate"),
    ):
        with pytest.raises(EvidenceError, match=words):
            check_timestamp(token, b"x", path)


@pytest.mark.parametrize(
    ("behaviour", "words"),
    [
        (TsaBehaviour.ERROR_500, "HTTP 500"),
        (TsaBehaviour.GARBAGE, "not a TimeStampResp"),
        (TsaBehaviour.HANG, "could not be reached"),
    ],
)
def test_a_tsa_that_misbehaves_gives_no_token(
    local_tsa: LocalTsa, behaviour: TsaBehaviour, words: str
) -> None:
    """A TSA that fails, lies or hangs is an EvidenceError naming it, within the timeout."""
    local_tsa.server.behaviour = behaviour
    with pytest.raises(EvidenceError, match=words):
        request_timestamp(b"x", local_tsa.url, timeout_s=1.0)


def test_a_closed_port_gives_no_token(tmp_path: Path) -> None:
    """Nobody listening: EvidenceError, not a traceback."""
    tsa = start_local_tsa(tmp_path)
    tsa.stop()
    with pytest.raises(EvidenceError, match="could not be reached"):
        request_timestamp(b"x", tsa.url, timeout_s=5.0)


def test_only_http_addresses_are_tsa_urls() -> None:
    """file:, ftp: and bare words are refused before any request."""
    assert check_tsa_url("https://tsa.example/") == "https://tsa.example/"
    for bad in ("file:///etc/passwd", "ftp://x/", "tsa.example", "http://"):
        with pytest.raises(EvidenceError, match="not an http"):
            check_tsa_url(bad)
