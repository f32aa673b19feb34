"""Harm judged on a streamed answer: on each chunk, and on the text the chunks add up to.

Each chunk (one server-sent event's data) is judged by the drill's rules as if it were a whole
answer with the stream's status and headers: its JSON when it parses, and, when it does not, a
rule's ``regex`` on its raw text (a non-JSON chunk is never spared by a ``json_path``).

The accumulated text is judged too, so a canary a server splits across chunks is caught: for
each rule made of ``json_path`` and/or ``regex`` only, the values its path selects in each
chunk (the raw text of a non-JSON chunk; the whole chunk without a path) are concatenated and
the regex searched in them. Memory is one window per rule and stream: the last
:data:`WINDOW_CHARS` characters (fewer when the load's body cap is smaller). A match is found
when it ends in the newest chunk and spans at most the window; a chunk is harmful when it
matches on its own or ends such a match.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Final

from harness.jsonpath import MISSING, parse_json_path, select_all
from harness.judging._answer import Answer, Check, as_text
from harness.judging._harm import compile_rules, first_match
from harness.spec.load import HarmRule

__all__ = ["WINDOW_CHARS", "StreamHarm", "StreamHarmJudge"]

WINDOW_CHARS: Final = 4096
"""Characters of accumulated text kept before the newest chunk, per rule and stream."""


class _TextRule:
    """One rule judged on the accumulated text: its path (or none) and its regex."""

    __slots__ = ("pattern", "steps")

    def __init__(self, rule: HarmRule) -> None:
        assert rule.regex is not None
        self.pattern = re.compile(rule.regex)
        self.steps = None if rule.json_path is None else parse_json_path(rule.json_path).steps


class StreamHarmJudge:
    """The drill's rules compiled once; :meth:`stream` starts the state of one stream."""

    def __init__(self, rules: Iterable[HarmRule], max_body: int) -> None:
        rules = tuple(rules)
        self._matchers: list[Check] = compile_rules(rules)
        self._raw = [re.compile(r.regex) for r in rules if r.regex is not None]
        self._text_rules = [
            _TextRule(r)
            for r in rules
            if r.regex is not None
            and r.equals is None
            and r.status is None
            and r.header is None
            and r.latency_over is None
        ]
        self._window = max(1, min(WINDOW_CHARS, max_body))

    def stream(self, status: int, headers: Mapping[str, str]) -> StreamHarm:
        """The harm state of one stream answered with ``status`` and ``headers``."""
        return StreamHarm(self, status, headers)


class StreamHarm:
    """Per-stream state: one bounded window of accumulated text per text rule."""

    __slots__ = ("_headers", "_judge", "_status", "_tails")

    def __init__(self, judge: StreamHarmJudge, status: int, headers: Mapping[str, str]) -> None:
        self._judge = judge
        self._status = status
        self._headers = headers
        self._tails = [""] * len(judge._text_rules)

    def chunk(self, data: bytes, latency_ns: int) -> bool:
        """Judge one chunk (an event's data) arriving ``latency_ns`` after the request."""
        judge = self._judge
        answer = Answer(self._status, self._headers, data, latency_ns)
        harmful = self._status != 0 and first_match(judge._matchers, answer)
        doc = answer.doc()
        if not harmful and doc is MISSING:
            text = answer.text()
            harmful = any(p.search(text) is not None for p in judge._raw)
        window = judge._window
        for i, rule in enumerate(judge._text_rules):
            if rule.steps is None or doc is MISSING:
                added = answer.text()
            else:
                added = "".join(as_text(v) for v in select_all(doc, rule.steps))
            if not added:
                continue
            tail = self._tails[i]
            text = tail + added
            if not harmful:
                for match in rule.pattern.finditer(text):
                    if match.end() > len(tail):
                        harmful = True
                        break
            self._tails[i] = text[-window:]
        return harmful
