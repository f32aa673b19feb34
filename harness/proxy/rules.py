"""The rules switched on in a proxy, what each decides for one request, and their counts.

Pure: no sockets, no clock. The relay asks :meth:`ActiveRules.plan` once per request and
reports back what happened to the rewrites it was given. For every rule on at that moment,
``seen`` counts the request; a rule whose ``rate`` draw hits then either ``touched`` it or,
when it could not apply (a ``json_path`` on an answer that is not JSON, an answer too large
or streamed), counts it ``unmatched``. When two rules both want to end a request (reset,
drop, error, lie), the one switched on first wins; the other only saw it.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from harness.jsonpath import JsonPath, Wildcard, parse_json_path
from harness.spec.proxy import FaultKind, ProxyRule, RewriteFault

__all__ = ["ActiveRules", "Counter", "Plan", "RewriteFailed", "apply_rewrite"]

_TERMINAL = frozenset({FaultKind.RESET, FaultKind.DROP, FaultKind.ERROR, FaultKind.LIE})


class RewriteFailed(ValueError):
    """The rewrite does not apply to this answer (not JSON, nothing at the path, ...)."""


@dataclass(slots=True)
class Counter:
    """How many requests a rule saw while on, touched, and could not apply to."""

    seen: int = 0
    touched: int = 0
    unmatched: int = 0

    def as_dict(self) -> dict[str, int]:
        """The counts as the events log and the control channel write them."""
        return {"touched": self.touched, "seen": self.seen, "unmatched": self.unmatched}


@dataclass(slots=True)
class _Rule:
    name: str
    rule: ProxyRule
    counter: Counter
    path: JsonPath | None


@dataclass(slots=True)
class Plan:
    """What the relay does with one request."""

    delay_s: float = 0.0
    end: tuple[FaultKind, ProxyRule, Counter] | None = None
    """A fault that answers (or refuses to answer) instead of the service."""
    rewrites: list[tuple[RewriteFault, JsonPath | None, Counter]] = field(default_factory=list)


_NO_FAULT = Plan()


class ActiveRules:
    """The rules on now, in the order they were switched on, with every rule's counts."""

    def __init__(self, rng: random.Random | None = None) -> None:
        self._on: dict[str, _Rule] = {}
        self.counts: dict[str, Counter] = {}
        """Every rule ever switched on, by name; counts add up over its on-periods."""
        self._random = (rng or random.Random()).random

    def __bool__(self) -> bool:
        return bool(self._on)

    def enable(self, name: str, rule: ProxyRule) -> None:
        """Switch ``rule`` on as ``name`` (replacing a rule of that name that is on)."""
        self._on.pop(name, None)
        counter = self.counts.setdefault(name, Counter())
        path = None
        if rule.rewrite is not None and rule.rewrite.json_path is not None:
            path = parse_json_path(rule.rewrite.json_path)
        self._on[name] = _Rule(name, rule, counter, path)

    def disable(self, name: str) -> bool:
        """Switch ``name`` off; False when it was not on."""
        return self._on.pop(name, None) is not None

    def names_on(self) -> list[str]:
        """The names of the rules on now."""
        return list(self._on)

    def refusing(self) -> bool:
        """Whether a rule that refuses connections is on."""
        return any(r.rule.refuse is not None for r in self._on.values())

    def plan(self) -> Plan:
        """Decide, for one request, what every rule on does to it (and count it seen)."""
        if not self._on:
            return _NO_FAULT
        plan = Plan()
        draw = self._random
        for r in self._on.values():
            rule = r.rule
            kind = rule.kind
            if kind is FaultKind.REFUSE:
                continue  # acts on connections, not requests
            r.counter.seen += 1
            if rule.rate < 1.0 and draw() >= rule.rate:
                continue
            if kind is FaultKind.LATENCY:
                assert rule.latency is not None
                mean, jitter = rule.latency.mean, rule.latency.jitter
                spread = (draw() * 2.0 - 1.0) * jitter if jitter else 0.0
                plan.delay_s += max(0.0, mean + spread)
                r.counter.touched += 1
            elif kind in _TERMINAL:
                if plan.end is None:
                    plan.end = (kind, rule, r.counter)
                    r.counter.touched += 1
            elif kind is FaultKind.REWRITE:
                assert rule.rewrite is not None
                plan.rewrites.append((rule.rewrite, r.path, r.counter))
        return plan


def apply_rewrite(body: bytes, rewrite: RewriteFault, path: JsonPath | None) -> bytes:
    """The body after ``rewrite``; raises :class:`RewriteFailed` when it does not apply."""
    if path is None:
        assert rewrite.append is not None
        return body + rewrite.append.encode()
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError):
        raise RewriteFailed("the answer is not JSON") from None
    sets, new_value, suffix = rewrite.sets, rewrite.set_, rewrite.append or ""

    def change(old: Any) -> Any:
        if sets:
            return new_value
        if not isinstance(old, str):
            raise RewriteFailed("append needs a string at the path")
        return old + suffix

    if not path.steps:
        doc = change(doc)
    elif _replace(doc, path.steps, change) == 0:
        raise RewriteFailed(f"{path.text} selects nothing in the answer")
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()


def _replace(doc: Any, steps: tuple[Any, ...], change: Callable[[Any], Any]) -> int:
    """Replace every value ``steps`` selects in ``doc`` by ``change(value)``; how many."""
    parents = [doc]
    for step in steps[:-1]:
        parents = [child for p in parents for child in _children(p, step)]
    last = steps[-1]
    replaced = 0
    for p in parents:
        for key in _keys(p, last):
            p[key] = change(p[key])
            replaced += 1
    return replaced


def _keys(value: Any, step: Any) -> list[Any]:
    if step is Wildcard.ANY:
        if isinstance(value, list):
            return list(range(len(value)))
        return list(value) if isinstance(value, dict) else []
    if isinstance(step, int):
        return [step] if isinstance(value, list) and step < len(value) else []
    return [step] if isinstance(value, dict) and step in value else []


def _children(value: Any, step: Any) -> list[Any]:
    return [value[k] for k in _keys(value, step)]
