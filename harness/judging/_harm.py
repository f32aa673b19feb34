"""Harm rules compiled once into checks of an answer, cheapest first."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from harness.jsonpath import MISSING, JsonPath, Step, parse_json_path, resolve_one, select_all
from harness.judging._answer import Answer, Check, as_text, json_equal
from harness.spec.durations import to_ns
from harness.spec.load import HarmRule

__all__ = ["HarmJudge", "body_check", "compile_harm", "compile_rules", "first_match"]

HarmJudge = Callable[[int, Mapping[str, str], bytes, int], bool]
"""``(status, headers, body, latency_ns) -> harmful``, as returned by :func:`compile_harm`."""


def compile_harm(rules: Iterable[HarmRule]) -> HarmJudge:
    """Resolve the rules once into ``(status, headers, body, latency_ns) -> harmful``.

    Regexes are compiled and paths parsed here, so the returned function only runs a list of
    small checks; cheap checks (status, latency, headers) run before ones that read the body,
    and the body is decoded at most once per answer. ``status`` 0 (no answer) is never harmful.
    """
    matchers = compile_rules(rules)
    if not matchers:
        return _never_harmful

    if len(matchers) == 1:  # the common drill: no generator per answer
        only = matchers[0]

        def judge_one(
            status: int, headers: Mapping[str, str], body: bytes, latency_ns: int
        ) -> bool:
            return status != 0 and only(Answer(status, headers, body, latency_ns))

        return judge_one

    def judge(status: int, headers: Mapping[str, str], body: bytes, latency_ns: int) -> bool:
        if status == 0:
            return False
        answer = Answer(status, headers, body, latency_ns)
        return first_match(matchers, answer)

    return judge


def _never_harmful(status: int, headers: Mapping[str, str], body: bytes, latency_ns: int) -> bool:
    return False


def compile_rules(rules: Iterable[HarmRule]) -> list[Check]:
    """One check per rule: it matches when every check of the rule does."""
    matchers: list[Check] = []
    for rule in rules:
        checks = _compile_rule(rule)
        matchers.append(checks[0] if len(checks) == 1 else _all_of(tuple(checks)))
    return matchers


def first_match(matchers: list[Check], answer: Answer) -> bool:
    """Whether any matcher matches, stopping at the first (a loop: no generator per answer)."""
    for matcher in matchers:  # noqa: SIM110 (any() over a generator is slower per answer)
        if matcher(answer):
            return True
    return False


def _all_of(checks: tuple[Check, ...]) -> Check:
    def all_match(answer: Answer) -> bool:
        return all(check(answer) for check in checks)

    return all_match


def _compile_rule(rule: HarmRule) -> list[Check]:
    """The checks of one rule, cheapest first (the model guarantees at least one)."""
    checks: list[Check] = []
    if rule.status is not None:
        checks.append(_status_in(frozenset(rule.status)))
    if rule.latency_over is not None:
        checks.append(_latency_over(to_ns(rule.latency_over)))
    if rule.header is not None and rule.header_regex is not None:
        checks.append(_header_search(rule.header.lower(), re.compile(rule.header_regex)))
    pattern = re.compile(rule.regex) if rule.regex is not None else None
    body = body_check(rule.json_path, rule.equals, pattern)
    if body is not None:
        checks.append(body)
    return checks


def body_check(
    json_path: str | None, expected: Any, pattern: re.Pattern[str] | None
) -> Check | None:
    """The check of an answer's body that a harm rule or a safe state gives: the path's
    value equals ``expected`` and holds ``pattern`` (each when given), or without a path the
    whole body holds ``pattern``; None when they give nothing to check."""
    if json_path is not None:
        return _path_check(parse_json_path(json_path), expected, pattern)
    if pattern is not None:
        return _body_search(pattern)
    return None


def _status_in(codes: frozenset[int]) -> Check:
    def status_in(answer: Answer) -> bool:
        return answer.status in codes

    return status_in


def _latency_over(limit_ns: int) -> Check:
    def latency_over(answer: Answer) -> bool:
        return answer.latency_ns > limit_ns

    return latency_over


def _header_search(name: str, pattern: re.Pattern[str]) -> Check:
    def header_search(answer: Answer) -> bool:
        value = answer.headers.get(name)
        return value is not None and pattern.search(value) is not None

    return header_search


def _body_search(pattern: re.Pattern[str]) -> Check:
    def body_search(answer: Answer) -> bool:
        return pattern.search(answer.text()) is not None

    return body_search


def _path_check(path: JsonPath, expected: Any, pattern: re.Pattern[str] | None) -> Check:
    """Some value the path selects equals ``expected`` and holds ``pattern`` (each when given;
    with neither: the path selects a value).

    One closure per case, so the answer's hot path is one loop and one test, no dispatch.
    """
    if not path.single:
        return _any_selected(path.steps, expected, pattern)
    steps = path.steps
    if expected is None and pattern is None:

        def path_exists(answer: Answer) -> bool:
            return resolve_one(answer.doc(), steps) is not MISSING

        return path_exists
    if expected is None:
        assert pattern is not None
        search = pattern.search

        def path_search(answer: Answer) -> bool:
            value = resolve_one(answer.doc(), steps)
            return value is not MISSING and search(as_text(value)) is not None

        return path_search
    if pattern is None:

        def path_equals(answer: Answer) -> bool:
            value = resolve_one(answer.doc(), steps)
            return value is not MISSING and json_equal(value, expected)

        return path_equals
    value_matches = _value_test(expected, pattern)

    def path_value(answer: Answer) -> bool:
        value = resolve_one(answer.doc(), steps)
        return value is not MISSING and value_matches(value)

    return path_value


def _value_test(expected: Any, pattern: re.Pattern[str] | None) -> Callable[[Any], bool]:
    """``value -> bool``: equals ``expected`` and holds ``pattern``, each when given."""
    search = pattern.search if pattern is not None else None

    def value_matches(value: Any) -> bool:
        if expected is not None and not json_equal(value, expected):
            return False
        return search is None or search(as_text(value)) is not None

    return value_matches


def _any_selected(steps: tuple[Step, ...], expected: Any, pattern: re.Pattern[str] | None) -> Check:
    value_matches = _value_test(expected, pattern)

    def any_selected(answer: Answer) -> bool:
        return any(value_matches(value) for value in select_all(answer.doc(), steps))

    return any_selected
