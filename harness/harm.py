"""Judging one answer of the load: harmful or not, the state it shows, the version that gave it.

Pure and fast, importable from both the harness and the load child (it imports nothing
outside the standard library and :mod:`harness.observations`).

Harm rules
----------
A drill lists :class:`HarmRuleSpec` rules. A rule matches when **all** of the fields it gives
match; an answer is harmful when **any** rule matches. Only an HTTP answer can be harmful: a
refused, reset or timed-out request never is. A rule with no field at all is invalid.

==================  ==============================================================================
field               matches when
==================  ==============================================================================
``status``          the HTTP status is one of the listed codes
``json_path``       the body parses as JSON and the path resolves (a missing key, an index out of
                    range or a non-JSON body never match). Alone, "the path exists".
``regex``           with ``json_path``: ``re.search`` finds it in the value at the path, taken as a
                    string (a JSON string as is; any other value as compact JSON, e.g. ``true``,
                    ``3``, ``{"a":1}``). Without ``json_path``: found in the whole body, decoded as
                    UTF-8 (undecodable bytes replaced).
``equals``          the value at ``json_path`` (the whole JSON document without ``json_path``)
                    equals this value after JSON decoding (``1 == 1.0``; ``True`` is not ``1``).
``header``          the response carries this header (name case-insensitive). Alone, "present".
``header_regex``    ``re.search`` finds it in that header's value (needs ``header``).
``latency_over_s``  the request took longer than this many seconds (start to body read).
==================  ==============================================================================

Headers are passed to the judging functions as a ``Mapping[str, str]`` that is looked up with
**lower-case** names: give either a case-insensitive mapping or one with lower-case keys.

JSON paths
----------
A small, strict subset (:func:`parse_json_path`): ``$`` (the document), ``.name`` (an object
member whose name is ``[A-Za-z_][A-Za-z0-9_]*``), ``['any key']`` or ``["any key"]`` (with
``\\'``, ``\\"`` and ``\\\\`` escapes) and ``[N]`` (a list element, N >= 0). Wildcards, recursive
descent, slices, negative indexes and filters are rejected with :class:`JsonPathError`.
"""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from harness.observations import MAX_VERSION_CHARS, State

__all__ = [
    "AnswerJudge",
    "Failure",
    "HarmJudge",
    "HarmRuleError",
    "HarmRuleSpec",
    "JsonPathError",
    "SafeStateSpec",
    "VersionExtractor",
    "VersionSpec",
    "classify_state",
    "compile_harm",
    "compile_judge",
    "compile_version",
    "extract_version",
    "parse_json_path",
    "resolve_json_path",
]

HarmJudge = Callable[[int, Mapping[str, str], bytes, int], bool]
"""``(status, headers, body, latency_ns) -> harmful``, as returned by :func:`compile_harm`."""

VersionExtractor = Callable[[Mapping[str, str], bytes], str]
"""``(headers, body) -> version``, as returned by :func:`compile_version`."""

AnswerJudge = Callable[[int, Mapping[str, str], bytes, int], tuple[bool, str]]
"""``(status, headers, body, latency_ns) -> (harmful, version)``, from :func:`compile_judge`."""


# --------------------------------------------------------------------------- errors


class JsonPathError(ValueError):
    """A JSON path outside the supported subset; carries the expression and the position."""

    def __init__(self, expr: str, position: int, reason: str) -> None:
        self.expr = expr
        self.position = position
        self.reason = reason
        super().__init__(f"bad JSON path {expr!r} at character {position}: {reason}")


class HarmRuleError(ValueError):
    """An invalid harm, safe-state or version rule; carries the field, the value and why."""

    def __init__(self, field: str, value: object, reason: str) -> None:
        self.field = field
        self.value = value
        self.reason = reason
        super().__init__(f"{field}: {reason} (got {value!r})")


# --------------------------------------------------------------------------- JSON paths

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_INDEX = re.compile(r"\[(0|[1-9][0-9]*)\]")
_MISSING: Final = object()


