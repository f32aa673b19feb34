"""TCP port numbers, wherever they come from (a URL, a drill, a target's port file)."""

from __future__ import annotations

import re

__all__ = ["MAX_PORT", "parse_port"]

MAX_PORT = 65535

_DECIMAL = re.compile(r"[0-9]{1,5}")
"""ASCII digits only: ``int()`` would also take ``+80``, ``8_0`` and other scripts' digits."""


def parse_port(text: str) -> int:
    """The port written in ``text`` (surrounding whitespace allowed); ValueError unless it is
    a plain decimal in 1..65535, so a too-large port is refused instead of wrapping around."""
    stripped = text.strip()
    if not _DECIMAL.fullmatch(stripped) or not 1 <= int(stripped) <= MAX_PORT:
        shown = stripped if len(stripped) <= 20 else stripped[:20] + "…"
        raise ValueError(f"{shown!r} is not a TCP port (1..{MAX_PORT})")
    return int(stripped)
