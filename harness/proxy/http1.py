"""Just enough HTTP/1.1 to relay a message: its head, and how its body ends (its framing).

The proxy never interprets more than this: the first line, the headers that decide framing
and keep-alive (``Content-Length``, ``Transfer-Encoding``, ``Connection``), nothing else. A
head it cannot read raises :class:`HeadError`, and the relay falls back to copying raw bytes,
so a hostile peer gets its own bytes back rather than a crash or a proxy-made answer.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Final

__all__ = [
    "Framing",
    "HeadError",
    "RequestHead",
    "ResponseHead",
    "parse_request",
    "parse_response",
    "with_content_length",
]

_NO_BODY_STATUS: Final = frozenset({204, 304})


class HeadError(ValueError):
    """A head that is not HTTP/1.x as this relay reads it."""


class Framing(enum.Enum):
    """How a message's body ends."""

    NONE = "none"
    LENGTH = "length"
    CHUNKED = "chunked"
    CLOSE = "close"
    """The body runs until the sender closes (responses only)."""


@dataclass(frozen=True, slots=True)
class RequestHead:
    """A request's head, as read: its raw bytes and what relaying it needs."""

    raw: bytes
    method: bytes
    framing: Framing
    length: int
    keep_alive: bool


@dataclass(frozen=True, slots=True)
class ResponseHead:
    """A response's head, as read: its raw bytes and what relaying it needs."""

    raw: bytes
    status: int
    length: int
    chunked: bool
    close: bool
    """The sender closes the connection after this answer."""

    def framing(self, method: bytes) -> Framing:
        """How this answer's body ends, given the request ``method`` it answers."""
        if method == b"HEAD" or self.status < 200 or self.status in _NO_BODY_STATUS:
            return Framing.NONE
        if self.chunked:
            return Framing.CHUNKED
        if self.length >= 0:
            return Framing.LENGTH
        return Framing.CLOSE


def _fields(raw: bytes) -> tuple[bytes, int, bool, bytes]:
    """The first line, Content-Length (-1: none), chunked, and the Connection value."""
    lines = raw.split(b"\r\n")
    length = -1
    chunked = False
    connection = b""
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(b":")
        if not sep or not name or name[-1:] in (b" ", b"\t"):
            raise HeadError(f"malformed header line {line[:80]!r}")
        n = len(name)
        # only three names matter; compare lengths first to skip lower() on the rest
        if n == 14 and name.lower() == b"content-length":
            try:
                value_int = int(value.strip())
            except ValueError:
                raise HeadError(f"bad Content-Length {value[:40]!r}") from None
            if value_int < 0 or (length >= 0 and value_int != length):
                raise HeadError("negative or conflicting Content-Length")
            length = value_int
        elif n == 17 and name.lower() == b"transfer-encoding":
            codings = value.lower()
            if b"chunked" not in codings.split(b",")[-1]:
                raise HeadError(f"unsupported Transfer-Encoding {value[:40]!r}")
            chunked = True
        elif n == 10 and name.lower() == b"connection":
            connection = value.strip().lower()
    return lines[0], length, chunked, connection


def parse_request(raw: bytes) -> RequestHead:
    """Read a request head (``raw`` ends with the blank line)."""
    first, length, chunked, connection = _fields(raw)
    parts = first.split(b" ")
    if len(parts) != 3 or not parts[2].startswith(b"HTTP/1."):
        raise HeadError(f"bad request line {first[:80]!r}")
    if chunked:
        framing, length = Framing.CHUNKED, -1
    elif length > 0:
        framing = Framing.LENGTH
    else:
        framing, length = Framing.NONE, 0
    http10 = parts[2] == b"HTTP/1.0"
    keep = b"keep-alive" in connection if http10 else b"close" not in connection
    return RequestHead(raw, parts[0], framing, length, keep)


def parse_response(raw: bytes) -> ResponseHead:
    """Read a response head (``raw`` ends with the blank line)."""
    first, length, chunked, connection = _fields(raw)
    if not first.startswith(b"HTTP/1.") or len(first) < 12 or first[8:9] != b" ":
        raise HeadError(f"bad status line {first[:80]!r}")
    try:
        status = int(first[9:12])
    except ValueError:
        raise HeadError(f"bad status line {first[:80]!r}") from None
    if not 100 <= status <= 999:
        raise HeadError(f"bad status {status}")
    http10 = first.startswith(b"HTTP/1.0")
    close = b"keep-alive" not in connection if http10 else b"close" in connection
    return ResponseHead(raw, status, length, chunked, close)


def with_content_length(head: ResponseHead, length: int) -> bytes:
    """The head's raw bytes with Content-Length set to ``length`` (after a rewrite)."""
    lines = head.raw.split(b"\r\n")
    out = [lines[0]]
    out.extend(
        line
        for line in lines[1:]
        if line and line.partition(b":")[0].strip().lower() != b"content-length"
    )
    out.append(b"Content-Length: " + str(length).encode())
    return b"\r\n".join(out) + b"\r\n\r\n"
