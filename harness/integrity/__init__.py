"""Evidence an auditor can verify: canonical JSON, a manifest, a signed in-toto attestation.

``seal_run`` writes ``manifest.json`` (SHA-256 of every file, the timeline's chain head) and
``attestation.dsse.json`` (a DSSE envelope, Ed25519-signed when a key is given, around an
in-toto Statement v1) into a staged run; ``verify_run`` checks a sealed run against both.
The signing key for a run comes from ``signing_key()`` (the CLI's ``--sign-key``), else
from ``$GOVDRILL_SIGNING_KEY``.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
from collections.abc import Iterator

from harness.integrity._canonical import canonical_json
from harness.integrity._dsse import IN_TOTO_PAYLOAD_TYPE, STATEMENT_TYPE, pae
from harness.integrity._keys import (
    SIGNING_KEY_ENV,
    Signer,
    generate_keypair,
    key_id,
    load_public_key,
    load_signer,
)
from harness.integrity._seal import ENVELOPE, MANIFEST, PREDICATE_TYPE, SIGNER_PUBLIC_KEY, seal_run
from harness.integrity._verify import Finding, FindingKind, VerifyReport, verify_run

__all__ = [
    "ENVELOPE",
    "IN_TOTO_PAYLOAD_TYPE",
    "MANIFEST",
    "PREDICATE_TYPE",
    "SIGNER_PUBLIC_KEY",
    "SIGNING_KEY_ENV",
    "STATEMENT_TYPE",
    "Finding",
    "FindingKind",
    "Signer",
    "VerifyReport",
    "canonical_json",
    "current_signer",
    "generate_keypair",
    "key_id",
    "load_public_key",
    "load_signer",
    "pae",
    "seal_run",
    "signing_key",
    "verify_run",
]

_SIGNER: contextvars.ContextVar[Signer | None] = contextvars.ContextVar(
    "govdrill_signer", default=None
)


@contextlib.contextmanager
def signing_key(signer: Signer | None) -> Iterator[None]:
    """Sign the runs concluded inside this block with ``signer``."""
    token = _SIGNER.set(signer)
    try:
        yield
    finally:
        _SIGNER.reset(token)


def current_signer() -> Signer | None:
    """The signer set by ``signing_key()``, else the key named by $GOVDRILL_SIGNING_KEY;
    raises EvidenceError when that variable names an unusable key."""
    signer = _SIGNER.get()
    if signer is not None:
        return signer
    source = os.environ.get(SIGNING_KEY_ENV, "")
    return load_signer(source) if source.strip() else None
