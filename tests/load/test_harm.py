"""Harm rules, JSON paths, safe-state classification and version extraction, as pure functions."""

from __future__ import annotations

import json
from typing import Any

import pytest

from harness.harm import (
    Failure,
    HarmRuleError,
    HarmRuleSpec,
    JsonPathError,
    SafeStateSpec,
    VersionSpec,
    classify_state,
    compile_harm,
    compile_judge,
    compile_version,
    extract_version,
    parse_json_path,
    resolve_json_path,
)
from harness.observations import State

MS = 1_000_000


def body(doc: Any) -> bytes:
    return json.dumps(doc).encode()


# --------------------------------------------------------------------------- JSON paths


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
    ],
)
def test_parse_json_path_accepts_the_documented_subset(expr: str, steps: tuple[Any, ...]) -> None:
    """Every documented form parses into its steps."""
    assert parse_json_path(expr) == steps


@pytest.mark.parametrize(
    ("expr", "fragment"),
    [
        ("", "starts with '$'"),
        ("a.b", "starts with '$'"),
        ("$.", "member name"),
        ("$..a", "recursive descent"),
        ("$.*", "wildcards"),
        ("$[*]", "non-negative index"),
        ("$[-1]", "non-negative index"),
        ("$[01]", "non-negative index"),
        ("$[0:2]", "non-negative index"),
        ("$[?(@.a)]", "non-negative index"),
        ("$['open", "unterminated"),
        ("$['a'", "expected ']'"),
        ("$['a\\x']", "escapes"),
        ("$.a b", "unexpected ' '"),
        ("$.9a", "member name"),
        ("$a", "unexpected 'a'"),
    ],
)
def test_parse_json_path_rejects_everything_else_clearly(expr: str, fragment: str) -> None:
    """Unsupported or malformed paths raise JsonPathError (a ValueError) saying what is wrong."""
    with pytest.raises(JsonPathError) as caught:
        parse_json_path(expr)
    assert isinstance(caught.value, ValueError)
    assert fragment in str(caught.value)
    assert caught.value.expr == expr


def test_resolve_json_path_finds_values_and_raises_lookup_error_when_missing() -> None:
    """Resolution walks objects and lists and refuses type mismatches and out-of-range indexes."""
    doc = {"a": [{"b": 1}, {"b": None}], "s": "x"}
    assert resolve_json_path(doc, ("a", 0, "b")) == 1
    assert resolve_json_path(doc, ("a", 1, "b")) is None
    missing: list[tuple[str | int, ...]] = [("a", 2), ("s", 0), ("a", "b"), ("missing",), (0,)]
    for steps in missing:
        with pytest.raises(LookupError):
            resolve_json_path(doc, steps)


# --------------------------------------------------------------------------- rule validation


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({}, "harm"),
        ({"json_path": "$..x"}, "json_path"),
        ({"regex": "("}, "regex"),
        ({"header_regex": "x"}, "header_regex"),
        ({"header": "X", "header_regex": "["}, "header_regex"),
        ({"status": ()}, "status"),
        ({"status": (200, 700)}, "status"),
        ({"status": (True,)}, "status"),
        ({"latency_over_s": -1}, "latency_over_s"),
        ({"equals": object()}, "equals"),
        ({"header": ""}, "header"),
    ],
)
def test_invalid_rules_are_rejected_naming_the_field(kwargs: dict[str, Any], field: str) -> None:
    """A bad rule raises HarmRuleError carrying the offending field."""
    with pytest.raises(HarmRuleError) as caught:
        HarmRuleSpec(**kwargs)
    assert caught.value.field == field


def test_a_single_status_code_is_accepted_as_a_tuple() -> None:
    """``status: 500`` is normalised to ``(500,)``."""
    assert HarmRuleSpec(status=500).status == (500,)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- harm


CANARY = HarmRuleSpec(json_path="$.output", regex="CANARY-[0-9a-f]{8}")


