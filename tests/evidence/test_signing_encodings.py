"""The byte forms a signature covers: RFC 8785 canonical JSON and DSSE's pre-auth encoding
(pure functions, kept out of the slow modules that run real drills)."""

from __future__ import annotations

from harness.integrity import canonical_json, pae


def test_canonical_json_follows_rfc8785() -> None:
    """Sorted keys by UTF-16 units, no whitespace, ECMAScript number forms, JCS escapes."""
    assert canonical_json({"b": 1, "a": [True, None]}) == b'{"a":[true,null],"b":1}'
    assert canonical_json({"\u20ac": 1, "\U0001f600": 2, "\ufb33": 3}) == (
        '{"\u20ac":1,"\U0001f600":2,"\ufb33":3}'.encode()
    )
    numbers = [1e21, 1e20, 1e-7, 1e-6, 0.000001234, -0.0, 2.0, 333333333.3333333, 4.5e-7]
    assert canonical_json(numbers) == (
        b"[1e+21,100000000000000000000,1e-7,0.000001,0.000001234,0,2,333333333.3333333,4.5e-7]"
    )
    assert canonical_json('\u001f\n"\\/\u2028') == '"\\u001f\\n\\"\\\\/\u2028"'.encode()


def test_pae_matches_the_dsse_spec() -> None:
    """PAE is DSSEv1, lengths in ASCII decimal, single spaces."""
    got = pae("http://example.com/HelloWorld", b"hello world")
    assert got == b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
