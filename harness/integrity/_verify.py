"""Check a sealed run against its manifest, its timeline chain and its signed attestation.

Every problem is one Finding naming the file it concerns, so ``govdrill verify`` can say
which file was changed, added or removed, whether the timeline's chain broke and whether a
signature fails. Without a key the check proves the run is self-consistent (any accidental
or naive edit shows); only a signature checked against a key you trust proves who made it.
"""

from __future__ import annotations

import base64
import enum
import json
import stat
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from harness.errors import EvidenceError
from harness.evidence import run_is_live
from harness.integrity._canonical import canonical_json
from harness.integrity._dsse import IN_TOTO_PAYLOAD_TYPE, decode_b64, pae
from harness.integrity._keys import key_id, load_public_key, verify_signature
from harness.integrity._seal import (
    ENVELOPE,
    MANIFEST,
    MANIFEST_FORMAT,
    expected_statement,
    file_digest,
    manifest_self_digest,
    run_entries,
    run_files,
)
from harness.run_names import run_name_of
from harness.timeline import verify_chain

__all__ = ["Finding", "FindingKind", "Unsealed", "VerifyReport", "verify_run"]


class FindingKind(enum.StrEnum):
    """What is wrong with one file."""

    CHANGED = "changed"
    ADDED = "added"
    MISSING = "missing"
    CHAIN = "chain broken"
    SIGNATURE = "signature"
    NOT_A_FILE = "not a regular file"
    BINDING = "not this run"


class Unsealed(enum.StrEnum):
    """Why a folder is a run's staging folder rather than a sealed run."""

    INTERRUPTED = "interrupted run"
    RUNNING = "run in progress"


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem, naming the file it concerns."""

    kind: FindingKind
    path: str
    detail: str

    def __str__(self) -> str:
        return f"{self.kind.value}: {self.path}: {self.detail}"


@dataclass(slots=True)
class VerifyReport:
    """What verifying one run found."""

    run_dir: Path
    findings: list[Finding] = field(default_factory=list)
    files: int = 0
    signed_by: str | None = None
    signature_checked_with: str | None = None
    notes: list[str] = field(default_factory=list)
    unsealed: Unsealed | None = None
    """Set for a staging folder (``.<stamp>-<id>.partial``): nothing was checked."""

    @property
    def intact(self) -> bool:
        """True when the folder is a sealed run and nothing was found."""
        return self.unsealed is None and not self.findings

    def add(self, kind: FindingKind, path: str, detail: str) -> None:
        """Record one problem."""
        self.findings.append(Finding(kind, path, detail))


def verify_run(run_dir: Path, *, key: Path | None = None) -> VerifyReport:
    """Verify the sealed run at ``run_dir``; with ``key``, its signature must be that key's."""
    trusted = None if key is None else load_public_key(_read(key), str(key))
    report = VerifyReport(run_dir)
    if not run_dir.is_dir():
        raise EvidenceError(f"{run_dir} is not a run folder")
    run_dir = run_dir.resolve()  # a link to a run is followed once; its real name is checked
    if run_name_of(run_dir.resolve()) is not None:
        # A staging folder was never sealed: it is not "tampered", it is not evidence yet.
        live = run_is_live(run_dir)
        report.unsealed = Unsealed.RUNNING if live else Unsealed.INTERRUPTED
        return report
    manifest = _load_manifest(run_dir, report)
    if manifest is None:
        return report
    _check_files(run_dir, manifest, report)
    _check_chain(run_dir, manifest, report)
    _check_binding(run_dir, manifest, report)
    _check_attestation(run_dir, manifest, trusted, report)
    return report


def _regular(path: Path) -> bool:
    """Whether ``path`` is a regular file itself (never following a link: reading a FIFO
    would hang the check)."""
    try:
        return stat.S_ISREG(path.lstat().st_mode)
    except OSError:
        return False


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise EvidenceError(f"cannot read {path}: {exc.strerror}") from exc


def _canonical_document(raw: bytes) -> dict[str, Any] | None:
    """The JSON object in ``raw`` if ``raw`` is exactly its canonical form plus a newline."""
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(value, dict) or canonical_json(value) + b"\n" != raw:
        return None
    return value


