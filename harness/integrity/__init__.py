"""Evidence an auditor can verify: canonical JSON, a manifest, a signed in-toto attestation.

``seal_run`` writes ``manifest.json`` (SHA-256 of every file, the timeline's chain head) and
``attestation.dsse.json`` (a DSSE envelope, Ed25519-signed when a key is given, around an
in-toto Statement v1) into a staged run; ``verify_run`` checks a sealed run against both.
The signer is handed to ``run_drill`` and ``seal_dead_runs`` by the entry points (the CLI's
``--sign-key``, else ``$GOVDRILL_SIGNING_KEY``, both through ``choose_signer()``).
``request_timestamp`` gets an RFC 3161 token over the attestation from a TSA
(``attestation.tsr``), ``check_timestamp`` checks one, and ``load_trust`` reads a trust file
of public keys with validity windows that ``verify_run`` judges a run's signer by.
"""

from __future__ import annotations

import os

from harness.integrity._authority import (
    AUTHORIZED_BY_ENV,
    MAX_AUTHORIZED_BY,
    choose_authorized_by,
    printable,
)
from harness.integrity._canonical import canonical_json
from harness.integrity._dsse import (
    IN_TOTO_PAYLOAD_TYPE,
    STATEMENT_TYPE,
    decode_b64,
    envelope,
    pae,
    statement,
)
from harness.integrity._keys import (
    SIGNING_KEY_ENV,
    Signer,
    generate_keypair,
    key_id,
    load_public_key,
    load_signer,
    verify_signature,
)
from harness.integrity._seal import (
    ENVELOPE,
    MANIFEST,
    PREDICATE_TYPE,
    SIGNER_PUBLIC_KEY,
    TIMESTAMP_FILE,
    seal_run,
)
from harness.integrity._trust import TrustedKey, load_trust
from harness.integrity._tsa import (
    TimestampCheck,
    check_timestamp,
    check_tsa_url,
    request_timestamp,
    stamp_attestation,
)
from harness.integrity._verify import Finding, FindingKind, VerifyReport, verify_run

__all__ = [
    "AUTHORIZED_BY_ENV",
    "ENVELOPE",
    "IN_TOTO_PAYLOAD_TYPE",
    "MANIFEST",
    "MAX_AUTHORIZED_BY",
    "PREDICATE_TYPE",
    "SIGNER_PUBLIC_KEY",
    "SIGNING_KEY_ENV",
    "STATEMENT_TYPE",
    "TIMESTAMP_FILE",
    "Finding",
    "FindingKind",
    "Signer",
    "TimestampCheck",
    "TrustedKey",
    "VerifyReport",
    "canonical_json",
    "check_timestamp",
    "check_tsa_url",
    "choose_authorized_by",
    "choose_signer",
    "decode_b64",
    "envelope",
    "generate_keypair",
    "key_id",
    "load_public_key",
    "load_signer",
    "load_trust",
    "pae",
    "printable",
    "request_timestamp",
    "seal_run",
    "stamp_attestation",
    "statement",
    "verify_run",
    "verify_signature",
]


def choose_signer(sign_key: str | None = None) -> Signer | None:
    """The key at ``sign_key`` (``--sign-key``), else the one $GOVDRILL_SIGNING_KEY names,
    else None; raises EvidenceError for an unusable key. Called by the entry points only: the
    engine is handed its signer."""
    if sign_key:
        return load_signer(sign_key)
    source = os.environ.get(SIGNING_KEY_ENV, "")
    return load_signer(source) if source.strip() else None
