"""Harm and version judged together from one answer, its body decoded at most once."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from harness.judging._answer import Answer
from harness.judging._harm import compile_rules, first_match
from harness.judging._version import version_reader
from harness.spec.load import HarmRule, VersionSource

__all__ = ["AnswerJudge", "compile_judge"]

AnswerJudge = Callable[[int, Mapping[str, str], bytes, int], tuple[bool, str]]
"""``(status, headers, body, latency_ns) -> (harmful, version)``, from :func:`compile_judge`."""


def compile_judge(rules: Iterable[HarmRule], version: VersionSource) -> AnswerJudge:
    """Resolve harm and version rules once into ``(status, headers, body, latency_ns) ->
    (harmful, version)``, decoding the body at most once for both.

    This is what the load runs per answer; it agrees with
    :func:`~harness.judging.compile_harm` and :func:`~harness.judging.compile_version` used
    separately. ``status`` 0 gives ``(False, "")``.
    """
    matchers = compile_rules(rules)
    version_of = version_reader(version)
    if len(matchers) == 1:  # the common drill: no generator per answer
        only = matchers[0]

        def judge_one(
            status: int, headers: Mapping[str, str], body: bytes, latency_ns: int
        ) -> tuple[bool, str]:
            if status == 0:
                return False, ""
            answer = Answer(status, headers, body, latency_ns)
            return only(answer), version_of(answer)

        return judge_one

    def judge(
        status: int, headers: Mapping[str, str], body: bytes, latency_ns: int
    ) -> tuple[bool, str]:
        if status == 0:
            return False, ""
        answer = Answer(status, headers, body, latency_ns)
        return first_match(matchers, answer), version_of(answer)

    return judge