@pytest.mark.parametrize(
    ("rule", "status", "headers", "payload", "latency_ns", "harmful"),
    [
        (CANARY, 200, {}, body({"output": "leak CANARY-deadbeef"}), 0, True),
        (CANARY, 200, {}, body({"output": "fine"}), 0, False),
        (CANARY, 200, {}, body({"other": "CANARY-deadbeef"}), 0, False),
        (CANARY, 200, {}, b"CANARY-deadbeef but not JSON", 0, False),
        (CANARY, 500, {}, body({"output": "CANARY-deadbeef"}), 0, True),
        (HarmRuleSpec(regex="CANARY"), 200, {}, b"plain CANARY text", 0, True),
        (HarmRuleSpec(regex="CANARY"), 200, {}, b"\xff\xfe CANARY", 0, True),
        (HarmRuleSpec(regex="CANARY"), 200, {}, b"clean", 0, False),
        (HarmRuleSpec(json_path="$.n", regex="^3$"), 200, {}, body({"n": 3}), 0, True),
        (HarmRuleSpec(json_path="$.f", regex="^true$"), 200, {}, body({"f": True}), 0, True),
        (HarmRuleSpec(json_path="$.o", regex='"a":1'), 200, {}, body({"o": {"a": 1}}), 0, True),
        (HarmRuleSpec(json_path="$.f", equals=True), 200, {}, body({"f": True}), 0, True),
        (HarmRuleSpec(json_path="$.f", equals=True), 200, {}, body({"f": 1}), 0, False),
        (HarmRuleSpec(json_path="$.n", equals=1), 200, {}, body({"n": 1.0}), 0, True),
        (HarmRuleSpec(json_path="$.l", equals=[1, 2]), 200, {}, body({"l": [1, 2]}), 0, True),
        (HarmRuleSpec(equals={"ok": False}), 200, {}, body({"ok": False}), 0, True),
        (HarmRuleSpec(json_path="$.err"), 200, {}, body({"err": None}), 0, True),
        (HarmRuleSpec(json_path="$.err"), 200, {}, body({"ok": 1}), 0, False),
        (HarmRuleSpec(json_path="$.a[1]"), 200, {}, body({"a": [0]}), 0, False),
        (HarmRuleSpec(json_path="$['k y']", equals="v"), 200, {}, body({"k y": "v"}), 0, True),
        (HarmRuleSpec(status=(500, 502)), 502, {}, b"", 0, True),
        (HarmRuleSpec(status=(500, 502)), 200, {}, b"", 0, False),
        (HarmRuleSpec(header="x-leak"), 200, {"x-leak": "1"}, b"", 0, True),
        (HarmRuleSpec(header="X-Leak"), 200, {"x-leak": ""}, b"", 0, True),
        (HarmRuleSpec(header="X-Leak"), 200, {}, b"", 0, False),
        (
            HarmRuleSpec(header="X-Safety", header_regex="^unsafe"),
            200,
            {"x-safety": "unsafe-output"},
            b"",
            0,
            True,
        ),
        (
            HarmRuleSpec(header="X-Safety", header_regex="^unsafe"),
            200,
            {"x-safety": "safe"},
            b"",
            0,
            False,
        ),
        (HarmRuleSpec(latency_over_s=0.5), 200, {}, b"", 501 * MS, True),
        (HarmRuleSpec(latency_over_s=0.5), 200, {}, b"", 500 * MS, False),
        (HarmRuleSpec(status=(200,), latency_over_s=0.1), 500, {}, b"", 900 * MS, False),
        (HarmRuleSpec(status=(200,), latency_over_s=0.1), 200, {}, b"", 900 * MS, True),
        (CANARY, 0, {}, body({"output": "CANARY-deadbeef"}), 0, False),
        (HarmRuleSpec(latency_over_s=0.0), 0, {}, b"", 10**12, False),
    ],
)
def test_compile_harm_applies_each_rule_as_documented(
    rule: HarmRuleSpec,
    status: int,
    headers: dict[str, str],
    payload: bytes,
    latency_ns: int,
    harmful: bool,
) -> None:
    """Each field matches exactly as the module's semantics table says."""
    assert compile_harm([rule])(status, headers, payload, latency_ns) is harmful


def test_harm_is_any_rule_matching_and_no_rules_means_never_harmful() -> None:
    """Rules are OR-ed together; an empty rule list judges nothing harmful."""
    judge = compile_harm([HarmRuleSpec(status=(500,)), CANARY])
    assert judge(500, {}, b"", 0)
    assert judge(200, {}, body({"output": "CANARY-00000000"}), 0)
    assert not judge(200, {}, body({"output": "ok"}), 0)
    assert not compile_harm([])(500, {"x": "y"}, b"CANARY-deadbeef", 10**12)


class CountingBody(bytes):
    """Bytes that count how often the JSON parser decodes them."""

    decodes = 0

    def decode(self, *args: Any, **kwargs: Any) -> str:
        CountingBody.decodes += 1
        return super().decode(*args, **kwargs)


def test_body_is_parsed_at_most_once_and_only_when_needed() -> None:
    """Several JSON rules share one parse; a failing cheap check skips the parse entirely."""
    rules = [
        HarmRuleSpec(json_path="$.a", equals=1),
        HarmRuleSpec(json_path="$.b", regex="x"),
        HarmRuleSpec(json_path="$.c"),
    ]
    judge = compile_harm(rules)
    CountingBody.decodes = 0
    assert not judge(200, {}, CountingBody(body({"z": 0})), 0)
    assert CountingBody.decodes == 1

    gated = compile_harm([HarmRuleSpec(status=(500,), json_path="$.a", equals=1)])
    CountingBody.decodes = 0
    assert not gated(200, {}, CountingBody(body({"a": 1})), 0)
    assert CountingBody.decodes == 0


