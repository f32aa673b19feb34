"""Check a sealed run against its manifest, its timeline chain and its signed attestation.

Every problem is one Finding naming the file it concerns, so ``govdrill verify`` can say
which file was changed, added or removed, whether the timeline's chain broke and whether a
signature fails. Without a key the check proves the run is self-consistent (any accidental
or naive edit shows); only a signature checked against a key you trust proves who made it.

A run's time is its own claim (the stamp in its signed name) unless an RFC 3161 token
(``attestation.tsr``) over its attestation checks against a TSA certificate you trust. A trust
file's key signs only within its window, and the run is judged at that time: the TSA's when
checked, else the self-asserted one, which the report flags.
"""

from __future__ import annotations

import base64
import datetime as dt
import enum
import json
import stat
from collections.abc import Sequence
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
from harness.integrity._trust import TrustedKey
from harness.integrity._tsa import (
    TIMESTAMP_FILE,
    check_timestamp,
    parse_token,
    token_binds,
    tsa_trust_anchors,
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
    TIMESTAMP = "timestamp"
    UNTRUSTED_KEY = "key not trusted"


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
    signed: bool = False
    """The manifest names a signer (whether or not the signature then held)."""
    key_id: str | None = None
    """The key whose signature over the statement held (None: unsigned, or it did not)."""
    trusted_key: TrustedKey | None = None
    """The trust file's entry that vouched for that key at the run's time."""
    authorized_by: str | None = None
    """Who ordered or approved the drill, as the signed statement says."""
    timestamp: dt.datetime | None = None
    """The TSA's time from a token checked against ``--tsa-cert`` (None: none checked)."""
    started_at: dt.datetime | None = None
    """The run's own claim of when it started (the stamp in its signed name): self-asserted."""

    @property
    def run_time(self) -> dt.datetime | None:
        """The time keys are judged at: the checked TSA time, else the self-asserted start."""
        return self.timestamp if self.timestamp is not None else self.started_at

    @property
    def time_self_asserted(self) -> bool:
        """Whether ``run_time`` is only the run's own claim."""
        return self.timestamp is None

    @property
    def intact(self) -> bool:
        """True when the folder is a sealed run and nothing was found."""
        return self.unsealed is None and not self.findings

    def add(self, kind: FindingKind, path: str, detail: str) -> None:
        """Record one problem."""
        self.findings.append(Finding(kind, path, detail))


def verify_run(
    run_dir: Path,
    *,
    key: Path | None = None,
    trust: Sequence[TrustedKey] | None = None,
    tsa_cert: Path | None = None,
) -> VerifyReport:
    """Verify the sealed run at ``run_dir``. With ``key``, its signature must be that key's;
    with ``trust`` (a trust file's keys), a key valid at the run's time; with ``tsa_cert``,
    its timestamp token must check against that TSA certificate. EvidenceError for an
    unusable key or certificate, or both ``key`` and ``trust``."""
    if key is not None and trust is not None:
        raise EvidenceError("give one public key or a trust file, not both")
    trusted = None if key is None else load_public_key(_read(key), str(key))
    if tsa_cert is not None:
        tsa_trust_anchors(tsa_cert)  # an unusable certificate is bad input, run or no run
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
    report.started_at = _self_asserted_start(manifest)
    _check_timestamp(run_dir, tsa_cert, report)
    _check_attestation(run_dir, manifest, trusted, trust, report)
    return report


def _self_asserted_start(manifest: dict[str, Any]) -> dt.datetime | None:
    """The UTC stamp the run's (signed) name begins with: ``<stamp>-<run-id>``."""
    stamp = str(manifest.get("run") or "").rsplit("-", 1)[0]
    try:
        return dt.datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)
    except ValueError:
        return None


_MAX_TOKEN = 1 << 20
_FORWARD_TOLERANCE = dt.timedelta(minutes=5)
"""How far a host clock may run ahead of the TSA's before a start after the stamp is
refused rather than put down to skew."""
_LATE_STAMP = dt.timedelta(hours=1)