def parse_json_path(expr: str) -> tuple[str | int, ...]:
    """Parse a JSON path of the supported subset into its steps (names and list indexes).

    ``$`` gives ``()``; ``$.a[0]['b c']`` gives ``("a", 0, "b c")``. Raises
    :class:`JsonPathError` (a ``ValueError``) naming the position for anything else.
    """
    if not isinstance(expr, str):
        raise JsonPathError(repr(expr), 0, "a JSON path must be a string")
    if not expr.startswith("$"):
        raise JsonPathError(expr, 0, "a JSON path starts with '$'")
    steps: list[str | int] = []
    i, n = 1, len(expr)
    while i < n:
        c = expr[i]
        if c == ".":
            if expr.startswith("..", i):
                raise JsonPathError(expr, i, "recursive descent '..' is not supported")
            m = _NAME.match(expr, i + 1)
            if m is None:
                if i + 1 < n and expr[i + 1] == "*":
                    raise JsonPathError(expr, i + 1, "wildcards are not supported")
                raise JsonPathError(
                    expr,
                    i + 1,
                    "expected a member name [A-Za-z_][A-Za-z0-9_]* after '.' "
                    "(use ['...'] for other keys)",
                )
            steps.append(m.group())
            i = m.end()
        elif c == "[":
            if i + 1 < n and expr[i + 1] in "'\"":
                key, i = _parse_quoted_key(expr, i + 1)
                steps.append(key)
                continue
            m = _INDEX.match(expr, i)
            if m is None:
                raise JsonPathError(
                    expr,
                    i + 1,
                    "expected a non-negative index [N] or a quoted key ['...'] "
                    "(slices, wildcards, negative indexes and filters are not supported)",
                )
            steps.append(int(m.group(1)))
            i = m.end()
        else:
            raise JsonPathError(expr, i, f"unexpected {c!r}: expected '.' or '['")
    return tuple(steps)


def _parse_quoted_key(expr: str, i: int) -> tuple[str, int]:
    """Parse ``'key']`` starting at the quote at ``i``; return the key and the index after ']'."""
    quote = expr[i]
    chars: list[str] = []
    j, n = i + 1, len(expr)
    while j < n:
        c = expr[j]
        if c == "\\":
            if j + 1 >= n or expr[j + 1] not in "'\"\\":
                raise JsonPathError(expr, j, "only \\' \\\" and \\\\ escapes are supported")
            chars.append(expr[j + 1])
            j += 2
        elif c == quote:
            if j + 1 >= n or expr[j + 1] != "]":
                raise JsonPathError(expr, j + 1, "expected ']' after the quoted key")
            return "".join(chars), j + 2
        else:
            chars.append(c)
            j += 1
    raise JsonPathError(expr, i, "unterminated quoted key")


def resolve_json_path(doc: Any, steps: Sequence[str | int]) -> Any:
    """Return the value at ``steps`` in a decoded JSON document, or raise ``LookupError``."""
    value = _resolve(doc, steps)
    if value is _MISSING:
        raise LookupError(f"no value at {list(steps)!r}")
    return value


def _resolve(doc: Any, steps: Sequence[str | int]) -> Any:
    value = doc
    for step in steps:
        if isinstance(step, int):
            if type(value) is not list or step >= len(value):
                return _MISSING
        elif type(value) is not dict or step not in value:
            return _MISSING
        value = value[step]
    return value


