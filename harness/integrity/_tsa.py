"""Trusted time: RFC 3161 timestamps from a time-stamping authority (TSA), and their check.

A run's own clock says when it ran, but anyone holding the folder could have set that clock.
A TSA signs "these bytes existed at this instant" with a certificate the auditor trusts, so a
run whose attestation carries a token cannot have been made later than the token says.

The protocol (the query, the DER answer, the CMS signature and its certificate chain) is
rfc3161-client's; this module only frames the HTTP exchange, bounds what it reads, and turns
the library's answers into govdrill's: ``EvidenceError`` for a token that could not be had,
a ``TimestampCheck`` for one that was checked. What is stored (``attestation.tsr``) is the
TSA's whole DER ``TimeStampResp``, as ``openssl ts -reply`` writes it, so
``openssl ts -verify -in attestation.tsr -data attestation.dsse.json -CAfile CA`` checks it too.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID
from rfc3161_client import (
    HashAlgorithm,
    PKIStatus,
    TimestampRequestBuilder,
    TimeStampResponse,
    VerificationError,
    VerifierBuilder,
    decode_timestamp_response,
)

from harness.errors import EvidenceError
from harness.evidence import write_atomic
from harness.integrity._seal import ENVELOPE, TIMESTAMP_FILE

__all__ = [
    "TIMESTAMP_FILE",
    "TimestampCheck",
    "check_timestamp",
    "check_tsa_url",
    "parse_token",
    "request_timestamp",
    "stamp_attestation",
    "token_binds",
    "tsa_trust_anchors",
]

_MAX_ANSWER = 1 << 20
"""A TimeStampResp is a few kilobytes; more than this is not an answer worth parsing."""
_SHA256_OID = x509.ObjectIdentifier("2.16.840.1.101.3.4.2.1")


@dataclass(frozen=True, slots=True)
class TimestampCheck:
    """What checking one token found: whether it holds, the TSA's time when it does, why not
    when it does not."""

    ok: bool
    time: dt.datetime | None
    detail: str


def check_tsa_url(url: str) -> str:
    """``url`` when it is an http(s) address a TSA can answer at; EvidenceError otherwise."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise EvidenceError(f"--tsa {url!r}: not an http:// or https:// address of a TSA")
    return url


