"""JSON paths: a small, strict subset of JSONPath, parsed once, evaluated in bounded work.

Grammar
-------
A path starts with ``$`` (the whole document) and goes on with any number of steps:

==============================  ===========================================================
step                            selects, from each value selected so far
==============================  ===========================================================
``.name``                       the object member ``name`` (``[A-Za-z_][A-Za-z0-9_]*``)
``['any key']`` ``["any key"]`` the object member of that name (escapes: ``\\'`` ``\\"``
                                ``\\\\``)
``[N]``                         the array element N (N >= 0)
``[*]`` or ``.*``               every element of an array, or every member value of an
                                object, in document order (a wildcard)
==============================  ===========================================================

Recursive descent (``..``), slices, unions, negative indexes and filters are refused with a
:class:`JsonPathError` naming the character where the path went wrong.

Semantics
---------
A path *selects* zero or more values of a decoded JSON document. A step that does not apply
to a value (a member name on an array, an index past the end, a wildcard on a string or a
number, anything on a body that is not JSON) selects nothing from it: never an error. A path
without wildcard selects at most one value (:attr:`JsonPath.single`); with wildcards it may
select many, e.g. ``$.choices[*].message.content`` selects the content of every choice of an
OpenAI answer with ``n > 1``. What *matching* a multi-valued path means is the caller's to
say; the harm rules say "any selected value" (:mod:`harness.judging`).

Bounds
------
Evaluation is iterative (no recursion, whatever the depth of the document) and lazy (it
stops at the first value the caller accepts). Each step descends one level, so every node of
the document is visited at most once: the work is at most the document's size, which the
load's body cap bounds.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Final

__all__ = [
    "MISSING",
    "JsonPath",
    "JsonPathError",
    "Step",
    "Wildcard",
    "parse_json_path",
    "resolve_one",
    "select_all",
]


class JsonPathError(ValueError):
    """A JSON path outside the supported subset; carries the expression and the position."""

    def __init__(self, expr: str, position: int, reason: str) -> None:
        self.expr = expr
        self.position = position
        self.reason = reason
        super().__init__(f"bad JSON path {expr!r} at character {position}: {reason}")


class Wildcard(enum.Enum):
    """The ``[*]`` step: every element of an array, every member value of an object."""

    ANY = "*"


Step = str | int | Wildcard
"""One step of a path: a member name, an array index, or the wildcard."""

MISSING: Final[Any] = object()
"""What :func:`resolve_one` returns when the path selects nothing (``None`` is JSON null)."""

_ANY: Final = Wildcard.ANY
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_INDEX = re.compile(r"\[(0|[1-9][0-9]*)\]")


@dataclass(frozen=True, slots=True)
class JsonPath:
    """A parsed path: its text as written and its steps."""

    text: str
    steps: tuple[Step, ...]

    @property
    def single(self) -> bool:
        """Whether the path selects at most one value (it has no wildcard)."""
        return _ANY not in self.steps

    def values(self, doc: Any) -> Iterator[Any]:
        """Every value the path selects in ``doc``, in document order, lazily."""
        if self.single:
            value = resolve_one(doc, self.steps)
            if value is not MISSING:
                yield value
        else:
            yield from select_all(doc, self.steps)

    def __str__(self) -> str:
        return self.text


def parse_json_path(expr: str) -> JsonPath:
    """Parse a path of the supported subset (see the module docstring).

    ``$`` has no step; ``$.a[0]['b c'][*]`` has ``("a", 0, "b c", Wildcard.ANY)``. Raises
    :class:`JsonPathError` (a ``ValueError``) naming the position for anything else.
    """
    if not isinstance(expr, str):
        raise JsonPathError(repr(expr), 0, "a JSON path must be a string")
    if not expr.startswith("$"):
        raise JsonPathError(expr, 0, "a JSON path starts with '$'")
    steps: list[Step] = []
    i, n = 1, len(expr)
    while i < n:
        c = expr[i]
        if c == ".":
            if expr.startswith("..", i):
                raise JsonPathError(expr, i, "recursive descent '..' is not supported")
            if expr.startswith(".*", i):
                steps.append(_ANY)
                i += 2
                continue
            m = _NAME.match(expr, i + 1)
            if m is None:
                raise JsonPathError(
                    expr,
                    i + 1,
                    "expected a member name [A-Za-z_][A-Za-z0-9_]* after '.' "
                    "(use ['...'] for other keys)",
                )
            steps.append(m.group())
            i = m.end()
        elif c == "[":
            if expr.startswith("[*]", i):
                steps.append(_ANY)
                i += 3
                continue
            if i + 1 < n and expr[i + 1] in "'\"":
                key, i = _parse_quoted_key(expr, i + 1)
                steps.append(key)
                continue
            m = _INDEX.match(expr, i)
            if m is None:
                raise JsonPathError(
                    expr,
                    i + 1,
                    "expected [N] (N >= 0), [*] or a quoted key ['...'] "
                    "(slices, unions, negative indexes and filters are not supported)",
                )
            steps.append(int(m.group(1)))
            i = m.end()
        else:
            raise JsonPathError(expr, i, f"unexpected {c!r}: expected '.' or '['")
    return JsonPath(expr, tuple(steps))


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


def resolve_one(doc: Any, steps: Sequence[Step]) -> Any:
    """The one value a wildcard-free path selects in ``doc``, or :data:`MISSING`.

    The judge's hot path: one loop, no allocation. ``doc`` :data:`MISSING` (a body that is
    not JSON) selects nothing whatever the steps.
    """
    value = doc
    for step in steps:
        if type(step) is int:
            if type(value) is not list or step >= len(value):
                return MISSING
        elif type(value) is not dict or step not in value:
            return MISSING
        value = value[step]
    return value


def select_all(doc: Any, steps: Sequence[Step]) -> Iterator[Any]:
    """Every value the steps (wildcards allowed) select in ``doc``, in document order.

    A stack of iterators, one per wildcard crossed: memory is the number of wildcards, the
    work at most one visit per node of ``doc``, and the caller may stop at any value.
    """
    if doc is MISSING:
        return
    n = len(steps)
    stack: list[tuple[Iterator[Any], int]] = [(iter((doc,)), 0)]
    while stack:
        children, i = stack[-1]
        value = next(children, MISSING)
        if value is MISSING:
            stack.pop()
            continue
        while i < n:
            step = steps[i]
            if step is _ANY:
                if type(value) is list:
                    stack.append((iter(value), i + 1))
                elif type(value) is dict:
                    stack.append((iter(value.values()), i + 1))
                break
            if type(step) is int:
                if type(value) is not list or step >= len(value):
                    break
            elif type(value) is not dict or step not in value:
                break
            value = value[step]
            i += 1
        else:
            yield value
