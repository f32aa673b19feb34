"""One bounded HTTP(S) POST of a JSON body, for notifications.

Bounded in time as a whole, not per socket operation: every connect, TLS handshake, send and
read gets only what is left of one deadline, so a receiver that accepts and then trickles a
byte a second cannot hold a notification past its timeout. (Name resolution has no timeout
of its own in the standard library; ``Notifiers`` waits for each send on a thread with the
same deadline, which bounds that too.) Bounded in size: at most ``READ_LIMIT`` bytes of the
answer are read, and the detail keeps the status and the start of the body, made printable.

Never raises: every ending is a ``Posted`` (ok for a 2xx, failed, timed_out).
"""

from __future__ import annotations

import re
import socket
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from harness.notify._records import NotifyResult
from harness.spec.durations import to_ns

__all__ = ["READ_LIMIT", "Posted", "post_json"]

READ_LIMIT = 8 << 10
"""The most of an answer read: the status line, headers and the start of the body."""
BODY_CHARS = 300
"""The most of an answer's body kept in the detail."""

_STATUS = re.compile(rb"HTTP/\d(?:\.\d)? (\d{3})")
_UNSAFE = re.compile(r"[\x00-\x20\x7f]")
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f]+")


@dataclass(frozen=True, slots=True)
class Posted:
    """How one POST ended, with a one-line detail (not yet redacted)."""

    result: NotifyResult
    detail: str


class _OutOfTime(Exception):
    """The deadline passed before the next socket operation could start."""


def post_json(
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    timeout_s: float,
    clock: Callable[[], int],
) -> Posted:
    """POST ``body`` (JSON) to ``url`` with ``headers`` within ``timeout_s`` in all."""
    deadline = clock() + to_ns(timeout_s)

    def left() -> float:
        seconds = (deadline - clock()) / 1e9
        if seconds <= 0:
            raise _OutOfTime
        return seconds

    if _UNSAFE.search(url):
        return Posted(NotifyResult.FAILED, "the URL, with its ${NAME} filled in, is not valid")
    if any(_UNSAFE.search(name) or re.search(r"[\r\n\x00]", v) for name, v in headers.items()):
        return Posted(NotifyResult.FAILED, "a header holds a line break or NUL")
    parts = urlsplit(url)
    host = parts.hostname or ""
    https = parts.scheme == "https"
    port = parts.port or (443 if https else 80)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    head = [
        f"POST {target} HTTP/1.1",
        f"Host: {parts.netloc}",
        "User-Agent: govdrill-notify",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
        "Connection: close",
        *(f"{name}: {value}" for name, value in headers.items()),
    ]
    request = ("\r\n".join(head) + "\r\n\r\n").encode("utf-8") + body
    received = b""
    sock: socket.socket | None = None
    try:
        sock = socket.create_connection((host, port), timeout=left())
        if https:
            sock.settimeout(left())
            sock = ssl.create_default_context().wrap_socket(sock, server_hostname=host)
        sock.settimeout(left())
        sock.sendall(request)
        while len(received) < READ_LIMIT:
            sock.settimeout(left())
            chunk = sock.recv(READ_LIMIT - len(received))
            if not chunk:
                break
            received += chunk
            if _complete(received):
                break
    except (_OutOfTime, TimeoutError):
        if _STATUS.match(received) is None:
            return Posted(NotifyResult.TIMED_OUT, f"no answer within {timeout_s:g}s")
    except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError; a bad port a ValueError
        return Posted(NotifyResult.FAILED, f"{type(exc).__name__}: {exc}")
    finally:
        if sock is not None:
            sock.close()
    return _answer(received)


def _complete(received: bytes) -> bool:
    """Whether the headers and as much of the body as is kept have arrived."""
    head, sep, body = received.partition(b"\r\n\r\n")
    if not sep:
        return False
    length = re.search(rb"(?im)^content-length:\s*(\d+)\s*$", head)
    return length is not None and len(body) >= min(int(length.group(1)), BODY_CHARS)


def _answer(received: bytes) -> Posted:
    status = _STATUS.match(received)
    if status is None:
        if not received:
            return Posted(NotifyResult.FAILED, "the connection closed without an answer")
        return Posted(NotifyResult.FAILED, "the answer is not HTTP")
    code = int(status.group(1))
    body = received.partition(b"\r\n\r\n")[2][:BODY_CHARS].decode("utf-8", "replace")
    text = _UNPRINTABLE.sub(" ", body).strip()
    result = NotifyResult.OK if 200 <= code < 300 else NotifyResult.FAILED
    return Posted(result, f"HTTP {code} {text}".strip())
