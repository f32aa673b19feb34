"""Checks of the steps with a person in them: an operator stop, a contest, and their notifiers.

Each problem is located at the field that causes it, with a did-you-mean where a name is
close to a known one:

- ``stop.notify`` names a notifier of the drill's ``notify:`` map;
- ``stop.paths`` names control paths that can stop (their calls are the acknowledgement);
- ``stop.fallback`` and a contest's ``fallback`` are ladders of paths that can stop;
- ``stop.fallback_after`` (and a contest with a fallback) names a deadline the drill sets;
- a webhook or Alertmanager URL beyond loopback needs the drill's ``allow_remote: true``;
- an explicit ``max_duration`` must leave room for the longest wait on a person.

A contest's ``via`` is checked with every step's control path (the loader's general check:
an unknown path, or one without a ``contest`` call).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping

from harness.errors import Problem
from harness.spec._yaml import Located
from harness.spec.durations import format_duration
from harness.spec.models import Action, ControlPath, Drill
from harness.spec.notify import remote_notifier_problems

__all__ = ["operator_problems"]


def operator_problems(drill: Drill, located: Located) -> list[Problem]:
    """Every problem of the drill's operator stops, contests and notifiers."""
    problems: list[Problem] = []
    paths = drill.target.control_paths

    def problem(loc: tuple[str | int, ...], message: str, value: object = None) -> None:
        problems.append(Problem(located.file, located.line_of(loc), _dotted(loc), message, value))

    def names(
        loc: tuple[str | int, ...], given: Iterable[str], known: Mapping[str, object], what: str
    ) -> None:
        for j, name in enumerate(given):
            if name not in known:
                problem((*loc, j), f"unknown {what} {name!r}{_hint(name, known)}", name)

    def ladder(loc: tuple[str | int, ...], given: list[str]) -> None:
        names(loc, given, paths, "control path")
        for j, name in enumerate(given):
            path = paths.get(name)
            if path is not None and not path.supports(Action.STOP):
                problem((*loc, j), f"control path {name!r} ({path.kind}) cannot stop", name)

    for i, step in enumerate(drill.steps):
        where: tuple[str | int, ...] = ("steps", i)
        operator = step.operator
        if operator is not None:
            here = (*where, "stop")
            names((*here, "notify"), operator.notify, drill.notify, "notifier")
            names((*here, "paths"), operator.paths, paths, "control path")
            for j, name in enumerate(operator.paths):
                path = paths.get(name)
                if path is not None and not _can_stop(path):
                    problem(
                        (*here, "paths", j),
                        f"control path {name!r} ({path.kind}) has no stop call, so the operator"
                        " cannot stop through it",
                        name,
                    )
            ladder((*here, "fallback"), operator.fallback)
            if operator.fallback and drill.human_deadline_s(step) is None:
                problem(
                    (*here, "fallback_after"),
                    f"the fallback starts when deadline {operator.fallback_after!r} passes, but"
                    f" the drill sets no deadlines.{operator.fallback_after}",
                    operator.fallback_after,
                )
        if step.fallback is not None:
            ladder((*where, "fallback"), step.fallback)
            if step.fallback and drill.deadlines.reversal is None:
                problem(
                    (*where, "fallback"),
                    "a contest's fallback starts when the reversal deadline passes, but the"
                    " drill sets no deadlines.reversal",
                )
    for loc, message in remote_notifier_problems(drill.notify, allow_remote=drill.allow_remote):
        problem(("notify", *loc), message)
    problems.extend(_duration_problems(drill, located))
    return problems


def _duration_problems(drill: Drill, located: Located) -> list[Problem]:
    """An explicit max_duration that would end the drill before a person's deadline."""
    needed = drill.human_wait_s
    if "max_duration" not in drill.model_fields_set or drill.max_duration >= needed:
        return []
    loc = ("max_duration",)
    return [
        Problem(
            located.file,
            located.line_of(loc),
            "max_duration",
            f"{format_duration(drill.max_duration)} ends the drill before a step with a person"
            f" in it can reach its deadline and fallback; give at least"
            f" {format_duration(needed)} or leave max_duration unset to derive it",
            drill.max_duration,
        )
    ]


def _can_stop(path: ControlPath) -> bool:
    return path.supports(Action.STOP)


def _hint(name: str, known: Mapping[str, object]) -> str:
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    if close:
        return f"; did you mean {close[0]!r}?"
    return f" (known: {', '.join(known) or 'none'})"


def _dotted(loc: tuple[str | int, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else ("." if out else "") + str(part)
    return out
