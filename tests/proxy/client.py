"""A tiny HTTP client for the proxy tests that tells an answer, a reset and a close apart."""

from __future__ import annotations

import enum
import http.client
import json
import socket
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit


class Outcome(enum.Enum):
    """What one request got."""

    ANSWER = "answer"
    RESET = "reset"
    CLOSED = "closed"
    REFUSED = "refused"


@dataclass(frozen=True)
class Got:
    """One request's outcome, with the answer when there was one."""

    outcome: Outcome
    status: int = 0
    body: bytes = b""
    headers: dict[str, str] | None = None

    def json(self) -> Any:
        """The body as JSON."""
        return json.loads(self.body)


def fetch(base_url: str, path: str, timeout_s: float = 10.0) -> Got:
    """GET ``path`` on a fresh connection."""
    url = urlsplit(base_url)
    conn = http.client.HTTPConnection(url.hostname or "", url.port, timeout=timeout_s)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        body = resp.read()
        return Got(Outcome.ANSWER, resp.status, body, dict(resp.getheaders()))
    except ConnectionRefusedError:
        return Got(Outcome.REFUSED)
    except ConnectionResetError:
        return Got(Outcome.RESET)
    except (http.client.RemoteDisconnected, http.client.IncompleteRead, BrokenPipeError):
        return Got(Outcome.CLOSED)
    finally:
        conn.close()


def raw_exchange(base_url: str, request: bytes, timeout_s: float = 10.0) -> tuple[bytes, str]:
    """Send raw bytes, read until the peer closes; what came back and how it ended."""
    url = urlsplit(base_url)
    with socket.create_connection((url.hostname or "", url.port or 80), timeout=timeout_s) as s:
        s.sendall(request)
        got = b""
        try:
            while piece := s.recv(65536):
                got += piece
        except ConnectionResetError:
            return got, "reset"
        return got, "closed"
