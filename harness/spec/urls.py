"""Base URLs as drills and targets write them, parsed strictly: http(s), a real host, a port."""

from __future__ import annotations

import ipaddress
import re
import socket
from urllib.parse import urlsplit

from harness.spec.ports import parse_port

__all__ = ["MAX_URL_CHARS", "check_base_url", "default_port", "loopback_addresses"]

MAX_URL_CHARS = 2048

_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOSTNAME = re.compile(rf"{_LABEL}(?:\.{_LABEL})*\.?")
_UNSAFE = re.compile(r"[\x00-\x20\x7f]")
"""Whitespace and control characters: they would split or smuggle an HTTP request line."""


def check_base_url(url: str) -> str:
    """``url`` when it is ``http(s)://host[:port][/path]`` with a valid host and a port in
    1..65535; ValueError naming what is wrong otherwise."""
    if len(url) > MAX_URL_CHARS:
        raise ValueError(f"longer than {MAX_URL_CHARS} characters")
    if _UNSAFE.search(url):
        raise ValueError("host or path contains whitespace or control characters")
    try:
        parts = urlsplit(url)
    except ValueError as exc:  # "Invalid IPv6 URL" and the like
        raise ValueError(f"host: not a valid URL: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"scheme must be http or https, got {parts.scheme or 'none'!r}")
    if parts.username is not None or parts.password is not None:
        raise ValueError(
            "credentials in the URL would be written into evidence; send them in headers"
            " with ${NAME}"
        )
    if parts.query or parts.fragment or url.endswith(("?", "#")):
        raise ValueError("query or fragment not allowed in a base_url")
    host, _, port = parts.netloc.rpartition("]") if "[" in parts.netloc else ("", "", "")
    if not host:
        host, _, port = parts.netloc.partition(":")
    else:
        host = host.removeprefix("[")
        if port and not port.startswith(":"):
            raise ValueError(f"host: unexpected {port!r} after the IPv6 address")
        port = port.removeprefix(":")
    if not host:
        raise ValueError("no host")
    if "[" in parts.netloc:
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise ValueError(f"host: {host!r} is not an IPv6 address") from None
    elif not _HOSTNAME.fullmatch(host) or len(host) > 253:
        raise ValueError(f"host: {host!r} is not a valid host name or address")
    if port:
        try:
            parse_port(port)
        except ValueError as exc:
            raise ValueError(f"port {exc}") from None
    return url


def default_port(url: str) -> int:
    """The port a checked base_url addresses: its own, or its scheme's (80, 443)."""
    parts = urlsplit(url)
    return parts.port or (443 if parts.scheme == "https" else 80)


def loopback_addresses(url: str) -> tuple[str, ...]:
    """The loopback addresses a checked base_url's host stands for: the address itself when it
    is in 127.0.0.0/8 or ::1, what ``localhost`` resolves to when every answer is loopback;
    () for any other host (a name could resolve anywhere, now or later)."""
    host = (urlsplit(url).hostname or "").lower()
    if host.rstrip(".") == "localhost":
        try:
            infos = socket.getaddrinfo("localhost", None, type=socket.SOCK_STREAM)
        except OSError:
            return ()
        found = tuple(dict.fromkeys(str(info[4][0]) for info in infos))
        return found if found and all(ipaddress.ip_address(a).is_loopback for a in found) else ()
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return ()
    return (str(address),) if address.is_loopback else ()
