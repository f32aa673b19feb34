"""Canonical JSON after RFC 8785 (JCS), the subset govdrill's documents need.

Keys are sorted by their UTF-16 code units, there is no whitespace, strings are written as
UTF-8 with only the escapes JCS prescribes, and floats are written the way ECMAScript's
``Number.prototype.toString`` writes them (shortest round-trip digits). Integers are written
exactly; JCS limits numbers to IEEE doubles, so an integer beyond 2**53 (none of ours in
practice) would differ from what a JavaScript canonicaliser prints.
"""

from __future__ import annotations

import json
import math
from decimal import Decimal
from typing import Any

__all__ = ["canonical_json"]


def canonical_json(value: Any) -> bytes:
    """``value`` (dicts, lists, str, int, float, bool, None) as canonical JSON bytes."""
    parts: list[str] = []
    _write(value, parts.append)
    return "".join(parts).encode("utf-8")


def _write(value: Any, emit: Any) -> None:
    if value is None:
        emit("null")
    elif value is True:
        emit("true")
    elif value is False:
        emit("false")
    elif isinstance(value, int):
        emit(str(value))
    elif isinstance(value, float):
        emit(_number(value))
    elif isinstance(value, str):
        emit(_string(value))
    elif isinstance(value, dict):
        emit("{")
        for i, key in enumerate(sorted(value, key=_utf16_key)):
            if not isinstance(key, str):
                raise TypeError(f"canonical JSON needs string keys, got {key!r}")
            if i:
                emit(",")
            emit(_string(key))
            emit(":")
            _write(value[key], emit)
        emit("}")
    elif isinstance(value, list | tuple):
        emit("[")
        for i, item in enumerate(value):
            if i:
                emit(",")
            _write(item, emit)
        emit("]")
    else:
        raise TypeError(f"canonical JSON cannot encode {type(value).__name__}")


def _utf16_key(key: str) -> bytes:
    return key.encode("utf-16-be", "surrogatepass")


def _string(text: str) -> str:
    # Python's escaping with ensure_ascii=False is exactly JCS's: \" \\ \b \f \n \r \t and
    # \u00xx (lower-case hex) for the other control characters; everything else literal.
    return json.dumps(text, ensure_ascii=False)


def _number(x: float) -> str:
    """ECMAScript Number::toString for a finite double."""
    if not math.isfinite(x):
        raise ValueError(f"canonical JSON has no representation for {x!r}")
    if x == 0:
        return "0"
    sign = "-" if x < 0 else ""
    _, digit_tuple, exponent = Decimal(repr(abs(x))).as_tuple()
    digits = "".join(map(str, digit_tuple)).rstrip("0") or "0"
    assert isinstance(exponent, int)
    # value = 0.digits * 10**n
    n = exponent + len(digit_tuple)
    k = len(digits)
    if k <= n <= 21:
        body = digits + "0" * (n - k)
    elif 0 < n <= 21:
        body = digits[:n] + "." + digits[n:]
    elif -6 < n <= 0:
        body = "0." + "0" * -n + digits
    else:
        e = n - 1
        mantissa = digits if k == 1 else digits[0] + "." + digits[1:]
        body = f"{mantissa}e{'+' if e > 0 else '-'}{abs(e)}"
    return sign + body