def _as_text(value: Any) -> str:
    """A JSON value as the text a regex is applied to."""
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _json_equal(a: Any, b: Any) -> bool:
    """JSON equality: numbers compare by value, but booleans are not numbers."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, list) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(_json_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_json_equal(a[k], b[k]) for k in a)
    return bool(a == b)


# --------------------------------------------------------------------------- rule specs


@dataclass(frozen=True, slots=True)
class HarmRuleSpec:
    """One declarative harm rule (see the module docstring for the semantics of each field).

    Validated on construction: raises :class:`HarmRuleError` naming the bad field.
    """

    status: tuple[int, ...] | None = None
    json_path: str | None = None
    regex: str | None = None
    equals: Any | None = None
    header: str | None = None
    header_regex: str | None = None
    latency_over_s: float | None = None

    def __post_init__(self) -> None:
        if all(
            v is None
            for v in (
                self.status,
                self.json_path,
                self.regex,
                self.equals,
                self.header,
                self.header_regex,
                self.latency_over_s,
            )
        ):
            raise HarmRuleError("harm", {}, "a harm rule needs at least one field")
        if self.status is not None:
            if isinstance(self.status, int) and not isinstance(self.status, bool):
                object.__setattr__(self, "status", (self.status,))
            elif not isinstance(self.status, tuple | list) or not self.status:
                raise HarmRuleError("status", self.status, "expected a non-empty list of codes")
            else:
                object.__setattr__(self, "status", tuple(self.status))
            for code in self.status or ():
                if isinstance(code, bool) or not isinstance(code, int) or not 100 <= code <= 599:
                    raise HarmRuleError("status", self.status, "HTTP codes are integers 100..599")
        if self.json_path is not None:
            try:
                parse_json_path(self.json_path)
            except JsonPathError as e:
                raise HarmRuleError("json_path", self.json_path, str(e)) from e
        _check_regex("regex", self.regex)
        _check_regex("header_regex", self.header_regex)
        if self.header is not None and (not isinstance(self.header, str) or not self.header):
            raise HarmRuleError("header", self.header, "expected a header name")
        if self.header_regex is not None and self.header is None:
            raise HarmRuleError("header_regex", self.header_regex, "needs 'header'")
        if self.latency_over_s is not None and (
            isinstance(self.latency_over_s, bool)
            or not isinstance(self.latency_over_s, int | float)
            or self.latency_over_s < 0
        ):
            raise HarmRuleError("latency_over_s", self.latency_over_s, "expected seconds >= 0")
        if self.equals is not None:
            try:
                json.dumps(self.equals)
            except (TypeError, ValueError) as e:
                raise HarmRuleError("equals", self.equals, "must be a JSON value") from e


def _check_regex(field: str, pattern: str | None) -> None:
    if pattern is None:
        return
    if not isinstance(pattern, str):
        raise HarmRuleError(field, pattern, "expected a regular expression string")
    try:
        re.compile(pattern)
    except re.error as e:
        raise HarmRuleError(field, pattern, f"invalid regular expression: {e}") from e


@dataclass(frozen=True, slots=True)
class SafeStateSpec:
    """Which answers mean the service is halted in a safe state (``State.STOPPED``)."""

    statuses: tuple[int, ...] = (503,)
    connection_refused: bool = True
    connection_reset: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.statuses, tuple | list):
            raise HarmRuleError("safe_state.statuses", self.statuses, "expected a list of codes")
        object.__setattr__(self, "statuses", tuple(self.statuses))
        for code in self.statuses:
            if isinstance(code, bool) or not isinstance(code, int) or not 100 <= code <= 599:
                raise HarmRuleError(
                    "safe_state.statuses", self.statuses, "HTTP codes are integers 100..599"
                )


@dataclass(frozen=True, slots=True)
class VersionSpec:
    """Where an answer says which model version produced it: a header, else a JSON path."""

    header: str | None = "X-Model-Version"
    json_path: str | None = None

    def __post_init__(self) -> None:
        if self.json_path is not None:
            try:
                parse_json_path(self.json_path)
            except JsonPathError as e:
                raise HarmRuleError("version.json_path", self.json_path, str(e)) from e


# --------------------------------------------------------------------------- state


class Failure(enum.Enum):
    """Why a request got no HTTP answer."""

    CONNECTION_REFUSED = "refused"
    """Nothing listens: the connect was refused."""
    CONNECTION_RESET = "reset"
    """The connection was reset, or closed by the server before a complete answer."""
    TIMEOUT = "timeout"
    """No complete answer within the load's timeout."""
    PROTOCOL = "protocol"
    """Anything else: an unparsable answer, an unexpected socket error."""


def classify_state(status: int, failure: Failure | None, safe_state: SafeStateSpec) -> State:
    """Return the state one answer puts the service in, under the drill's safe-state rule.

    Refused or reset without an answer: ``STOPPED`` when the rule says so; a status listed as
    safe: ``STOPPED``; 2xx: ``SERVING``; everything else (timeouts, other statuses, garbage):
    ``ERROR``.
    """
    if failure is not None:
        if failure is Failure.CONNECTION_REFUSED and safe_state.connection_refused:
            return State.STOPPED
        if failure is Failure.CONNECTION_RESET and safe_state.connection_reset:
            return State.STOPPED
        return State.ERROR
    if status in safe_state.statuses:
        return State.STOPPED
    if 200 <= status < 300:
        return State.SERVING
    return State.ERROR


