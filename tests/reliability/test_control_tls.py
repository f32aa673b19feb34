"""An https control path speaks verified TLS: the token never leaves in clear, an untrusted
server is refused, mTLS presents the client certificate, and ``insecure`` only when written."""

from __future__ import annotations

import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from harness.control import CallOutcome, HttpBackend
from harness.errors import SpecError
from harness.sandbox.base import Endpoint
from harness.spec import Action, load_drill
from harness.spec.models import HttpPath
from tests.reliability.tls_server import Pki, make_pki, serve_tls

TOKEN = "s3cret-admin-token"
NOWHERE = Endpoint("http://127.0.0.1:9", "127.0.0.1", 9)
"""The target's own address; an https base_url must take precedence over it."""


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """A CA, a server certificate for 127.0.0.1 and a client certificate, made for this test."""
    return make_pki(tmp_path_factory.mktemp("pki"))


def backend(base_url: str, **tls: Any) -> HttpBackend:
    """An http control path to ``base_url`` sending the admin token as a bearer header."""
    spec = HttpPath.model_validate(
        {
            "base_url": base_url,
            "headers": {"Authorization": "Bearer ${admin_token}"},
            "timeout": "5s",
            "stop": {"path": "/admin/stop", "json": {"reason": "drill"}},
            **{k: str(v) if isinstance(v, Path) else v for k, v in tls.items()},
        }
    )
    return HttpBackend("admin_api", spec, NOWHERE, {"admin_token": TOKEN}, time.monotonic_ns)


def test_https_with_ca_file_is_verified_tls(pki: Pki) -> None:
    """With the CA given, the call succeeds over TLS and nothing arrives in clear."""
    with serve_tls(pki) as server:
        result = backend(server.base_url, ca_file=pki.ca).call(Action.STOP).result()
        server.wait_connections(1)
    assert result.outcome is CallOutcome.ACKED, result.detail
    assert server.cleartext == []
    ((method, path, headers, _),) = server.requests
    assert (method, path) == ("POST", "/admin/stop")
    assert headers["Authorization"] == f"Bearer {TOKEN}"


@pytest.mark.parametrize("trust", ["system", "other_ca"])
def test_untrusted_server_is_refused_and_the_token_never_sent(pki: Pki, trust: str) -> None:
    """Without the server's CA (system trust, or another CA) the handshake fails: the call
    fails with a clear reason, no request reaches the server, and no byte arrives in clear."""
    tls = {} if trust == "system" else {"ca_file": pki.other_ca}
    with serve_tls(pki) as server:
        result = backend(server.base_url, **tls).call(Action.STOP).result()
        server.wait_connections(1)
    assert result.outcome is CallOutcome.FAILED
    assert "CERTIFICATE_VERIFY_FAILED" in result.detail or "certificate" in result.detail
    assert server.cleartext == [], "the request went out as plain HTTP"
    assert server.requests == []
    assert server.handshake_errors


def test_mutual_tls_presents_the_client_certificate(pki: Pki) -> None:
    """A server that requires a client certificate gets it from client_cert/client_key, and
    refuses a client without one."""
    with serve_tls(pki, require_client_cert=True) as server:
        without = backend(server.base_url, ca_file=pki.ca).call(Action.STOP).result()
        server.wait_connections(1)
        with_cert = (
            backend(
                server.base_url,
                ca_file=pki.ca,
                client_cert=pki.client_cert,
                client_key=pki.client_key,
            )
            .call(Action.STOP)
            .result()
        )
        server.wait_connections(1)
    assert without.outcome is CallOutcome.FAILED, without.detail
    assert with_cert.outcome is CallOutcome.ACKED, with_cert.detail
    ((_, _, _, client),) = server.requests
    assert client == "drill-operator"
    assert server.cleartext == []


def test_insecure_only_when_written(pki: Pki) -> None:
    """``insecure: true`` skips verification (still TLS); anything but a written true is refused."""
    with serve_tls(pki) as server:
        result = backend(server.base_url, insecure=True).call(Action.STOP).result()
        server.wait_connections(1)
    assert result.outcome is CallOutcome.ACKED, result.detail
    assert server.cleartext == [] and len(server.requests) == 1
    for sloppy in ("yes", "true", 1, "on"):
        with pytest.raises(ValueError, match="insecure"):
            backend("https://127.0.0.1:1", insecure=sloppy)


TARGET = """\
drill: tls
target:
  target: tls-target
  sandboxes: {{process: {{command: [x]}}}}
  control_paths:
    admin_api:
      http:
        base_url: "{url}"
{tls}
        stop: {{path: /admin/stop}}
steps:
  - at: 1s
    stop: [admin_api]
"""


def drill(tmp_path: Path, url: str, tls: str) -> Path:
    """A drill whose inline target has one http control path with these TLS lines."""
    lines = textwrap.indent(textwrap.dedent(tls).strip(), " " * 8) if tls else ""
    path = tmp_path / "drill.yaml"
    path.write_text(TARGET.format(url=url, tls=lines))
    return path


def test_relative_tls_files_are_read_beside_the_target(tmp_path: Path, pki: Pki) -> None:
    """A relative ca_file is the target folder's file, checked when the drill is validated."""
    (tmp_path / "certs").mkdir()
    (tmp_path / "certs" / "ca.pem").write_bytes(pki.ca.read_bytes())
    loaded = load_drill(drill(tmp_path, "https://127.0.0.1:8443", "ca_file: certs/ca.pem"))
    http = loaded.target.control_paths["admin_api"].http
    assert http is not None and http.ca_file == str(tmp_path / "certs" / "ca.pem")


@pytest.mark.parametrize(
    ("url", "tls", "message"),
    [
        ("https://127.0.0.1:8443", "ca_file: missing.pem", "ca_file: no such file"),
        ("https://127.0.0.1:8443", "ca_file: {not_pem}", "ca_file: not a PEM"),
        ("http://127.0.0.1:8443", "ca_file: {ca}", "only for an https base_url"),
        ("http://127.0.0.1:8443", "insecure: true", "only for an https base_url"),
        ("https://127.0.0.1:8443", "insecure: true\nca_file: {ca}", "insecure"),
        ("https://127.0.0.1:8443", "client_key: {key}", "client_key needs client_cert"),
    ],
)
def test_tls_settings_are_checked_at_validation(
    tmp_path: Path, pki: Pki, url: str, tls: str, message: str
) -> None:
    """Missing or unreadable files and contradictory settings are refused at file:line."""
    not_pem = tmp_path / "not.pem"
    not_pem.write_text("hello\n")
    path = drill(tmp_path, url, tls.format(ca=pki.ca, key=pki.client_key, not_pem=not_pem))
    with pytest.raises(SpecError) as info:
        load_drill(path)
    text = str(info.value)
    assert message in text, text
    assert all(p.line is not None for p in info.value.problems), text