def _load_manifest(run_dir: Path, report: VerifyReport) -> dict[str, Any] | None:
    path = run_dir / MANIFEST
    if path.is_symlink() or (path.exists() and not _regular(path)):
        report.add(FindingKind.NOT_A_FILE, MANIFEST, "not a regular file: not the run's manifest")
        return None
    if not path.is_file():
        report.add(FindingKind.MISSING, MANIFEST, "no manifest: the run cannot be verified")
        for name in run_files(run_dir):
            report.add(FindingKind.ADDED, name, "not covered by any manifest")
        return None
    manifest = _canonical_document(path.read_bytes())
    if manifest is None or manifest.get("format") != MANIFEST_FORMAT:
        report.add(FindingKind.CHANGED, MANIFEST, "not the canonical manifest the run wrote")
        return None
    if manifest.get("self_sha256") != manifest_self_digest(manifest):
        report.add(FindingKind.CHANGED, MANIFEST, "its own digest does not match its content")
        return None
    return manifest


def _check_files(run_dir: Path, manifest: dict[str, Any], report: VerifyReport) -> None:
    listed: dict[str, Any] = manifest["files"]
    report.files = len(listed)
    entries = run_entries(run_dir)
    present = {n for n in entries.files if n not in (MANIFEST, ENVELOPE)}
    odd = dict(entries.others)
    for name, entry in sorted(listed.items()):
        path = run_dir / name
        if name in odd:
            report.add(FindingKind.NOT_A_FILE, name, f"{odd[name]}, not the file listed")
        elif name not in present:
            report.add(FindingKind.MISSING, name, "listed in the manifest but not in the run")
        elif path.stat().st_size != entry["bytes"] or file_digest(path) != entry["sha256"]:
            report.add(FindingKind.CHANGED, name, "its SHA-256 differs from the manifest's")
    for name in sorted(present - set(listed)):
        report.add(FindingKind.ADDED, name, "not in the manifest")
    for name, kind in entries.others:
        if name not in listed:
            report.add(FindingKind.ADDED, name, f"{kind}, not in the manifest")
    # Folders are allowed only where the manifest's files live, or as it lists them.
    allowed = set(manifest.get("directories") or ())
    for name in listed:
        allowed.update(p.as_posix() for p in PurePosixPath(name).parents if p.parts)
    for name in entries.directories:
        if name not in allowed:
            report.add(FindingKind.ADDED, name, "a directory not in the manifest")


def _check_binding(run_dir: Path, manifest: dict[str, Any], report: VerifyReport) -> None:
    """The folder is the run the manifest (and so the signed statement) names."""
    name = run_dir.resolve().name
    signed_name, signed_id = manifest.get("run"), manifest.get("run_id")
    if name != signed_name:
        report.add(
            FindingKind.BINDING,
            MANIFEST,
            f"the folder is named {name!r}, the run was sealed as {signed_name!r} (a copy"
            " under another name)",
        )
    if not isinstance(signed_id, str) or not str(signed_name).endswith(f"-{signed_id}"):
        report.add(
            FindingKind.BINDING, MANIFEST, f"run id {signed_id!r} is not the one its name carries"
        )
    try:
        if not _regular(run_dir / "summary.json"):
            return  # reported by the file check
        summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return  # reported by the file check
    if not isinstance(summary, dict):
        return
    if summary.get("run_id") != signed_id:
        report.add(
            FindingKind.BINDING,
            "summary.json",
            f"run id {summary.get('run_id')!r}, the manifest names {signed_id!r}",
        )
    after_death = summary.get("sealed_after_death")
    if isinstance(after_death, dict):
        report.notes.append(
            f"sealed by {after_death.get('sealed_by')} after its harness died: verdict"
            f" {summary.get('verdict')}, holding what the run had written"
        )


def _check_chain(run_dir: Path, manifest: dict[str, Any], report: VerifyReport) -> None:
    recorded = manifest["timeline"]
    path = run_dir / recorded["file"]
    if not _regular(path):
        return  # already reported as missing or not a file
    chain = verify_chain(path)
    for problem in chain.problems:
        report.add(FindingKind.CHAIN, recorded["file"], problem)
    if chain.intact and (chain.lines, chain.head) != (recorded["lines"], recorded["head_sha256"]):
        report.add(
            FindingKind.CHAIN,
            recorded["file"],
            f"{chain.lines} lines ending in {chain.head[:12]}…, the manifest recorded"
            f" {recorded['lines']} ending in {recorded['head_sha256'][:12]}… (lines cut off"
            " or appended)",
        )