# --------------------------------------------------------------------------- the answer


class _Answer:
    """One HTTP answer with its body decoded lazily, at most once, and only if a check asks."""

    __slots__ = ("_doc", "_text", "body", "headers", "latency_ns", "status")

    def __init__(self, status: int, headers: Mapping[str, str], body: bytes, latency_ns: int):
        self.status = status
        self.headers = headers
        self.body = body
        self.latency_ns = latency_ns
        self._doc: Any = _UNPARSED
        self._text: str | None = None

    def doc(self) -> Any:
        """The body as JSON, or ``_MISSING`` when it is not JSON."""
        doc = self._doc
        if doc is _UNPARSED:
            try:
                doc = json.loads(self.body)
            except (ValueError, RecursionError):  # also UnicodeDecodeError; deep nesting
                doc = _MISSING
            self._doc = doc
        return doc

    def text(self) -> str:
        """The body as text, undecodable bytes replaced."""
        text = self._text
        if text is None:
            text = self._text = self.body.decode("utf-8", errors="replace")
        return text


_UNPARSED: Final = object()

_Check = Callable[[_Answer], bool]


# --------------------------------------------------------------------------- harm


def compile_harm(rules: Iterable[HarmRuleSpec]) -> HarmJudge:
    """Resolve the rules once into ``(status, headers, body, latency_ns) -> harmful``.

    Regexes are compiled and paths parsed here, so the returned function only runs a list of
    small checks; cheap checks (status, latency, headers) run before ones that read the body,
    and the body is decoded at most once per answer. ``status`` 0 (no answer) is never harmful.
    """
    matchers = _compile_rules(rules)
    if not matchers:
        return _never_harmful

    def judge(status: int, headers: Mapping[str, str], body: bytes, latency_ns: int) -> bool:
        if status == 0:
            return False
        answer = _Answer(status, headers, body, latency_ns)
        return any(m(answer) for m in matchers)

    return judge


def compile_judge(rules: Iterable[HarmRuleSpec], version: VersionSpec) -> AnswerJudge:
    """Resolve harm and version rules once into ``(status, headers, body, latency_ns) ->
    (harmful, version)``, decoding the body at most once for both.

    This is what the load runs per answer; it agrees with :func:`compile_harm` and
    :func:`compile_version` used separately. ``status`` 0 gives ``(False, "")``.
    """
    matchers = _compile_rules(rules)
    version_of = _compile_version(version)

    def judge(
        status: int, headers: Mapping[str, str], body: bytes, latency_ns: int
    ) -> tuple[bool, str]:
        if status == 0:
            return False, ""
        answer = _Answer(status, headers, body, latency_ns)
        return any(m(answer) for m in matchers), version_of(answer)

    return judge


def _never_harmful(status: int, headers: Mapping[str, str], body: bytes, latency_ns: int) -> bool:
    return False


def _compile_rules(rules: Iterable[HarmRuleSpec]) -> list[_Check]:
    matchers: list[_Check] = []
    for rule in rules:
        checks = _compile_rule(rule)
        if len(checks) == 1:
            matchers.append(checks[0])
        else:
            matchers.append(_all_of(tuple(checks)))
    return matchers


def _all_of(checks: tuple[_Check, ...]) -> _Check:
    def all_match(answer: _Answer) -> bool:
        return all(check(answer) for check in checks)

    return all_match


