"""A local HTTPS control plane for tests: a CA, server and client certificates made on the
spot, and a server that records every byte that arrived in clear before the TLS handshake."""

from __future__ import annotations

import datetime
import http.server
import ipaddress
import socket
import socketserver
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["Pki", "TlsControlPlane", "make_pki", "serve_tls"]

_TLS_HANDSHAKE = 0x16
"""The first byte of every TLS record that opens a handshake; anything else is clear text."""


@dataclass(frozen=True, slots=True)
class Pki:
    """PEM files of a throwaway CA, a server certificate for 127.0.0.1 and a client one."""

    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    other_ca: Path
    """A second CA that signed nothing here: trusting it must not make the server trusted."""


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _write_key(key: ec.EllipticCurvePrivateKey, path: Path) -> None:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


_CA_USAGE = x509.KeyUsage(
    digital_signature=True,
    content_commitment=False,
    key_encipherment=False,
    data_encipherment=False,
    key_agreement=False,
    key_cert_sign=True,
    crl_sign=True,
    encipher_only=False,
    decipher_only=False,
)


def _ca(common: str) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    public = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common))
        .issuer_name(_name(common))
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(_CA_USAGE, critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def _leaf(
    common: str,
    ca: tuple[x509.Certificate, ec.EllipticCurvePrivateKey],
    usage: x509.ObjectIdentifier,
    san: list[x509.GeneralName],
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    ca_cert, ca_key = ca
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
    )
    if san:
        builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
    return builder.sign(ca_key, hashes.SHA256()), key


def make_pki(folder: Path) -> Pki:
    """Generate the CA and certificates into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    ca = _ca("govdrill test CA")
    other, _ = _ca("some other CA")
    server = _leaf(
        "127.0.0.1",
        ca,
        ExtendedKeyUsageOID.SERVER_AUTH,
        [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")],
    )
    client = _leaf("drill-operator", ca, ExtendedKeyUsageOID.CLIENT_AUTH, [])
    pem = serialization.Encoding.PEM
    pki = Pki(
        ca=folder / "ca.pem",
        server_cert=folder / "server.pem",
        server_key=folder / "server.key",
        client_cert=folder / "client.pem",
        client_key=folder / "client.key",
        other_ca=folder / "other-ca.pem",
    )
    pki.ca.write_bytes(ca[0].public_bytes(pem))
    pki.other_ca.write_bytes(other.public_bytes(pem))
    pki.server_cert.write_bytes(server[0].public_bytes(pem))
    _write_key(server[1], pki.server_key)
    pki.client_cert.write_bytes(client[0].public_bytes(pem))
    _write_key(client[1], pki.client_key)
    return pki


@dataclass
class TlsControlPlane:
    """What the server saw: requests over TLS, bytes in clear, failed handshakes."""

    port: int = 0
    requests: list[tuple[str, str, dict[str, str], str | None]] = field(default_factory=list)
    """(method, path, headers, client certificate's common name) per request over TLS."""
    cleartext: list[bytes] = field(default_factory=list)
    """The opening bytes of every connection that did not start a TLS handshake."""
    handshake_errors: list[str] = field(default_factory=list)
    connections: threading.Semaphore = field(default_factory=lambda: threading.Semaphore(0))
    """Released once per connection fully handled (whatever became of it)."""

    @property
    def base_url(self) -> str:
        """The server's https address."""
        return f"https://127.0.0.1:{self.port}"

    def wait_connections(self, count: int, timeout: float = 10.0) -> None:
        """Block until ``count`` connections have been handled."""
        for _ in range(count):
            if not self.connections.acquire(timeout=timeout):
                raise TimeoutError("the TLS server saw fewer connections than expected")


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Server

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        peer = self.connection.getpeercert() if isinstance(self.connection, ssl.SSLSocket) else None
        common = None
        if peer:
            for rdn in peer.get("subject", ()):
                for key, value in rdn:
                    if key == "commonName":
                        common = value
        self.server.record.requests.append(
            (self.command, self.path, dict(self.headers.items()), common)
        )
        body = b'{"ok": true}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the test reads ``record`` instead."""


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True

    def __init__(self, context: ssl.SSLContext, record: TlsControlPlane) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.context = context
        self.record = record

    def process_request_thread(self, request: socket.socket, client_address: object) -> None:
        """Peek at the first byte: clear text is recorded and dropped, TLS is served."""
        try:
            request.settimeout(5)
            first = request.recv(4096, socket.MSG_PEEK)
            if not first or first[0] != _TLS_HANDSHAKE:
                self.record.cleartext.append(request.recv(65536))
                request.close()
                return
            try:
                tls = self.context.wrap_socket(request, server_side=True)
            except (ssl.SSLError, OSError) as exc:
                self.record.handshake_errors.append(f"{type(exc).__name__}: {exc}")
                request.close()
                return
            try:
                self.finish_request(tls, client_address)  # type: ignore[arg-type]
            except OSError:
                pass
            finally:
                self.shutdown_request(tls)
        finally:
            self.record.connections.release()


@contextmanager
def serve_tls(pki: Pki, *, require_client_cert: bool = False) -> Iterator[TlsControlPlane]:
    """An HTTPS server on 127.0.0.1 presenting ``pki``'s server certificate, for the block."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki.server_cert, pki.server_key)
    if require_client_cert:
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(pki.ca)
    record = TlsControlPlane()
    server = _Server(context, record)
    record.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True, name="tls-server")
    thread.start()
    try:
        yield record
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