def request_timestamp(data: bytes, tsa_url: str, *, timeout_s: float = 10.0) -> bytes:
    """The DER TimeStampResp (status and token) a TSA gives over sha256(``data``); raises
    EvidenceError when the TSA is unreachable, refuses, or answers something that is not a
    granted token over these bytes for this query."""
    check_tsa_url(tsa_url)
    query = (
        TimestampRequestBuilder()
        .data(data)
        .hash_algorithm(HashAlgorithm.SHA256)
        .nonce(nonce=True)
        .cert_request(cert_request=True)  # the TSA's certificate rides in the token
        .build()
    )
    request = urllib.request.Request(
        tsa_url,
        data=query.as_bytes(),
        headers={"Content-Type": "application/timestamp-query"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as answer:
            body: bytes = answer.read(_MAX_ANSWER + 1)
    except urllib.error.HTTPError as exc:
        raise EvidenceError(f"TSA {tsa_url} answered HTTP {exc.code}") from exc
    except (urllib.error.URLError, OSError) as exc:  # refused, unresolvable, timed out
        reason = getattr(exc, "reason", exc)
        raise EvidenceError(f"TSA {tsa_url} could not be reached: {reason}") from exc
    if len(body) > _MAX_ANSWER:
        raise EvidenceError(f"TSA {tsa_url} answered more than {_MAX_ANSWER} bytes")
    try:
        response = decode_timestamp_response(body)
    except ValueError as exc:
        # Also what a TSA whose token carries its chain unsorted (a DER SET must be sorted)
        # gets: the strict parser refuses it rather than guess.
        raise EvidenceError(
            f"TSA {tsa_url} answered something that is not a TimeStampResp ({str(exc)[:200]})"
        ) from exc
    if response.status not in (PKIStatus.GRANTED, PKIStatus.GRANTED_WITH_MODS):
        said = "; ".join(response.status_string)[:200]
        raise EvidenceError(f"TSA {tsa_url} refused (PKIStatus {response.status}) {said!r}")
    try:
        nonce, imprint = response.tst_info.nonce, response.tst_info.message_imprint
    except ValueError as exc:
        raise EvidenceError(f"TSA {tsa_url} granted without a readable token: {exc}") from exc
    if nonce != query.nonce:
        raise EvidenceError(f"TSA {tsa_url} answered another query (nonce differs)")
    if imprint.hash_algorithm != _SHA256_OID or imprint.message != hashlib.sha256(data).digest():
        raise EvidenceError(f"TSA {tsa_url} stamped other bytes than the ones sent")
    return body


def stamp_attestation(folder: Path, tsa_url: str, *, timeout_s: float = 10.0) -> dt.datetime:
    """Timestamp the sealed attestation of the run in ``folder`` at the TSA and write the
    answer as ``attestation.tsr`` beside it; returns the TSA's stated time (unchecked: that
    takes the TSA's certificate, which ``verify --tsa-cert`` has). EvidenceError without a
    token, and then nothing is written."""
    token = request_timestamp((folder / ENVELOPE).read_bytes(), tsa_url, timeout_s=timeout_s)
    write_atomic(folder / TIMESTAMP_FILE, token)
    when = decode_timestamp_response(token).tst_info.gen_time
    return when if when.tzinfo is not None else when.replace(tzinfo=dt.UTC)


def check_timestamp(token: bytes, data: bytes, tsa_cert: Path) -> TimestampCheck:
    """Whether ``token`` is a valid RFC 3161 token over sha256(``data``), signed by a
    certificate with the timeStamping purpose that chains to a certificate in the PEM file
    ``tsa_cert`` (the TSA's CA; a bundle may add the TSA's own certificate to pin it).
    Raises EvidenceError when ``tsa_cert`` itself is unusable (that is bad input)."""
    roots, pinned = tsa_trust_anchors(tsa_cert)
    response = _parse(token)
    if response is None:
        return TimestampCheck(False, None, "not a DER TimeStampResp")
    binding = token_binds(response, data)
    if binding is not None:
        return TimestampCheck(False, None, binding)
    builder = VerifierBuilder(tsa_certificate=pinned)
    for root in roots:
        builder = builder.add_root_certificate(root)
    try:
        builder.build().verify_message(response, data)
    except (VerificationError, ValueError) as exc:
        return TimestampCheck(False, None, f"not a valid token from a TSA {tsa_cert} vouches"
                              f" for: {str(exc)[:300]}")  # fmt: skip
    when = response.tst_info.gen_time
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return TimestampCheck(True, when, f"stamped {when.isoformat()} by a TSA of {tsa_cert.name}")


def token_binds(response: TimeStampResponse, data: bytes) -> str | None:
    """None when the token's imprint is sha256(``data``); else why not. This needs no
    certificate: a token taken from another run is caught even without ``--tsa-cert``."""
    try:
        if response.status not in (PKIStatus.GRANTED, PKIStatus.GRANTED_WITH_MODS):
            return f"the TSA did not grant it (PKIStatus {response.status})"
        imprint = response.tst_info.message_imprint
    except ValueError as exc:
        return f"no readable token ({exc})"
    digest = {_SHA256_OID: hashlib.sha256}.get(imprint.hash_algorithm)
    if digest is None:
        return f"stamped with hash {imprint.hash_algorithm.dotted_string}, not SHA-256"
    if imprint.message != digest(data).digest():
        return "it stamps other bytes than this run's attestation (a token of another run?)"
    return None


def parse_token(token: bytes) -> TimeStampResponse | None:
    """The TimeStampResp in ``token``, or None when it is not one."""
    return _parse(token)


def _parse(body: bytes) -> TimeStampResponse | None:
    try:
        return decode_timestamp_response(body)
    except ValueError:
        return None


def tsa_trust_anchors(path: Path) -> tuple[list[x509.Certificate], x509.Certificate | None]:
    """The certificates in the PEM file ``path`` as roots, and the TSA's own certificate
    among them (a leaf with the timeStamping purpose), if it is there, to pin."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise EvidenceError(f"cannot read the TSA certificate {path}: {exc.strerror}") from exc
    try:
        certs = x509.load_pem_x509_certificates(data)
    except ValueError as exc:
        raise EvidenceError(f"{path}: not a PEM certificate ({exc})") from exc
    leaves = [c for c in certs if _is_tsa_leaf(c)]
    roots = [c for c in certs if c not in leaves]
    if not roots:
        raise EvidenceError(
            f"{path}: holds no CA certificate; give the certificate of the CA that issued the"
            " TSA's (the TSA's own certificate may be added to the same file to pin it)"
        )
    return roots, leaves[0] if len(leaves) == 1 else None


def _is_tsa_leaf(cert: x509.Certificate) -> bool:
    try:
        constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
        if constraints.ca:
            return False
    except x509.ExtensionNotFound:
        pass
    try:
        usage = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return False
    return ExtendedKeyUsageOID.TIME_STAMPING in usage
