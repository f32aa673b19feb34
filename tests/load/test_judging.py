"""Harm rules, safe-state classification and version extraction, as pure functions."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from pydantic import ValidationError

from harness.jsonpath import parse_json_path
from harness.judging import (
    Failure,
    _harm,
    classify_state,
    compile_harm,
    compile_judge,
    compile_state,
    compile_version,
    extract_version,
)
from harness.judging._answer import Answer
from harness.observations import State
from harness.spec.models import HarmRule, SafeState, VersionSource

MS = 1_000_000


def body(doc: Any) -> bytes:
    return json.dumps(doc).encode()


# --------------------------------------------------------------------------- rule validation


@pytest.mark.parametrize(
    ("kwargs", "field", "fragment"),
    [
        ({}, "", "needs at least one"),
        ({"json_path": "$..x"}, "json_path", "recursive descent"),
        ({"json_path": "$[0:2]"}, "json_path", "at character 2"),
        ({"regex": "("}, "regex", "invalid regular expression"),
        ({"header_regex": "x"}, "", "needs at least one"),
        ({"header": "X"}, "", "go together"),
        ({"header": "X", "header_regex": "["}, "header_regex", "invalid regular expression"),
        ({"status": []}, "status", "at least 1"),
        ({"status": [200, 700]}, "status.1", "less than or equal to 599"),
        ({"status": [True]}, "status.0", "valid integer"),
        ({"status": "500"}, "status", ""),
        ({"latency_over": -1}, "latency_over", "negative"),
        ({"json_path": "$.a", "equals": object()}, "equals", "JSON value"),
        ({"json_path": "$.a", "equals": float("nan")}, "equals", "JSON value"),
        ({"equals": 1}, "", "equals needs json_path"),
    ],
)
def test_invalid_rules_are_rejected_naming_the_field(
    kwargs: dict[str, Any], field: str, fragment: str
) -> None:
    """A bad rule is refused when the drill is loaded, the error located at its field."""
    with pytest.raises(ValidationError) as caught:
        HarmRule(**kwargs)
    errors = caught.value.errors()
    assert [".".join(str(p) for p in e["loc"]) for e in errors] == [field], errors
    assert fragment in errors[0]["msg"]


def test_status_is_normalised_once_to_a_tuple() -> None:
    """``status: 500`` and ``status: [500]`` are the same rule, held as ``(500,)``."""
    assert HarmRule(status=500).status == (500,)  # type: ignore[arg-type]
    assert HarmRule(status=[500, 502]).status == (500, 502)  # type: ignore[arg-type]
    assert HarmRule.model_validate_json('{"status": 500}') == HarmRule(status=(500,))


# --------------------------------------------------------------------------- harm


CANARY = HarmRule(json_path="$.output", regex="CANARY-[0-9a-f]{8}")


@pytest.mark.parametrize(
    ("rule", "status", "headers", "payload", "latency_ns", "harmful"),
    [
        (CANARY, 200, {}, body({"output": "leak CANARY-deadbeef"}), 0, True),
        (CANARY, 200, {}, body({"output": "fine"}), 0, False),
        (CANARY, 200, {}, body({"other": "CANARY-deadbeef"}), 0, False),
        (CANARY, 200, {}, b"CANARY-deadbeef but not JSON", 0, False),
        (CANARY, 500, {}, body({"output": "CANARY-deadbeef"}), 0, True),
        (HarmRule(regex="CANARY"), 200, {}, b"plain CANARY text", 0, True),
        (HarmRule(regex="CANARY"), 200, {}, b"\xff\xfe CANARY", 0, True),
        (HarmRule(regex="CANARY"), 200, {}, b"clean", 0, False),
        (HarmRule(json_path="$.n", regex="^3$"), 200, {}, body({"n": 3}), 0, True),
        (HarmRule(json_path="$.f", regex="^true$"), 200, {}, body({"f": True}), 0, True),
        (HarmRule(json_path="$.o", regex='"a":1'), 200, {}, body({"o": {"a": 1}}), 0, True),
        (HarmRule(json_path="$.f", equals=True), 200, {}, body({"f": True}), 0, True),
        (HarmRule(json_path="$.f", equals=True), 200, {}, body({"f": 1}), 0, False),
        (HarmRule(json_path="$.n", equals=1), 200, {}, body({"n": 1.0}), 0, True),
        (HarmRule(json_path="$.l", equals=[1, 2]), 200, {}, body({"l": [1, 2]}), 0, True),
        (HarmRule(json_path="$", equals={"ok": False}), 200, {}, body({"ok": False}), 0, True),
        (HarmRule(json_path="$.err"), 200, {}, body({"err": None}), 0, True),
        (HarmRule(json_path="$.err"), 200, {}, body({"ok": 1}), 0, False),
        (HarmRule(json_path="$.a[1]"), 200, {}, body({"a": [0]}), 0, False),
        (HarmRule(json_path="$['k y']", equals="v"), 200, {}, body({"k y": "v"}), 0, True),
        (HarmRule(status=(500, 502)), 502, {}, b"", 0, True),
        (HarmRule(status=(500, 502)), 200, {}, b"", 0, False),
        (HarmRule(header="X-Leak", header_regex=""), 200, {"x-leak": ""}, b"", 0, True),
        (HarmRule(header="X-Leak", header_regex=""), 200, {}, b"", 0, False),
        (
            HarmRule(header="X-Safety", header_regex="^unsafe"),
            200,
            {"x-safety": "unsafe-output"},
            b"",
            0,
            True,
        ),
        (
            HarmRule(header="X-Safety", header_regex="^unsafe"),
            200,
            {"x-safety": "safe"},
            b"",
            0,
            False,
        ),
        (HarmRule(latency_over=0.5), 200, {}, b"", 501 * MS, True),
        (HarmRule(latency_over=0.5), 200, {}, b"", 500 * MS, False),
        (HarmRule(status=(200,), latency_over=0.1), 500, {}, b"", 900 * MS, False),
        (HarmRule(status=(200,), latency_over=0.1), 200, {}, b"", 900 * MS, True),
        (CANARY, 0, {}, body({"output": "CANARY-deadbeef"}), 0, False),
        (HarmRule(latency_over=0.0), 0, {}, b"", 10**12, False),
    ],
)
def test_compile_harm_applies_each_rule_as_documented(
    rule: HarmRule,
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
    judge = compile_harm([HarmRule(status=(500,)), CANARY])
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
        HarmRule(json_path="$.a", equals=1),
        HarmRule(json_path="$.b", regex="x"),
        HarmRule(json_path="$.c"),
    ]
    judge = compile_harm(rules)
    CountingBody.decodes = 0
    assert not judge(200, {}, CountingBody(body({"z": 0})), 0)
    assert CountingBody.decodes == 1

    gated = compile_harm([HarmRule(status=(500,), json_path="$.a", equals=1)])
    CountingBody.decodes = 0
    assert not gated(200, {}, CountingBody(body({"a": 1})), 0)
    assert CountingBody.decodes == 0


def test_deeply_nested_garbage_is_not_json_rather_than_a_crash() -> None:
    """A pathological body makes JSON rules not match instead of raising."""
    judge = compile_harm([HarmRule(json_path="$.a")])
    assert not judge(200, {}, b"[" * 100_000, 0)


# --------------------------------------------------------------------------- wildcards


def openai(*contents: str) -> bytes:
    """An OpenAI-style chat answer with one choice per content (``n > 1``)."""
    return body(
        {"choices": [{"index": i, "message": {"content": c}} for i, c in enumerate(contents)]}
    )


CHOICES = HarmRule(json_path="$.choices[*].message.content", regex="CANARY-[0-9a-f]{8}")


@pytest.mark.parametrize(
    ("payload", "harmful"),
    [
        (openai("fine", "also fine"), False),
        (openai("fine", "leak CANARY-deadbeef"), True),
        (openai("leak CANARY-deadbeef", "fine"), True),
        (openai(), False),
        (body({"choices": {"a": {"message": {"content": "CANARY-deadbeef"}}}}), True),
        (body({"choices": "CANARY-deadbeef"}), False),
        (body({"choices": [1, None, "CANARY-deadbeef", {"message": 3}]}), False),
        (b"CANARY-deadbeef", False),
    ],
)
def test_a_wildcard_rule_is_harmful_when_any_selected_value_matches(
    payload: bytes, harmful: bool
) -> None:
    """``$.choices[*].message.content``: one harmful choice of many makes the answer harmful."""
    assert compile_harm([CHOICES])(200, {}, payload, 0) is harmful


def test_regex_and_equals_must_hold_for_the_same_selected_value() -> None:
    """With both given, one selected value must pass both, not one each."""
    rule = HarmRule(json_path="$.l[*]", regex="^a", equals="abc")
    judge = compile_harm([rule])
    assert judge(200, {}, body({"l": ["abc"]}), 0)
    assert not judge(200, {}, body({"l": ["axe", "zabc"]}), 0)
    assert compile_harm([HarmRule(json_path="$.l[*]")])(200, {}, body({"l": [None]}), 0)
    assert not compile_harm([HarmRule(json_path="$.l[*]")])(200, {}, body({"l": []}), 0)


def test_a_wildcard_rule_stops_at_the_first_matching_value() -> None:
    """Selection is lazy: the values after the first match are never looked at."""
    seen: list[str] = []

    class CountingPattern:
        def search(self, text: str) -> re.Match[str] | None:
            seen.append(text)
            return re.search("CANARY", text)

    check = _harm._path_check(parse_json_path("$[*]"), None, CountingPattern())  # type: ignore[arg-type]
    assert check(Answer(200, {}, body(["x", "CANARY-1", "y", "z"]), 0))
    assert seen == ["x", "CANARY-1"]


# --------------------------------------------------------------------------- state


@pytest.mark.parametrize(
    ("status", "failure", "safe", "state"),
    [
        (200, None, SafeState(), State.SERVING),
        (204, None, SafeState(), State.SERVING),
        (503, None, SafeState(), State.STOPPED),
        (500, None, SafeState(), State.ERROR),
        (302, None, SafeState(), State.ERROR),
        (404, None, SafeState(statuses=(404, 410)), State.STOPPED),
        (503, None, SafeState(statuses=()), State.ERROR),
        (0, Failure.CONNECTION_REFUSED, SafeState(), State.STOPPED),
        (0, Failure.CONNECTION_RESET, SafeState(), State.STOPPED),
        (0, Failure.CONNECTION_REFUSED, SafeState(connection_refused=False), State.ERROR),
        (0, Failure.CONNECTION_RESET, SafeState(connection_reset=False), State.ERROR),
        (0, Failure.TIMEOUT, SafeState(), State.ERROR),
        (0, Failure.PROTOCOL, SafeState(), State.ERROR),
    ],
)
def test_classify_state_follows_the_safe_state_rule(
    status: int, failure: Failure | None, safe: SafeState, state: State
) -> None:
    """Refused/reset and safe statuses are STOPPED, 2xx SERVING, the rest ERROR."""
    assert classify_state(status, failure, safe) is state


NOT_FOUND = SafeState(statuses=(404,), json_path="$.error", regex="not found")


@pytest.mark.parametrize(
    ("status", "payload", "safe", "state"),
    [
        (404, body({"error": "model not found"}), NOT_FOUND, State.STOPPED),
        (404, body({"detail": "Not Found"}), NOT_FOUND, State.ERROR),
        (404, b"<html>Not Found</html>", NOT_FOUND, State.ERROR),
        (404, b"", NOT_FOUND, State.ERROR),
        (503, body({"error": "model not found"}), NOT_FOUND, State.ERROR),
        (200, body({"error": "model not found"}), NOT_FOUND, State.SERVING),
        (404, body({"detail": "Not Found"}), SafeState(statuses=(404,)), State.STOPPED),
        (410, body({"state": "unloaded"}), SafeState(statuses=(410,), json_path="$.state",
                                                    equals="unloaded"), State.STOPPED),
        (410, body({"state": "loading"}), SafeState(statuses=(410,), json_path="$.state",
                                                   equals="unloaded"), State.ERROR),
        (503, b"service stopped", SafeState(regex="^service stopped$"), State.STOPPED),
        (503, b"overloaded", SafeState(regex="^service stopped$"), State.ERROR),
        (404, body({"errors": [{"msg": "a"}, {"msg": "model gone"}]}),
         SafeState(statuses=(404,), json_path="$.errors[*].msg", regex="gone"), State.STOPPED),
    ],
)  # fmt: skip
def test_a_listed_status_is_stopped_only_with_the_body_the_rule_names(
    status: int, payload: bytes, safe: SafeState, state: State
) -> None:
    """With body rules, a listed status is STOPPED only when its body matches (else ERROR);
    a 2xx stays SERVING whatever its body says, and without body rules any body will do."""
    assert classify_state(status, None, safe, payload) is state
    assert compile_state(safe)(status, None, payload) is state


def test_body_rules_never_reach_a_failure_without_an_answer() -> None:
    """Refused and reset connections follow their own switches, whatever the body rules."""
    assert compile_state(NOT_FOUND)(0, Failure.CONNECTION_REFUSED, b"") is State.STOPPED
    assert compile_state(NOT_FOUND)(0, Failure.TIMEOUT, b"") is State.ERROR


@pytest.mark.parametrize(
    ("kwargs", "field", "fragment"),
    [
        ({"statuses": [404], "equals": "x"}, "", "equals needs json_path"),
        ({"statuses": [200, 404], "json_path": "$.error"}, "", "never make it safe"),
        ({"json_path": "$..error"}, "json_path", "recursive descent"),
        ({"regex": "("}, "regex", "invalid regular expression"),
        ({"json_path": "$.a", "equals": float("nan")}, "equals", "JSON value"),
    ],
)
def test_safe_state_body_rules_are_checked_like_harm_rules(
    kwargs: dict[str, Any], field: str, fragment: str
) -> None:
    """Paths, regexes and values of a safe state are refused as a harm rule's are, and a
    2xx status with body rules is refused (a body never makes serving safe)."""
    with pytest.raises(ValidationError) as caught:
        SafeState.model_validate(kwargs)
    error = caught.value.errors()[0]
    assert ".".join(map(str, error["loc"])) == field
    assert fragment in error["msg"]


def test_safe_state_rejects_bad_status_codes() -> None:
    """A safe status outside 100..599 is refused with the field named."""
    with pytest.raises(ValidationError) as caught:
        SafeState(statuses=(99,))
    assert caught.value.errors()[0]["loc"] == ("statuses", 0)


# --------------------------------------------------------------------------- version


def test_version_comes_from_the_header_case_insensitively() -> None:
    """A header source reads that header, looked up lower-case; a source that names
    nothing reads nothing (the X-Model-Version default is the target file's, not the
    model's)."""
    header = VersionSource(header="X-Model-Version")
    assert extract_version(header, {"x-model-version": "v2"}, b"") == "v2"
    assert extract_version(header, {}, b"") == ""
    assert extract_version(VersionSource(), {"x-model-version": "v2"}, b"") == ""
    with pytest.raises(ValidationError):
        VersionSource(header="X Model")


def test_version_from_a_json_path_and_header_precedence() -> None:
    """A JSON path is used when the header is absent; the header wins when present."""
    spec = VersionSource(header="X-Model-Version", json_path="$.model.version")
    doc = body({"model": {"version": 3}})
    assert extract_version(spec, {}, doc) == "3"
    assert extract_version(spec, {"x-model-version": "v9"}, doc) == "v9"
    only_path = VersionSource(header=None, json_path="$.v")
    assert extract_version(only_path, {"x-model-version": "v9"}, body({"v": "v1"})) == "v1"
    assert extract_version(only_path, {}, b"not json") == ""
    assert extract_version(VersionSource(header=None), {"x-model-version": "v9"}, b"") == ""


def test_version_is_one_short_line() -> None:
    """Newlines cannot break the observation line and huge versions are cut."""
    version = compile_version(VersionSource(header=None, json_path="$.v"))
    assert version({}, body({"v": "a\nb\rc"})) == "a b c"
    assert len(version({}, body({"v": "x" * 1000}))) == 64


@pytest.mark.parametrize("path", ["$..v", "$.choices[*].model", "$.*"])
def test_version_source_rejects_a_bad_or_many_valued_path(path: str) -> None:
    """An unsupported version path, or one with a wildcard, is refused with the field named."""
    with pytest.raises(ValidationError) as caught:
        VersionSource(json_path=path)
    assert caught.value.errors()[0]["loc"] == ("json_path",)


def test_compile_judge_agrees_with_harm_and_version_and_parses_once() -> None:
    """The combined judge gives the same answers as the separate ones from a single parse."""
    spec = VersionSource(header=None, json_path="$.version")
    judge = compile_judge([CANARY], spec)
    CountingBody.decodes = 0
    payload = CountingBody(body({"output": "CANARY-deadbeef", "version": "v2"}))
    assert judge(200, {}, payload, 0) == (True, "v2")
    assert CountingBody.decodes == 1
    assert judge(0, {}, payload, 0) == (False, "")
    assert judge(200, {}, body({"output": "ok", "version": "v1"}), 0) == (False, "v1")
