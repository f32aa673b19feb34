"""TLS client settings of an https control path: verified by default, mTLS when asked.

One function builds the ``ssl.SSLContext`` a call uses, so validation can build the very same
context and refuse an unreadable CA or client certificate before anything runs.
"""

from __future__ import annotations

import ssl
from pathlib import Path

from harness.spec.models import HttpPath

__all__ = ["client_context", "tls_file_problems"]


def client_context(spec: HttpPath) -> ssl.SSLContext:
    """The context for ``spec``'s https calls: the system CAs (or only ``ca_file``'s), the
    host name checked, TLS 1.2 at least, and the client certificate when one is given.
    Verification is off only when the path says ``insecure: true``."""
    context = ssl.create_default_context(cafile=spec.ca_file)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if spec.insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if spec.client_cert is not None:
        context.load_cert_chain(spec.client_cert, spec.client_key)
    return context


def tls_file_problems(spec: HttpPath) -> list[tuple[str, str]]:
    """``(field, message)`` for every TLS file of ``spec`` that is missing or unusable."""
    problems: list[tuple[str, str]] = []
    for field in ("ca_file", "client_cert", "client_key"):
        name = getattr(spec, field)
        if name is not None and not Path(name).is_file():
            problems.append((field, f"no such file: {name}"))
    if problems:
        return problems
    if spec.ca_file is not None:
        try:
            ssl.create_default_context(cafile=spec.ca_file)
        except (ssl.SSLError, OSError) as exc:
            problems.append(("ca_file", f"not a PEM file of CA certificates: {_why(exc)}"))
    if spec.client_cert is not None:
        try:
            ssl.create_default_context().load_cert_chain(spec.client_cert, spec.client_key)
        except (ssl.SSLError, OSError) as exc:
            field = "client_key" if spec.client_key is not None else "client_cert"
            problems.append((field, f"cannot load the client certificate and its key: {_why(exc)}"))
    return problems


def _why(exc: BaseException) -> str:
    return getattr(exc, "reason", None) or getattr(exc, "strerror", None) or str(exc)