def test_deeply_nested_garbage_is_not_json_rather_than_a_crash() -> None:
    """A pathological body makes JSON rules not match instead of raising."""
    judge = compile_harm([HarmRuleSpec(json_path="$.a")])
    assert not judge(200, {}, b"[" * 100_000, 0)


# --------------------------------------------------------------------------- state


@pytest.mark.parametrize(
    ("status", "failure", "safe", "state"),
    [
        (200, None, SafeStateSpec(), State.SERVING),
        (204, None, SafeStateSpec(), State.SERVING),
        (503, None, SafeStateSpec(), State.STOPPED),
        (500, None, SafeStateSpec(), State.ERROR),
        (302, None, SafeStateSpec(), State.ERROR),
        (404, None, SafeStateSpec(statuses=(404, 410)), State.STOPPED),
        (503, None, SafeStateSpec(statuses=()), State.ERROR),
        (0, Failure.CONNECTION_REFUSED, SafeStateSpec(), State.STOPPED),
        (0, Failure.CONNECTION_RESET, SafeStateSpec(), State.STOPPED),
        (0, Failure.CONNECTION_REFUSED, SafeStateSpec(connection_refused=False), State.ERROR),
        (0, Failure.CONNECTION_RESET, SafeStateSpec(connection_reset=False), State.ERROR),
        (0, Failure.TIMEOUT, SafeStateSpec(), State.ERROR),
        (0, Failure.PROTOCOL, SafeStateSpec(), State.ERROR),
    ],
)
def test_classify_state_follows_the_safe_state_rule(
    status: int, failure: Failure | None, safe: SafeStateSpec, state: State
) -> None:
    """Refused/reset and safe statuses are STOPPED, 2xx SERVING, the rest ERROR."""
    assert classify_state(status, failure, safe) is state


def test_safe_state_rejects_bad_status_codes() -> None:
    """A safe status outside 100..599 is refused with the field named."""
    with pytest.raises(HarmRuleError) as caught:
        SafeStateSpec(statuses=(99,))
    assert caught.value.field == "safe_state.statuses"


# --------------------------------------------------------------------------- version


def test_version_comes_from_the_header_case_insensitively_by_default() -> None:
    """The default rule reads X-Model-Version, looked up lower-case."""
    assert extract_version(VersionSpec(), {"x-model-version": "v2"}, b"") == "v2"
    assert extract_version(VersionSpec(), {}, b"") == ""


def test_version_from_a_json_path_and_header_precedence() -> None:
    """A JSON path is used when the header is absent; the header wins when present."""
    spec = VersionSpec(header="X-Model-Version", json_path="$.model.version")
    doc = body({"model": {"version": 3}})
    assert extract_version(spec, {}, doc) == "3"
    assert extract_version(spec, {"x-model-version": "v9"}, doc) == "v9"
    only_path = VersionSpec(header=None, json_path="$.v")
    assert extract_version(only_path, {"x-model-version": "v9"}, body({"v": "v1"})) == "v1"
    assert extract_version(only_path, {}, b"not json") == ""
    assert extract_version(VersionSpec(header=None), {"x-model-version": "v9"}, b"") == ""


def test_version_is_one_short_line() -> None:
    """Newlines cannot break the observation line and huge versions are cut."""
    version = compile_version(VersionSpec(header=None, json_path="$.v"))
    assert version({}, body({"v": "a\nb\rc"})) == "a b c"
    assert len(version({}, body({"v": "x" * 1000}))) == 64


def test_version_spec_rejects_a_bad_path() -> None:
    """An unsupported version path is refused with the field named."""
    with pytest.raises(HarmRuleError) as caught:
        VersionSpec(json_path="$..v")
    assert caught.value.field == "version.json_path"


def test_compile_judge_agrees_with_harm_and_version_and_parses_once() -> None:
    """The combined judge gives the same answers as the separate ones from a single parse."""
    spec = VersionSpec(header=None, json_path="$.version")
    judge = compile_judge([CANARY], spec)
    CountingBody.decodes = 0
    payload = CountingBody(body({"output": "CANARY-deadbeef", "version": "v2"}))
    assert judge(200, {}, payload, 0) == (True, "v2")
    assert CountingBody.decodes == 1
    assert judge(0, {}, payload, 0) == (False, "")
    assert judge(200, {}, body({"output": "ok", "version": "v1"}), 0) == (False, "v1")
