"""A fault the proxy injects from outside the service: one :class:`ProxyRule`, validated once.

A rule is exactly one fault, and where it may apply:

============  =========  ===================================================================
fault         path       what the proxy does to an answer (or a request) the rule touches
============  =========  ===================================================================
``rewrite``   data       changes the answer: ``json_path`` + ``set`` (a JSON value) or
                         ``append`` (text appended to the selected string); ``append`` alone
                         appends text to the raw body. Content-Length is recomputed
``latency``   both       holds the request ``mean`` ± ``jitter`` (uniform) before forwarding
``error``     data       answers ``status`` itself; the service never sees the request
``reset``     data       resets the client's connection (TCP RST)
``drop``      both       never answers; the connection stays open until the client leaves
``refuse``    control    refuses every connection (the listener is closed): a partition
``lie``       control    answers ``status`` and ``body`` itself and never forwards
============  =========  ===================================================================

``rate`` is the fraction of requests touched, in [0, 1]; ``for`` switches the rule off by
itself after that long (the proxy stamps the moment). ``control`` names the control path a
control-path rule sits in front of; checking that the name exists is the drill loader's job.

The model travels to the proxy child as JSON (``model_dump_json(by_alias=True)``) and is
rebuilt there: keep this module to pydantic and pure harness modules.
"""

from __future__ import annotations

import enum
from typing import Annotated, Any, Final

from pydantic import Field, StrictInt, model_validator

from harness.spec._base import Frozen
from harness.spec.durations import Duration
from harness.spec.load import JsonPathText, JsonValue, StatusCode

__all__ = [
    "CONTROL_FAULTS",
    "DATA_FAULTS",
    "DropFault",
    "ErrorFault",
    "FaultKind",
    "LatencyFault",
    "LieFault",
    "ProxyRule",
    "RefuseFault",
    "ResetFault",
    "RewriteFault",
]


class FaultKind(enum.Enum):
    """The one fault a rule injects."""

    REWRITE = "rewrite"
    LATENCY = "latency"
    ERROR = "error"
    RESET = "reset"
    DROP = "drop"
    REFUSE = "refuse"
    LIE = "lie"


DATA_FAULTS: Final = frozenset(
    {FaultKind.REWRITE, FaultKind.LATENCY, FaultKind.ERROR, FaultKind.RESET, FaultKind.DROP}
)
"""Faults a rule on the load's path (no ``control:``) may inject."""
CONTROL_FAULTS: Final = frozenset(
    {FaultKind.LATENCY, FaultKind.DROP, FaultKind.REFUSE, FaultKind.LIE}
)
"""Faults a rule in front of a control path (``control:``) may inject."""


class RewriteFault(Frozen):
    """Change the answer: set the value at ``json_path``, or append text to it or the body."""

    json_path: JsonPathText | None = None
    append: str | None = None
    set_: JsonValue = Field(default=None, alias="set")

    @model_validator(mode="after")
    def _one_change(self) -> RewriteFault:
        has_set = "set_" in self.model_fields_set
        if has_set == (self.append is not None):
            raise ValueError("a rewrite needs exactly one of append or set")
        if has_set and self.json_path is None:
            raise ValueError("set needs json_path ($ for the whole document)")
        return self

    @property
    def sets(self) -> bool:
        """Whether the rewrite sets a value (else it appends text)."""
        return "set_" in self.model_fields_set


class LatencyFault(Frozen):
    """Hold each touched request ``mean`` ± ``jitter`` seconds (uniform, never below 0)."""

    mean: Duration
    jitter: Duration = 0.0


class ErrorFault(Frozen):
    """Answer ``status`` (4xx or 5xx) with ``body`` as text, without forwarding."""

    status: Annotated[StrictInt, Field(ge=400, le=599)]
    body: str = ""


class ResetFault(Frozen):
    """Reset the client's connection."""


class DropFault(Frozen):
    """Never answer."""


class RefuseFault(Frozen):
    """Refuse connections while the rule is on."""


class LieFault(Frozen):
    """Answer ``status`` with ``body`` (JSON; none when null) and never forward."""

    status: StatusCode = 200
    body: JsonValue = None


_FIELDS: Final = {kind: kind.value for kind in FaultKind}


class ProxyRule(Frozen):
    """One fault (exactly one field of :class:`FaultKind`), its rate, path and duration."""

    control: str | None = Field(default=None, min_length=1)
    rewrite: RewriteFault | None = None
    latency: LatencyFault | None = None
    error: ErrorFault | None = None
    reset: ResetFault | None = None
    drop: DropFault | None = None
    refuse: RefuseFault | None = None
    lie: LieFault | None = None
    rate: float = Field(default=1.0, ge=0.0, le=1.0)
    for_: Duration | None = Field(default=None, alias="for", gt=0)

    @model_validator(mode="after")
    def _one_fault(self) -> ProxyRule:
        given = [kind for kind, name in _FIELDS.items() if getattr(self, name) is not None]
        if len(given) != 1:
            names = ", ".join(k.value for k in FaultKind)
            found = ", ".join(k.value for k in given) or "none"
            raise ValueError(f"a proxy rule needs exactly one of {names} (found {found})")
        kind = given[0]
        if self.control is None and kind not in DATA_FAULTS:
            raise ValueError(f"{kind.value} is a control-path fault: it needs control: <path>")
        if self.control is not None and kind not in CONTROL_FAULTS:
            allowed = ", ".join(sorted(k.value for k in CONTROL_FAULTS))
            raise ValueError(
                f"{kind.value} is a data-path fault: a rule with control: may only be {allowed}"
            )
        if kind is FaultKind.REFUSE and self.rate != 1.0:
            raise ValueError("refuse closes the listener: it has no rate")
        return self

    @property
    def kind(self) -> FaultKind:
        """The fault this rule injects."""
        for kind, name in _FIELDS.items():
            if getattr(self, name) is not None:
                return kind
        raise AssertionError("unreachable: validated to have one fault")

    @property
    def fault(self) -> Any:
        """The fault's own settings (a :class:`RewriteFault`, :class:`LatencyFault`, ...)."""
        return getattr(self, _FIELDS[self.kind])
