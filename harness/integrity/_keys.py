"""Ed25519 keys for signing runs: make a pair, load either half, name a key by its digest."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from harness.errors import EvidenceError

__all__ = [
    "SIGNING_KEY_ENV",
    "Signer",
    "generate_keypair",
    "key_id",
    "load_public_key",
    "load_signer",
    "public_key_pem",
    "verify_signature",
]

SIGNING_KEY_ENV = "GOVDRILL_SIGNING_KEY"
"""A path to a PEM private key, or the PEM text itself (as CI secrets usually are)."""


def key_id(public: Ed25519PublicKey) -> str:
    """The key's id: SHA-256 of its 32 raw bytes, in hex."""
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


def public_key_pem(public: Ed25519PublicKey) -> bytes:
    """The public key as SubjectPublicKeyInfo PEM."""
    return public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


@dataclass(frozen=True, slots=True)
class Signer:
    """A loaded private key and the id of its public half."""

    private: Ed25519PrivateKey
    keyid: str
    source: str

    @property
    def public(self) -> Ed25519PublicKey:
        """The public half."""
        return self.private.public_key()

    def sign(self, message: bytes) -> bytes:
        """An Ed25519 signature over ``message``."""
        return self.private.sign(message)


def generate_keypair(out: Path) -> tuple[Path, Path]:
    """Write a new private key to ``out`` (mode 0600, never over an existing file) and its
    public key to ``out.pub``; returns both paths."""
    public_path = out.with_name(out.name + ".pub")
    for path in (out, public_path):
        if path.exists():
            raise EvidenceError(f"{path} already exists; not overwriting a key")
    private = Ed25519PrivateKey.generate()
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    try:
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(pem)
        os.chmod(out, 0o600)  # whatever the umask said
        public_path.write_bytes(public_key_pem(private.public_key()))
    except OSError as exc:
        raise EvidenceError(f"cannot write the key pair at {out}: {exc.strerror or exc}") from exc
    return out, public_path


def load_signer(source: str) -> Signer:
    """The private key at path ``source``, or in ``source`` itself when it is PEM text."""
    if source.lstrip().startswith("-----BEGIN"):
        data, where = source.encode(), f"${SIGNING_KEY_ENV} (PEM text)"
    else:
        try:
            data, where = Path(source).read_bytes(), source
        except OSError as exc:
            raise EvidenceError(f"cannot read signing key {source}: {exc.strerror}") from exc
    try:
        private = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise EvidenceError(f"{where}: not an unencrypted PEM private key ({exc})") from exc
    if not isinstance(private, Ed25519PrivateKey):
        raise EvidenceError(f"{where}: not an Ed25519 key (make one with `govdrill keygen`)")
    return Signer(private, key_id(private.public_key()), where)


def load_public_key(data: bytes, where: str) -> Ed25519PublicKey:
    """An Ed25519 public key from PEM bytes; EvidenceError naming ``where`` otherwise."""
    try:
        public = serialization.load_pem_public_key(data)
    except (ValueError, TypeError) as exc:
        raise EvidenceError(f"{where}: not a PEM public key ({exc})") from exc
    if not isinstance(public, Ed25519PublicKey):
        raise EvidenceError(f"{where}: not an Ed25519 public key")
    return public


def verify_signature(public: Ed25519PublicKey, signature: bytes, message: bytes) -> bool:
    """Whether ``signature`` is ``public``'s signature over ``message``."""
    try:
        public.verify(signature, message)
    except InvalidSignature:
        return False
    return True
