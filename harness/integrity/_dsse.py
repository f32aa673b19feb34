"""DSSE envelopes (Dead Simple Signing Envelope, v1) around in-toto Statement v1 payloads.

The signature is over the pre-authentication encoding ``PAE(type, body)``:
``b"DSSEv1" SP LEN(type) SP type SP LEN(body) SP body``, where LEN is the byte length in
ASCII decimal, so a signature can never be replayed over a payload of another type.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from harness.integrity._canonical import canonical_json
from harness.integrity._keys import Signer

__all__ = [
    "IN_TOTO_PAYLOAD_TYPE",
    "STATEMENT_TYPE",
    "decode_b64",
    "envelope",
    "pae",
    "statement",
]

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
IN_TOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json"


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE's pre-authentication encoding of ``payload`` with its type."""
    kind = payload_type.encode("utf-8")
    return b"DSSEv1 %d %b %d %b" % (len(kind), kind, len(payload), payload)


def statement(
    subjects: dict[str, str], predicate_type: str, predicate: dict[str, Any]
) -> dict[str, Any]:
    """An in-toto Statement v1 over ``subjects`` (name → sha256 hex)."""
    return {
        "_type": STATEMENT_TYPE,
        "subject": [
            {"name": name, "digest": {"sha256": digest}}
            for name, digest in sorted(subjects.items())
        ],
        "predicateType": predicate_type,
        "predicate": predicate,
    }


def envelope(payload: bytes, signer: Signer | None) -> dict[str, Any]:
    """A DSSE envelope for an in-toto payload, signed when ``signer`` is given."""
    signatures = []
    if signer is not None:
        sig = signer.sign(pae(IN_TOTO_PAYLOAD_TYPE, payload))
        signatures.append({"keyid": signer.keyid, "sig": base64.b64encode(sig).decode()})
    return {
        "payload": base64.b64encode(payload).decode(),
        "payloadType": IN_TOTO_PAYLOAD_TYPE,
        "signatures": signatures,
    }


def decode_b64(text: Any) -> bytes | None:
    """Strict base64 (standard or URL-safe alphabet, as DSSE allows); None when malformed."""
    if not isinstance(text, str):
        return None
    try:
        if "-" in text or "_" in text:
            return base64.urlsafe_b64decode(text.encode())
        return base64.b64decode(text.encode(), validate=True)
    except (binascii.Error, ValueError):
        return None


def payload_bytes(value: dict[str, Any]) -> bytes:
    """The statement as the envelope carries it (canonical JSON)."""
    return canonical_json(value)