def _compile_rule(rule: HarmRuleSpec) -> list[_Check]:
    """The checks of one rule, cheapest first."""
    checks: list[_Check] = []
    if rule.status is not None:
        checks.append(_status_in(frozenset(rule.status)))
    if rule.latency_over_s is not None:
        checks.append(_latency_over(round(rule.latency_over_s * 1e9)))
    if rule.header is not None:
        name = rule.header.lower()
        if rule.header_regex is None:
            checks.append(_header_present(name))
        else:
            checks.append(_header_search(name, re.compile(rule.header_regex)))
    steps = parse_json_path(rule.json_path) if rule.json_path is not None else ()
    if rule.json_path is not None and rule.regex is None and rule.equals is None:
        checks.append(_path_exists(steps))
    if rule.equals is not None:
        checks.append(_path_equals(steps, rule.equals))
    if rule.regex is not None:
        pattern = re.compile(rule.regex)
        if rule.json_path is not None:
            checks.append(_path_search(steps, pattern))
        else:
            checks.append(_body_search(pattern))
    return checks


def _status_in(codes: frozenset[int]) -> _Check:
    def status_in(answer: _Answer) -> bool:
        return answer.status in codes

    return status_in


def _latency_over(limit_ns: int) -> _Check:
    def latency_over(answer: _Answer) -> bool:
        return answer.latency_ns > limit_ns

    return latency_over


def _header_present(name: str) -> _Check:
    def header_present(answer: _Answer) -> bool:
        return answer.headers.get(name) is not None

    return header_present


def _header_search(name: str, pattern: re.Pattern[str]) -> _Check:
    def header_search(answer: _Answer) -> bool:
        value = answer.headers.get(name)
        return value is not None and pattern.search(value) is not None

    return header_search


def _path_exists(steps: tuple[str | int, ...]) -> _Check:
    def path_exists(answer: _Answer) -> bool:
        return _resolve(answer.doc(), steps) is not _MISSING

    return path_exists


def _path_equals(steps: tuple[str | int, ...], expected: Any) -> _Check:
    def path_equals(answer: _Answer) -> bool:
        value = _resolve(answer.doc(), steps)
        return value is not _MISSING and _json_equal(value, expected)

    return path_equals


def _path_search(steps: tuple[str | int, ...], pattern: re.Pattern[str]) -> _Check:
    def path_search(answer: _Answer) -> bool:
        value = _resolve(answer.doc(), steps)
        return value is not _MISSING and pattern.search(_as_text(value)) is not None

    return path_search


def _body_search(pattern: re.Pattern[str]) -> _Check:
    def body_search(answer: _Answer) -> bool:
        return pattern.search(answer.text()) is not None

    return body_search


# --------------------------------------------------------------------------- version


def compile_version(spec: VersionSpec) -> VersionExtractor:
    """Resolve the version rule once into ``(headers, body) -> version`` ("" when unknown).

    The header wins when both are given and the header is present. Newlines and carriage
    returns become spaces and the result is cut to :data:`MAX_VERSION_CHARS`, so a version
    can always travel on one observation line.
    """
    version_of = _compile_version(spec)

    def extract(headers: Mapping[str, str], body: bytes) -> str:
        return version_of(_Answer(0, headers, body, 0))

    return extract


def extract_version(spec: VersionSpec, headers: Mapping[str, str], body: bytes) -> str:
    """Return which model version produced an answer ("" when it does not say)."""
    return compile_version(spec)(headers, body)


def _compile_version(spec: VersionSpec) -> Callable[[_Answer], str]:
    header = spec.header.lower() if spec.header is not None else None
    steps = parse_json_path(spec.json_path) if spec.json_path is not None else None

    def from_header(answer: _Answer) -> str:
        value = answer.headers.get(header) if header is not None else None
        return _clean_version(value) if value else ""

    def from_body(answer: _Answer) -> str:
        found = _resolve(answer.doc(), steps) if steps is not None else _MISSING
        if found is _MISSING or found is None:
            return ""
        return _clean_version(_as_text(found))

    def from_header_else_body(answer: _Answer) -> str:
        return from_header(answer) or from_body(answer)

    if header is not None and steps is not None:
        return from_header_else_body
    if header is not None:
        return from_header
    if steps is not None:
        return from_body
    return _no_version


def _no_version(answer: _Answer) -> str:
    return ""


def _clean_version(value: str) -> str:
    if "\n" in value or "\r" in value:
        value = value.replace("\r", " ").replace("\n", " ")
    return value[:MAX_VERSION_CHARS]
