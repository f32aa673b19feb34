"""Bounded HTTP requests to a service `govdrill init` is looking at: everything it sends is
hostile, so every answer is cut at a byte cap, every request at a timeout, and no redirect
is followed (a redirect could lead off loopback)."""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import ssl
import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_TIMEOUT_S",
    "ProbeAnswer",
    "Prober",
]

DEFAULT_TIMEOUT_S = 5.0
"""Per request: connecting, sending and reading the whole (capped) answer each get this long."""
DEFAULT_MAX_BYTES = 256 * 1024
"""The most bytes of an answer's body read; model metadata and lists fit well within it."""
_MAX_HEADER_VALUE = 256


@dataclass(frozen=True, slots=True)
class ProbeAnswer:
    """What one probe request got back: a status (0 when there was no HTTP answer at all),
    a few headers, and the body up to the cap."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes
    truncated: bool
    failure: str = ""
    """Why there was no answer (refused, timed out, not HTTP), when status is 0."""

    @property
    def ok(self) -> bool:
        """Whether the answer is a 2xx."""
        return 200 <= self.status < 300

    def header(self, name: str) -> str | None:
        """The first header of that name (any case), if the answer had one."""
        wanted = name.lower()
        for key, value in self.headers:
            if key.lower() == wanted:
                return value
        return None

    def json(self) -> Any:
        """The body as JSON, or None when it is not complete JSON."""
        if self.truncated or not self.body:
            return None
        try:
            return json.loads(self.body)
        except (ValueError, RecursionError):  # a deeply nested body is hostile, not JSON
            return None


class Prober:
    """Sends bounded requests to one base URL (``http`` or ``https``, verified)."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        max_bytes: int = DEFAULT_MAX_BYTES,
    ) -> None:
        self.base_url = base_url
        parts = urlsplit(base_url)
        self._https = parts.scheme == "https"
        self._host = parts.hostname or ""
        self._port = parts.port or (443 if self._https else 80)
        self._prefix = parts.path.rstrip("/")
        self._timeout_s = timeout_s
        self._max_bytes = max_bytes

    def get(self, path: str) -> ProbeAnswer:
        """``GET path``."""
        return self.request("GET", path)

    def post(self, path: str, body: Any = None) -> ProbeAnswer:
        """``POST path`` with ``body`` as JSON (no body when None)."""
        return self.request("POST", path, body)

    def request(self, method: str, path: str, body: Any = None) -> ProbeAnswer:
        """One request; never raises for what the service does (refusal, garbage, silence)."""
        payload = b"" if body is None else json.dumps(body).encode()
        headers = {"Accept": "application/json", "User-Agent": "govdrill-init"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        conn: http.client.HTTPConnection
        if self._https:
            conn = http.client.HTTPSConnection(
                self._host, self._port, timeout=self._timeout_s,
                context=ssl.create_default_context(),
            )  # fmt: skip
        else:
            conn = http.client.HTTPConnection(self._host, self._port, timeout=self._timeout_s)
        watchdog: threading.Timer | None = None
        cut = threading.Event()
        try:
            conn.connect()  # bounded by the socket timeout
            # A service that drips one byte per socket timeout would never time out on its
            # own: a watchdog cuts the socket (held here: http.client lets go of it once the
            # answer says it will close) when the whole exchange has had its time.
            watchdog = threading.Timer(self._timeout_s, _cut, (conn.sock, cut))
            watchdog.daemon = True
            watchdog.start()
            conn.request(method, self._prefix + path, body=payload or None, headers=headers)
            response = conn.getresponse()
            data = response.read(self._max_bytes + 1)
            if cut.is_set():  # the answer ended because the watchdog cut it
                return ProbeAnswer(0, (), b"", False, failure="timed out")
            kept = tuple(
                (key[:_MAX_HEADER_VALUE], value[:_MAX_HEADER_VALUE])
                for key, value in response.getheaders()[:64]
            )
            return ProbeAnswer(
                status=response.status,
                headers=kept,
                body=data[: self._max_bytes],
                truncated=len(data) > self._max_bytes,
            )
        except (OSError, http.client.HTTPException, ValueError) as exc:
            failure = "timed out" if cut.is_set() else _failure(exc)
            return ProbeAnswer(0, (), b"", False, failure=failure)
        finally:
            if watchdog is not None:
                watchdog.cancel()
            conn.close()


def _cut(sock: socket.socket | None, cut: threading.Event) -> None:
    """Shut a socket, which ends any read blocked on it; ``cut`` says so first."""
    cut.set()
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


def _failure(exc: BaseException) -> str:
    """A short description of why a request got no answer, without echoing what was sent."""
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, socket.timeout | TimeoutError):
        return "timed out"
    if isinstance(exc, ssl.SSLError):
        return "TLS failed"
    if isinstance(exc, http.client.HTTPException):
        return f"not an HTTP answer ({type(exc).__name__})"
    return type(exc).__name__
