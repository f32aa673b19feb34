"""Putting back what a drill changed in a service the harness does not own (``external``).

The harness cannot end such a service at teardown, and must not: it belongs to someone else.
So teardown restores the state the drill found instead. The steps know what the drill
changed (:class:`RestorePlan`): incidents it switched on and did not clear, and a stop that
no later resume undid. :func:`perform_restore` clears those incidents first (so the service
does not come back with the fault on), then resumes through the stop's own control paths.
Every action is a real control call bounded by its path's timeout, and every one is
reported: a restore that fails says the service was left stopped or with an incident on.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass

from harness.control import CallOutcome, ControlBackend
from harness.spec.models import Action, Target

__all__ = ["RestoreAction", "RestoreKind", "RestorePlan", "Restored", "perform_restore"]


class RestoreKind(enum.StrEnum):
    """What one restore action puts back."""

    CLEAR_INCIDENT = "clear_incident"
    """Switch off an incident the drill switched on and did not clear."""
    RESUME = "resume"
    """Resume a service the drill stopped and did not resume."""


@dataclass(frozen=True, slots=True)
class RestorePlan:
    """What a drill changed and left changed, as its steps ended."""

    incidents_on: tuple[str, ...] = ()
    """Incidents an inject step fired for (its call may have taken effect even when it
    failed or timed out) with no clear after it."""
    stopped_via: tuple[str, ...] = ()
    """The control paths of the last stop's issued rungs, in the order they were climbed,
    when no resume step succeeded after it; () when the service was not left stopped."""

    @property
    def empty(self) -> bool:
        """Whether the drill left nothing to put back."""
        return not self.incidents_on and not self.stopped_via


@dataclass(frozen=True, slots=True)
class RestoreAction:
    """One thing teardown did (or could not do) to put the service back."""

    kind: RestoreKind
    name: str
    """The incident cleared, or the control path resumed through."""
    outcome: CallOutcome | None
    """How the call ended; None when there was no call to make (no disable, no resume)."""
    detail: str
    issued_ns: int | None = None
    returned_ns: int | None = None

    @property
    def ok(self) -> bool:
        """Whether the service acknowledged the restore."""
        return self.outcome is CallOutcome.ACKED

    def to_event(self) -> dict[str, object]:
        """The action as the timeline records it."""
        return {
            "kind": self.kind.value,
            "name": self.name,
            "outcome": None if self.outcome is None else self.outcome.value,
            "detail": self.detail,
            "t_ns": self.returned_ns,
        }


@dataclass(frozen=True, slots=True)
class Restored:
    """What teardown did to put the service back, and what it may have left changed."""

    actions: tuple[RestoreAction, ...]
    left: tuple[str, ...]
    """In words, each change not undone: an incident whose clear was not acknowledged, a stop
    no resume was acknowledged for; () when the service was put back as the drill found it."""


def perform_restore(
    plan: RestorePlan,
    *,
    target: Target,
    backends: Mapping[str, ControlBackend],
    hooks: Mapping[str, ControlBackend],
) -> Restored:
    """Clear ``plan``'s incidents, then resume through each of its stop's paths that can
    resume (the last climbed first); one action per attempt, failures included."""
    actions: list[RestoreAction] = []
    for name in plan.incidents_on:
        if not target.incidents[name].clearable:
            actions.append(
                RestoreAction(RestoreKind.CLEAR_INCIDENT, name, None, "the incident has no disable")
            )
            continue
        actions.append(_called(RestoreKind.CLEAR_INCIDENT, name, hooks[name], Action.CLEAR))
    resumable = [p for p in dict.fromkeys(plan.stopped_via) if _can_resume(target, p)]
    if plan.stopped_via and not resumable:
        actions.append(
            RestoreAction(
                RestoreKind.RESUME,
                plan.stopped_via[-1],
                None,
                "no control path of the stop has a resume: "
                + ", ".join(dict.fromkeys(plan.stopped_via)),
            )
        )
    for path in reversed(resumable):
        actions.append(_called(RestoreKind.RESUME, path, backends[path], Action.RESUME))
    return Restored(tuple(actions), _left_changed(plan, tuple(actions)))


def _left_changed(plan: RestorePlan, actions: tuple[RestoreAction, ...]) -> tuple[str, ...]:
    left = [
        f"incident {a.name!r} may still be on ({a.detail or a.outcome})"
        for a in actions
        if a.kind is RestoreKind.CLEAR_INCIDENT and not a.ok
    ]
    resumes = [a for a in actions if a.kind is RestoreKind.RESUME]
    if plan.stopped_via and not any(a.ok for a in resumes):
        why = "; ".join(f"{a.name}: {a.detail or a.outcome}" for a in resumes)
        left.append(f"the service may still be stopped ({why})")
    return tuple(left)


def _can_resume(target: Target, path: str) -> bool:
    declared = target.control_paths.get(path)
    return declared is not None and declared.supports(Action.RESUME)


def _called(kind: RestoreKind, name: str, backend: ControlBackend, action: Action) -> RestoreAction:
    result = backend.call(action).result()  # bounded by the path's timeout
    return RestoreAction(
        kind, name, result.outcome, result.detail, result.issued_ns, result.returned_ns
    )
