"""Seal a staged run: the manifest of every file, then the signed in-toto attestation.

Written inside the staging folder, before the rename that makes the run visible, so a run
that crashed before its end never presents a manifest. ``manifest.json`` lists the SHA-256
and size of every other file, the timeline's chain head and who signed; its own digest
(``self_sha256``, over the manifest without that field) makes an edit of it visible without
a key. ``attestation.dsse.json`` is a DSSE envelope around an in-toto Statement v1 whose
subjects are the run's files (manifest included) and whose predicate is the drill's result.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.evidence import write_atomic
from harness.integrity._canonical import canonical_json
from harness.integrity._dsse import envelope, payload_bytes, statement
from harness.integrity._keys import Signer, public_key_pem
from harness.timeline import verify_chain

__all__ = [
    "ENVELOPE",
    "MANIFEST",
    "MANIFEST_FORMAT",
    "PREDICATE_TYPE",
    "SIGNER_PUBLIC_KEY",
    "TIMESTAMP_FILE",
    "expected_statement",
    "file_digest",
    "manifest_self_digest",
    "run_entries",
    "run_files",
    "seal_run",
]

MANIFEST = "manifest.json"
ENVELOPE = "attestation.dsse.json"
TIMESTAMP_FILE = "attestation.tsr"
"""A run's RFC 3161 timestamp token over ``attestation.dsse.json``'s bytes: made after the
manifest and the attestation, which it covers, so it is in neither."""
SIGNER_PUBLIC_KEY = "signer.pub.pem"
MANIFEST_FORMAT = "govdrill-manifest/v1"
PREDICATE_TYPE = "urn:govdrill:predicate:drill-result:v1"
"""A name, not a web address: the predicate's fields are documented in the README."""

_PREDICATE_KEYS = (
    "drill", "run_id", "target", "sandbox", "verdict", "deadlines", "metrics", "rung_used",
    "resurrected", "stop_theater", "ground_truth", "expectation", "observations", "versions",
    "error", "artefact_errors", "interrupted_by", "sealed_after_death", "authorized_by",
)  # fmt: skip
_TIMELINE = "timeline.jsonl"


def file_digest(path: Path) -> str:
    """SHA-256 of the file at ``path``, in hex."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True, slots=True)
class RunEntries:
    """Everything inside a run folder, found without following a symbolic link or opening
    anything: regular files, directories, and every other kind of entry (links, FIFOs,
    sockets, devices) by kind. Paths are POSIX, relative to the folder, sorted."""

    files: tuple[str, ...]
    directories: tuple[str, ...]
    others: tuple[tuple[str, str], ...]


def run_entries(folder: Path) -> RunEntries:
    """Walk ``folder`` with lstat only (a FIFO is never opened, a link never followed)."""
    files, directories, others = [], [], []
    pending = [folder]
    while pending:
        current = pending.pop()
        with os.scandir(current) as entries:
            for entry in entries:
                rel = Path(entry.path).relative_to(folder).as_posix()
                mode = entry.stat(follow_symlinks=False).st_mode
                if stat.S_ISREG(mode):
                    files.append(rel)
                elif stat.S_ISDIR(mode):
                    directories.append(rel)
                    pending.append(Path(entry.path))
                else:
                    others.append((rel, _kind(mode)))
    return RunEntries(tuple(sorted(files)), tuple(sorted(directories)), tuple(sorted(others)))


def _kind(mode: int) -> str:
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISBLK(mode) or stat.S_ISCHR(mode):
        return "a device"
    return "not a regular file"


def run_files(folder: Path) -> Iterator[str]:
    """Every regular file of a run except the three that describe the others, sorted."""
    return (n for n in run_entries(folder).files if n not in (MANIFEST, ENVELOPE, TIMESTAMP_FILE))


def manifest_self_digest(manifest: dict[str, Any]) -> str:
    """The digest a manifest carries of itself: over its canonical form without the field."""
    body = {k: v for k, v in manifest.items() if k != "self_sha256"}
    return hashlib.sha256(canonical_json(body)).hexdigest()


def expected_statement(folder: Path, manifest: dict[str, Any]) -> bytes:
    """The statement a run's envelope must carry, rebuilt from the manifest and summary."""
    subjects = {name: entry["sha256"] for name, entry in manifest["files"].items()}
    subjects[MANIFEST] = file_digest(folder / MANIFEST)
    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    predicate = {key: summary[key] for key in _PREDICATE_KEYS if key in summary}
    # The folder name and the run id are signed: a copy under another name is refused.
    predicate["run"] = manifest["run"]
    predicate["run_id"] = manifest.get("run_id")
    predicate["timeline_head_sha256"] = manifest["timeline"]["head_sha256"]
    return payload_bytes(statement(subjects, PREDICATE_TYPE, predicate))


def seal_run(folder: Path, *, run_name: str, signer: Signer | None) -> dict[str, Any]:
    """Write the signer's public key, ``manifest.json`` and ``attestation.dsse.json`` into
    the staged run ``folder``; returns the manifest."""
    # A token over an earlier attestation (a run resealed after its harness died) covers
    # nothing this seal writes.
    (folder / TIMESTAMP_FILE).unlink(missing_ok=True)
    if signer is not None:
        write_atomic(folder / SIGNER_PUBLIC_KEY, public_key_pem(signer.public))
    files = {
        name: {"sha256": file_digest(folder / name), "bytes": (folder / name).stat().st_size}
        for name in run_files(folder)
    }
    chain = verify_chain(folder / _TIMELINE)
    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    manifest: dict[str, Any] = {
        "format": MANIFEST_FORMAT,
        "run": run_name,
        "drill": summary.get("drill"),
        "run_id": summary.get("run_id"),
        "hash": "sha256",
        "canonical_json": "RFC 8785 (sorted keys, no whitespace, UTF-8)",
        "files": files,
        "directories": list(run_entries(folder).directories),
        "timeline": {"file": _TIMELINE, "lines": chain.lines, "head_sha256": chain.head},
        "attestation": {
            "file": ENVELOPE,
            "statement": "https://in-toto.io/Statement/v1",
            "predicate_type": PREDICATE_TYPE,
            "signer": None
            if signer is None
            else {"alg": "ed25519", "keyid": signer.keyid, "public_key": SIGNER_PUBLIC_KEY},
        },
    }
    manifest["self_sha256"] = manifest_self_digest(manifest)
    write_atomic(folder / MANIFEST, canonical_json(manifest) + b"\n")
    payload = expected_statement(folder, manifest)
    write_atomic(folder / ENVELOPE, canonical_json(envelope(payload, signer)) + b"\n")
    return manifest
