"""A fault proxy's rule as a drill writes it (``via: proxy``, ``rule: {...}``).

TEMPORARY stand-in written by the wiring helper of issue 16, with the contract's shape only:
the proxy helper's own ``harness/spec/proxy.py`` replaces this file at the merge.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator, model_validator

from harness.jsonpath import parse_json_path
from harness.spec._base import Frozen
from harness.spec.durations import Duration

__all__ = [
    "CONTROL_KINDS",
    "DATA_KINDS",
    "ErrorFault",
    "LatencyFault",
    "LieFault",
    "NoArgs",
    "ProxyRule",
    "RewriteFault",
]

DATA_KINDS = ("rewrite", "latency", "error", "reset", "drop")
"""The faults a rule can put on the data path (between the load and the target)."""
CONTROL_KINDS = ("latency", "drop", "refuse", "lie")
"""The faults a rule can put on a control path (between the harness and its endpoint)."""
_KINDS = ("rewrite", "latency", "error", "reset", "drop", "refuse", "lie")


class RewriteFault(Frozen):
    """Rewrite one JSON field of each touched answer: append text to it, or set it."""

    json_path: str
    append: str | None = None
    set_: Any = Field(default=None, alias="set")

    @field_validator("json_path")
    @classmethod
    def _parses(cls, v: str) -> str:
        parse_json_path(v)
        return v

    @model_validator(mode="after")
    def _one_change(self) -> RewriteFault:
        if (self.append is None) == ("set_" not in self.model_fields_set):
            raise ValueError("a rewrite needs exactly one of append or set")
        return self


class LatencyFault(Frozen):
    """Hold each touched answer (or control call) ``mean`` ± ``jitter``."""

    mean: Duration
    jitter: Duration = 0.0


class ErrorFault(Frozen):
    """Answer each touched request with this status instead of the target's answer."""

    status: int = Field(default=500, ge=400, le=599)


class LieFault(Frozen):
    """Answer each touched control call with this, never forwarding it."""

    status: int = Field(default=200, ge=100, le=599)
    body: Any = None


class NoArgs(Frozen):
    """A fault that takes no arguments (``reset: {}``, ``drop: {}``, ``refuse: {}``)."""


class ProxyRule(Frozen):
    """One fault of the proxy: exactly one kind, on the data path or (``control:``) on one
    http control path, touching a ``rate`` of what passes while it is on."""

    rewrite: RewriteFault | None = None
    latency: LatencyFault | None = None
    error: ErrorFault | None = None
    reset: NoArgs | None = None
    drop: NoArgs | None = None
    refuse: NoArgs | None = None
    lie: LieFault | None = None
    control: str | None = None
    """The http control path the rule sits on; unset: the data path (the load)."""
    rate: float = Field(default=1.0, ge=0.0, le=1.0)
    for_: Duration | None = Field(default=None, alias="for")
    """Switch off by itself this long after it was switched on."""

    @model_validator(mode="after")
    def _one_kind(self) -> ProxyRule:
        kinds = [k for k in _KINDS if getattr(self, k) is not None]
        if len(kinds) != 1:
            raise ValueError(
                "a proxy rule needs exactly one of " + ", ".join(_KINDS)
                + (f" (got {', '.join(kinds)})" if kinds else "")
            )  # fmt: skip
        kind = kinds[0]
        if self.control is None and kind not in DATA_KINDS:
            raise ValueError(f"{kind}: a control-path fault; name the path with control:")
        if self.control is not None and kind not in CONTROL_KINDS:
            raise ValueError(
                f"{kind}: a data-path fault cannot sit on a control path"
                f" (control: {self.control!r}; allowed there: {', '.join(CONTROL_KINDS)})"
            )
        return self

    @property
    def kind(self) -> str:
        """The rule's one fault kind (``rewrite``, ``latency``, ...)."""
        return next(k for k in _KINDS if getattr(self, k) is not None)
