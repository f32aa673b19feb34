"""JSON paths: the documented subset parses, the rest is refused, hostile bodies cost little."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from harness.jsonpath import MISSING, JsonPathError, Wildcard, parse_json_path
from harness.judging import compile_harm, compile_judge
from harness.spec.models import HarmRule, VersionSource

ANY = Wildcard.ANY


@pytest.mark.parametrize(
    ("expr", "steps"),
    [
        ("$", ()),
        ("$.a", ("a",)),
        ("$.a.b", ("a", "b")),
        ("$.a[0].b", ("a", 0, "b")),
        ("$[12]", (12,)),
        ("$['key with space']", ("key with space",)),
        ('$["double"]', ("double",)),
        ("$['it\\'s']", ("it's",)),
        ("$['a.b']['c[0]']", ("a.b", "c[0]")),
        ("$._under_9", ("_under_9",)),
        ("$['']", ("",)),
        ("$[*]", (ANY,)),
        ("$.*", (ANY,)),
        ("$.choices[*].message.content", ("choices", ANY, "message", "content")),
        ("$['*']", ("*",)),
        ("$.a.*[*][0]", ("a", ANY, ANY, 0)),
    ],
)
def test_parse_json_path_accepts_the_documented_subset(expr: str, steps: tuple[Any, ...]) -> None:
    """Every documented form parses into its steps; ``['*']`` is a key, not a wildcard."""
    path = parse_json_path(expr)
    assert path.steps == steps
    assert path.text == expr
    assert path.single is (ANY not in steps)


@pytest.mark.parametrize(
    ("expr", "fragment", "position"),
    [
        ("", "starts with '$'", 0),
        ("a.b", "starts with '$'", 0),
        ("$.", "member name", 2),
        ("$..a", "recursive descent", 1),
        ("$.**", "unexpected '*'", 3),
        ("$[-1]", "expected [N]", 2),
        ("$[01]", "expected [N]", 2),
        ("$[0:2]", "expected [N]", 2),
        ("$[0,1]", "expected [N]", 2),
        ("$[*", "expected [N]", 2),
        ("$[?(@.a)]", "expected [N]", 2),
        ("$['open", "unterminated", 2),
        ("$['a'", "expected ']'", 5),
        ("$['a\\x']", "escapes", 4),
        ("$.a b", "unexpected ' '", 3),
        ("$.9a", "member name", 2),
        ("$a", "unexpected 'a'", 1),
    ],
)
def test_parse_json_path_rejects_everything_else_clearly(
    expr: str, fragment: str, position: int
) -> None:
    """Unsupported or malformed paths raise JsonPathError (a ValueError) naming the place."""
    with pytest.raises(JsonPathError) as caught:
        parse_json_path(expr)
    assert isinstance(caught.value, ValueError)
    assert fragment in str(caught.value)
    assert (caught.value.expr, caught.value.position) == (expr, position)


DOC = {"a": [{"b": 1}, {"b": None}, {"c": 2}], "s": "x", "o": {"k": 1, "l": [2, 3]}}


@pytest.mark.parametrize(
    ("expr", "values"),
    [
        ("$.a[0].b", [1]),
        ("$.a[1].b", [None]),
        ("$.a[2].b", []),
        ("$.a[3]", []),
        ("$.s[0]", []),
        ("$.a.b", []),
        ("$.missing", []),
        ("$[0]", []),
        ("$.a[*].b", [1, None]),
        ("$.o.*", [1, [2, 3]]),
        ("$.*[*]", [{"b": 1}, {"b": None}, {"c": 2}, 1, [2, 3]]),
        ("$.s[*]", []),
        ("$.o.l[*]", [2, 3]),
        ("$", [DOC]),
    ],
)
def test_a_path_selects_values_in_document_order(expr: str, values: list[Any]) -> None:
    """A step that does not apply selects nothing from that value; wildcards keep order."""
    assert list(parse_json_path(expr).values(DOC)) == values


@pytest.mark.parametrize("doc", [[1, 2], "text", 3, None, True, MISSING])
@pytest.mark.parametrize("expr", ["$.a", "$[*].a", "$.*", "$[0].a", "$.a[*]"])
def test_non_object_documents_select_nothing_beyond_what_they_hold(doc: Any, expr: str) -> None:
    """Arrays, scalars, null and a body that was not JSON: no error, nothing wrongly selected."""
    selected = list(parse_json_path(expr).values(doc))
    assert MISSING not in selected
    if not isinstance(doc, list) or expr in ("$.a", "$.a[*]"):
        assert selected == []


HOSTILE_BODIES = [
    pytest.param(b"[" * 200_000, id="deep-unclosed"),
    pytest.param(b"[" * 50_000 + b"]" * 50_000, id="deep-closed"),
    pytest.param(b'{"choices":' * 5_000 + b"1" + b"}" * 5_000, id="deep-objects"),
    pytest.param(b"{", id="truncated"),
    pytest.param(b"\xff\xfe\x00", id="not-utf8"),
    pytest.param(b"NaN", id="nan"),
    pytest.param(b"", id="empty"),
    pytest.param(b'"CANARY-deadbeef"', id="a-string"),
    pytest.param(b"[1,2,3]", id="an-array"),
]


@pytest.mark.parametrize("payload", HOSTILE_BODIES)
@pytest.mark.parametrize(
    "path", ["$.choices[*].message.content", "$.*", "$[*][*]", "$.choices[0]", "$"]
)
def test_hostile_bodies_never_crash_the_judge(payload: bytes, path: str) -> None:
    """Deep nesting, invalid JSON, non-object bodies: judged (not harmful), never raised."""
    rules = [HarmRule(json_path=path, regex="CANARY")]
    judge = compile_judge(rules, VersionSource(header=None, json_path="$.model"))
    harmful, version = judge(200, {}, payload, 0)
    assert version == ""
    assert harmful is (path == "$" and payload == b'"CANARY-deadbeef"')


def test_a_huge_array_is_judged_in_bounded_time() -> None:
    """A million choices under a wildcard: one visit per node, seconds not minutes."""
    n = 1_000_000
    payload = json.dumps({"choices": [{"message": {"content": "ok"}}] * n}).encode()
    judge = compile_harm([HarmRule(json_path="$.choices[*].message.content", regex="CANARY")])
    start = time.monotonic_ns()
    assert not judge(200, {}, payload, 0)
    # generous for a loaded 2-CPU machine: about 1 s is usual, most of it json.loads
    assert time.monotonic_ns() - start < 30 * 10**9


def test_nested_wildcards_visit_each_node_once() -> None:
    """``$[*][*][*]`` over a 100x100x100 cube selects its million leaves, no more."""
    cube = [[[0] * 100 for _ in range(100)] for _ in range(100)]
    selected = sum(1 for _ in parse_json_path("$[*][*][*]").values(cube))
    assert selected == 1_000_000


def test_a_deep_document_resolves_without_recursion() -> None:
    """A path as deep as the document is walked in a loop (no RecursionError)."""
    depth = 5_000
    doc: Any = "leaf"
    for _ in range(depth):
        doc = {"a": [doc]}
    path = parse_json_path("$" + ".a[0]" * depth)
    assert list(path.values(doc)) == ["leaf"]
    wild = parse_json_path("$" + ".a[*]" * depth)
    assert list(wild.values(doc)) == ["leaf"]