def _check_attestation(
    run_dir: Path,
    manifest: dict[str, Any],
    trusted: Ed25519PublicKey | None,
    report: VerifyReport,
) -> None:
    path = run_dir / ENVELOPE
    if path.is_symlink() or (path.exists() and not _regular(path)):
        report.add(FindingKind.NOT_A_FILE, ENVELOPE, "not a regular file: not the attestation")
        return
    if not path.is_file():
        report.add(FindingKind.MISSING, ENVELOPE, "the signed attestation is gone")
        return
    env = _canonical_document(path.read_bytes())
    if env is None or env.get("payloadType") != IN_TOTO_PAYLOAD_TYPE:
        report.add(FindingKind.CHANGED, ENVELOPE, "not the canonical DSSE envelope the run wrote")
        return
    try:
        if not _regular(run_dir / "summary.json"):
            raise ValueError("summary.json is not a regular file")
        expected = expected_statement(run_dir, manifest)
    except (OSError, ValueError, KeyError):
        expected = None  # summary.json is missing or broken: reported by the file check
    payload = decode_b64(env.get("payload"))
    if payload is None or base64.b64encode(payload).decode() != env["payload"]:
        report.add(FindingKind.CHANGED, ENVELOPE, "its payload is not valid base64")
        return
    if expected is not None and payload != expected:
        report.add(FindingKind.CHANGED, ENVELOPE, "its statement does not match the run's files")
    _check_signatures(run_dir, manifest, env, payload, trusted, report)


def _check_signatures(
    run_dir: Path,
    manifest: dict[str, Any],
    env: dict[str, Any],
    payload: bytes,
    trusted: Ed25519PublicKey | None,
    report: VerifyReport,
) -> None:
    signer = manifest["attestation"]["signer"]
    signatures = env.get("signatures")
    if not isinstance(signatures, list):
        report.add(FindingKind.CHANGED, ENVELOPE, "its signatures are not a list")
        return
    if signer is None:
        if signatures:
            report.add(FindingKind.SIGNATURE, ENVELOPE, "signed, but the manifest says unsigned")
        elif trusted is not None:
            report.add(FindingKind.SIGNATURE, ENVELOPE, "the run is unsigned; a key was given")
        else:
            report.notes.append("unsigned run: integrity checked, authorship not provable")
        return
    report.signed_by = signer["keyid"]
    embedded_path = run_dir / signer["public_key"]
    if not _regular(embedded_path):
        return  # reported as a missing file
    try:
        embedded = load_public_key(embedded_path.read_bytes(), signer["public_key"])
    except EvidenceError as exc:
        report.add(FindingKind.SIGNATURE, signer["public_key"], str(exc))
        return
    if key_id(embedded) != signer["keyid"]:
        report.add(FindingKind.SIGNATURE, signer["public_key"], "not the key the manifest names")
    keys = [embedded] if trusted is None else [trusted]
    if trusted is not None:
        report.signature_checked_with = key_id(trusted)
        if key_id(trusted) != signer["keyid"]:
            report.add(
                FindingKind.SIGNATURE,
                ENVELOPE,
                f"signed by key {signer['keyid'][:16]}…, not by the given key"
                f" {key_id(trusted)[:16]}…",
            )
            return
    else:
        report.notes.append(
            "signature checked against the public key stored in the run; pass --key with a key"
            " you trust to prove who signed"
        )
    message = pae(IN_TOTO_PAYLOAD_TYPE, payload)
    good = False
    for item in signatures:
        if not isinstance(item, dict) or item.get("keyid") != signer["keyid"]:
            report.add(FindingKind.SIGNATURE, ENVELOPE, "a signature names an unknown key")
            continue
        sig = decode_b64(item.get("sig"))
        if sig is None or base64.b64encode(sig).decode() != item.get("sig"):
            report.add(FindingKind.SIGNATURE, ENVELOPE, "a signature is not valid base64")
            continue
        if all(verify_signature(k, sig, message) for k in keys):
            good = True
        else:
            report.add(FindingKind.SIGNATURE, ENVELOPE, "bad signature over the statement")
    if not good and not any(f.kind is FindingKind.SIGNATURE for f in report.findings):
        report.add(FindingKind.SIGNATURE, ENVELOPE, "no signature, but the manifest names a signer")
