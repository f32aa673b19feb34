"""The pack's own evidence: ``pack.manifest.json`` and its signed statement ``pack.dsse.json``.

The manifest (canonical JSON) records the period, each included run (its folder, run id,
start, verdict, and the SHA-256 of its ``manifest.json`` and ``attestation.dsse.json``, which
in turn cover every file of the run), every excluded folder with its reason, and the digests
of the pack's HTML and PDF. The envelope is a DSSE envelope around an in-toto Statement v1
whose subjects are the manifest and those pages, signed with the same Ed25519 keys as runs.
It holds no wall-clock time of its making, so the same runs give the same bytes.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from harness import __version__
from harness.errors import EvidenceError
from harness.integrity import (
    IN_TOTO_PAYLOAD_TYPE,
    Signer,
    canonical_json,
    decode_b64,
    envelope,
    key_id,
    load_public_key,
    pae,
    statement,
    verify_signature,
)
from harness.pack._collect import Collection
from harness.pack._period import Period, format_utc

__all__ = [
    "PACK_ENVELOPE",
    "PACK_FORMAT",
    "PACK_HTML",
    "PACK_MANIFEST",
    "PACK_PDF",
    "PACK_PREDICATE_TYPE",
    "PACK_PUBLIC_KEY",
    "PACK_TIMESTAMP",
    "pack_envelope",
    "pack_manifest",
    "verify_pack",
]

PACK_MANIFEST = "pack.manifest.json"
PACK_ENVELOPE = "pack.dsse.json"
PACK_TIMESTAMP = "pack.tsr"
PACK_HTML = "pack.html"
PACK_PDF = "pack.pdf"
PACK_PUBLIC_KEY = "pack.signer.pub.pem"
PACK_FORMAT = "govdrill-pack/v1"
PACK_PREDICATE_TYPE = "urn:govdrill:predicate:pack:v1"


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def pack_manifest(
    collection: Collection,
    period: Period,
    pages: dict[str, bytes],
    signer: Signer | None,
) -> dict[str, Any]:
    """The pack manifest over ``collection``; ``pages`` are the pack's files by name."""
    return {
        "format": PACK_FORMAT,
        "govdrill": __version__,
        "hash": "sha256",
        "canonical_json": "RFC 8785 (sorted keys, no whitespace, UTF-8)",
        "period": period.document(),
        "runs": [
            {
                "folder": run.folder,
                "drill": run.summary.drill,
                "run_id": run.run_id,
                "target": run.summary.target,
                "started": format_utc(run.started),
                "start_source": run.start_source,
                "timestamp": None if run.timestamp is None else format_utc(run.timestamp),
                "verdict": run.summary.verdict.value,
                "ok": run.summary.ok,
                "manifest_sha256": run.manifest_sha256,
                "attestation_sha256": run.attestation_sha256,
                "signer_keyid": run.key_id,
                "key_checked_with": run.key_checked_with,
                "authorized_by": run.authorized_by,
            }
            for run in collection.included
        ],
        "excluded": [
            {
                "folder": e.folder,
                "reason": e.reason.value,
                "detail": e.detail,
                "run_id": e.run_id,
                "drill": e.drill,
                "started": None if e.started is None else format_utc(e.started),
            }
            for e in collection.excluded
        ],
        "outside_period": collection.outside,
        "files": {
            name: {"sha256": _digest(data), "bytes": len(data)}
            for name, data in sorted(pages.items())
        },
        "signer": None
        if signer is None
        else {"alg": "ed25519", "keyid": signer.keyid, "public_key": PACK_PUBLIC_KEY},
    }


def _statement(manifest_bytes: bytes, manifest: dict[str, Any]) -> bytes:
    subjects = {PACK_MANIFEST: _digest(manifest_bytes)}
    subjects.update({name: entry["sha256"] for name, entry in manifest["files"].items()})
    predicate = {
        "period": manifest["period"],
        "runs_included": len(manifest["runs"]),
        "folders_excluded": len(manifest["excluded"]),
    }
    return canonical_json(statement(subjects, PACK_PREDICATE_TYPE, predicate))


def pack_envelope(manifest_bytes: bytes, signer: Signer | None) -> dict[str, Any]:
    """The DSSE envelope over the pack's statement, signed when ``signer`` is given."""
    return envelope(_statement(manifest_bytes, json.loads(manifest_bytes)), signer)


def verify_pack(folder: Path, *, key: Path | None = None) -> list[str]:
    """Problems with the pack in ``folder`` (empty: intact): its manifest, its pages'
    digests, and its signature (against ``key`` when given, else the key stored in it)."""
    problems: list[str] = []
    try:
        raw = (folder / PACK_MANIFEST).read_bytes()
        manifest = json.loads(raw)
        env = json.loads((folder / PACK_ENVELOPE).read_bytes())
    except (OSError, ValueError) as exc:
        return [f"cannot read the pack's manifest or envelope: {exc}"]
    if not isinstance(manifest, dict) or canonical_json(manifest) + b"\n" != raw:
        return [f"{PACK_MANIFEST}: not the canonical manifest the pack wrote"]
    for name, entry in sorted(manifest.get("files", {}).items()):
        path = folder / name
        if not path.is_file() or _digest(path.read_bytes()) != entry.get("sha256"):
            problems.append(f"{name}: its SHA-256 differs from the manifest's")
    payload = decode_b64(env.get("payload"))
    if payload != _statement(raw, manifest):
        problems.append(f"{PACK_ENVELOPE}: its statement does not match the manifest")
    signer = manifest.get("signer")
    signatures = env.get("signatures") or []
    if signer is None:
        if signatures or key is not None:
            problems.append(f"{PACK_ENVELOPE}: the manifest says unsigned")
        return problems
    source = key if key is not None else folder / str(signer.get("public_key"))
    try:
        public = load_public_key(source.read_bytes(), str(source))
    except (OSError, EvidenceError) as exc:
        return [*problems, f"cannot load the pack's public key: {exc}"]
    if key_id(public) != signer.get("keyid"):
        return [*problems, f"{PACK_ENVELOPE}: signed by {signer.get('keyid')}, not by this key"]
    message = pae(IN_TOTO_PAYLOAD_TYPE, payload or b"")
    # A malformed signature is simply not a good one.
    sigs = [decode_b64(item.get("sig")) for item in signatures if isinstance(item, dict)]
    if not any(sig is not None and verify_signature(public, sig, message) for sig in sigs):
        problems.append(f"{PACK_ENVELOPE}: no good signature over the pack's statement")
    return problems
