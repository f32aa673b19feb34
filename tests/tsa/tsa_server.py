"""A real RFC 3161 time-stamping authority on loopback: certificates made with the ``openssl``
CLI, answers made by ``openssl ts -reply``, behind a tiny HTTP server.

Nothing is mocked: the harness talks HTTP to this server, the server hands the query to
OpenSSL's own TSA, and the token that comes back is what a production TSA would send. A test
can make the authority misbehave (answer 500, answer garbage, or hang) to exercise the
harness's failure paths.
"""

from __future__ import annotations

import enum
import subprocess
import tempfile
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

__all__ = ["TsaBehaviour", "TsaFiles", "TsaServer", "make_tsa_files"]

_CERT_EXTENSIONS = """\
[req]
distinguished_name = dn
prompt = no
[dn]
CN = {common_name}
[v3_ca]
basicConstraints = critical, CA:true
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[v3_tsa]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature
extendedKeyUsage = critical, timeStamping
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
"""

# ``certs`` (the chain) is left out on purpose: OpenSSL writes the chain's SET OF certificates
# unsorted, which a strict DER parser (rfc3161-client's) refuses; the signer's own certificate
# is included whenever the query asks for it.
_TSA_CONFIG = """\
[tsa]
default_tsa = tsa_config
[tsa_config]
serial = {serial}
signer_cert = {signer_cert}
signer_key = {signer_key}
signer_digest = sha256
default_policy = 1.2.3.4.1
digests = sha256, sha384, sha512
accuracy = secs:1
ordering = no
tsa_name = no
ess_cert_id_chain = no
ess_cert_id_alg = sha256
crypto_device = builtin
clock_precision_digits = 3
"""


@dataclass(frozen=True, slots=True)
class TsaFiles:
    """The authority's files: its CA, its signing certificate and key, its OpenSSL config."""

    ca_cert: Path
    tsa_cert: Path
    tsa_key: Path
    config: Path


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)


def make_tsa_files(folder: Path, *, name: str = "govdrill test TSA") -> TsaFiles:
    """A new CA and a TSA certificate it issued (extendedKeyUsage critical timeStamping), with
    the config ``openssl ts -reply`` needs, all under ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    ext = folder / "certs.cnf"
    ext.write_text(_CERT_EXTENSIONS.format(common_name=f"{name} root"))
    ca_key, ca_cert = folder / "ca.key", folder / "ca.pem"
    tsa_key, tsa_csr, tsa_cert = folder / "tsa.key", folder / "tsa.csr", folder / "tsa.pem"
    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes")
    _openssl("req", "-x509", "-new", *ec, "-keyout", str(ca_key), "-out", str(ca_cert),
             "-days", "3650", "-config", str(ext), "-extensions", "v3_ca")  # fmt: skip
    _openssl("req", "-new", *ec, "-keyout", str(tsa_key), "-out", str(tsa_csr),
             "-subj", f"/CN={name}")  # fmt: skip
    _openssl("x509", "-req", "-in", str(tsa_csr), "-CA", str(ca_cert), "-CAkey", str(ca_key),
             "-set_serial", "2", "-days", "3650", "-extfile", str(ext), "-extensions", "v3_tsa",
             "-out", str(tsa_cert))  # fmt: skip
    serial = folder / "serial"
    serial.write_text("01\n")
    config = folder / "ts.cnf"
    config.write_text(_TSA_CONFIG.format(serial=serial, signer_cert=tsa_cert, signer_key=tsa_key))
    return TsaFiles(ca_cert=ca_cert, tsa_cert=tsa_cert, tsa_key=tsa_key, config=config)


class TsaBehaviour(enum.Enum):
    """How the authority answers."""

    HONEST = "honest"
    ERROR_500 = "answers HTTP 500"
    GARBAGE = "answers bytes that are not a TimeStampResp"
    HANG = "never answers"


class TsaServer:
    """``openssl ts -reply`` behind a loopback HTTP server on a free port."""

    def __init__(self, files: TsaFiles) -> None:
        self.files = files
        self.behaviour = TsaBehaviour.HONEST
        self.answered = 0
        self._lock = threading.Lock()  # openssl bumps one serial file: one reply at a time
        self._release = threading.Event()
        self._answered = threading.Condition()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                query = self.rfile.read(min(length, 1 << 16))
                status, body = server.answer(query, self.headers.get("Content-Type", ""))
                self.send_response(status)
                self.send_header("Content-Type", "application/timestamp-reply")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                with server._answered:
                    server.answered += 1
                    server._answered.notify_all()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._http.daemon_threads = True
        self._thread = threading.Thread(target=self._http.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        """Where to POST ``application/timestamp-query``."""
        return f"http://127.0.0.1:{self._http.server_address[1]}/tsa"

    def answer(self, query: bytes, content_type: str) -> tuple[int, bytes]:
        """The HTTP status and body for one query, as the current behaviour dictates."""
        if self.behaviour is TsaBehaviour.HANG:
            self._release.wait(120)
            return 503, b""
        if self.behaviour is TsaBehaviour.ERROR_500:
            return 500, b"the TSA is down"
        if self.behaviour is TsaBehaviour.GARBAGE:
            return 200, b"\x30\x03\x02\x01\x07 not a TimeStampResp"
        if content_type != "application/timestamp-query":
            return 415, b"want application/timestamp-query"
        with self._lock, tempfile.TemporaryDirectory() as tmp:
            query_file, reply_file = Path(tmp) / "q.tsq", Path(tmp) / "r.tsr"
            query_file.write_bytes(query)
            done = subprocess.run(
                ["openssl", "ts", "-reply", "-config", str(self.files.config),
                 "-queryfile", str(query_file), "-out", str(reply_file)],
                capture_output=True, timeout=60, check=False,
            )  # fmt: skip
            if done.returncode != 0 or not reply_file.exists():
                return 400, done.stderr[-500:]
            return 200, reply_file.read_bytes()

    def wait_answered(self, count: int, timeout: float = 60.0) -> bool:
        """Wait until ``count`` queries have been answered (an event, not a sleep)."""
        with self._answered:
            return self._answered.wait_for(lambda: self.answered >= count, timeout)

    def stop(self) -> None:
        """Stop serving and let a hanging answer go."""
        self._release.set()
        self._http.shutdown()
        self._http.server_close()
        self._thread.join(10)