def _check_timestamp(run_dir: Path, tsa_cert: Path | None, report: VerifyReport) -> None:
    """The token binds to the attestation's bytes (no certificate needed for that); with
    ``tsa_cert`` it must also be a TSA's valid token, whose time becomes the run's."""
    path, envelope = run_dir / TIMESTAMP_FILE, run_dir / ENVELOPE
    if path.is_symlink() or (path.exists() and not _regular(path)):
        report.add(FindingKind.NOT_A_FILE, TIMESTAMP_FILE, "not a regular file: not a token")
        return
    if not path.is_file():
        if tsa_cert is not None:
            report.add(
                FindingKind.TIMESTAMP,
                TIMESTAMP_FILE,
                "no timestamp token: the run's time is only self-asserted",
            )
        return
    if not _regular(envelope):
        return  # the missing attestation is reported by its own check
    if path.stat().st_size > _MAX_TOKEN:
        report.add(FindingKind.TIMESTAMP, TIMESTAMP_FILE, f"larger than {_MAX_TOKEN} bytes")
        return
    token, data = path.read_bytes(), envelope.read_bytes()
    if tsa_cert is None:
        response = parse_token(token)
        problem = "not a DER TimeStampResp" if response is None else token_binds(response, data)
        if problem is not None:
            report.add(FindingKind.TIMESTAMP, TIMESTAMP_FILE, problem)
        else:
            report.notes.append(
                f"{TIMESTAMP_FILE} is a token over this attestation; pass --tsa-cert with the"
                " TSA's CA certificate to trust its time"
            )
        return
    check = check_timestamp(token, data, tsa_cert)
    if not check.ok or check.time is None:
        report.add(FindingKind.TIMESTAMP, TIMESTAMP_FILE, check.detail)
        return
    report.timestamp = check.time
    start = report.started_at
    if start is not None and start - check.time > _FORWARD_TOLERANCE:
        report.add(
            FindingKind.TIMESTAMP,
            TIMESTAMP_FILE,
            f"the run says it started {start.isoformat()}, after the TSA stamped its"
            f" attestation at {check.time.isoformat()} (a forward-dated run)",
        )
    elif start is not None and check.time - start > _LATE_STAMP:
        report.notes.append(
            f"stamped {check.time - start} after its self-asserted start: the TSA proves only"
            " that the run existed by then"
        )


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
    present = {n for n in entries.files if n not in (MANIFEST, ENVELOPE, TIMESTAMP_FILE)}
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
    trust: Sequence[TrustedKey] | None,
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
    report.authorized_by = _authorized_by(payload)
    _check_signatures(run_dir, manifest, env, payload, trusted, trust, report)


def _authorized_by(payload: bytes) -> str | None:
    """Who the signed statement says ordered or approved the drill."""
    try:
        predicate = json.loads(payload).get("predicate")
        value = predicate.get("authorized_by") if isinstance(predicate, dict) else None
    except (ValueError, AttributeError):
        return None
    return value if isinstance(value, str) else None


def _judge_by_trust(
    keyid: str, trust: Sequence[TrustedKey], report: VerifyReport
) -> Ed25519PublicKey | None:
    """The trust file's key ``keyid`` if one of its entries was valid at the run's time;
    None (with a finding) otherwise."""
    listed = [k for k in trust if k.key_id == keyid]
    if not listed:
        report.add(
            FindingKind.UNTRUSTED_KEY,
            ENVELOPE,
            f"signed by key {keyid[:16]}…, which the trust file does not list",
        )
        return None
    when = report.run_time
    source = "self-asserted" if report.time_self_asserted else "TSA"
    if when is None:
        report.add(
            FindingKind.UNTRUSTED_KEY, ENVELOPE, "the run's time is unknown: no key window applies"
        )
        return None
    valid = [k for k in listed if k.valid_at(when)]
    if not valid:
        windows = "; ".join(f"{k.window()} ({k.where})" for k in listed)
        report.add(
            FindingKind.UNTRUSTED_KEY,
            ENVELOPE,
            f"key {listed[0].label()} is trusted from {windows}; the run's time"
            f" {when.isoformat()} ({source}) is outside",
        )
        return None
    report.trusted_key = valid[0]
    return load_public_key(valid[0].public_pem, valid[0].where)


def _check_signatures(
    run_dir: Path,
    manifest: dict[str, Any],
    env: dict[str, Any],
    payload: bytes,
    trusted: Ed25519PublicKey | None,
    trust: Sequence[TrustedKey] | None,
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
        elif trust is not None:
            report.add(
                FindingKind.SIGNATURE, ENVELOPE, "the run is unsigned; a trust file was given"
            )
        else:
            report.notes.append("unsigned run: integrity checked, authorship not provable")
        return
    report.signed = True
    report.signed_by = signer["keyid"]
    if trust is not None:
        trusted = _judge_by_trust(signer["keyid"], trust, report)
        if trusted is None:
            return
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
            "signature checked against the public key stored in the run; pass --key (or"
            " --trust) with a key you trust to prove who signed"
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
            report.key_id = signer["keyid"]
        else:
            report.add(FindingKind.SIGNATURE, ENVELOPE, "bad signature over the statement")
    if not good and not any(f.kind is FindingKind.SIGNATURE for f in report.findings):
        report.add(FindingKind.SIGNATURE, ENVELOPE, "no signature, but the manifest names a signer")
