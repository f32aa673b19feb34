"""What a drill on the ``external`` sandbox may not do: anything that needs to own the
service's life.

The harness attaches to an external service; it did not start its process and holds no
container of it. So a signal rung (there is no process of the harness's to signal, and a pid
seen on the port is not proof of whose it is), a docker or compose path, and an incident
through one of those are refused at validation, each at the step and rung that names it.
Docker and compose paths are already refused for every sandbox other than their own (the
loader's general check names the sandbox); this module adds what is particular to external.
Against an ``https`` service, an http control path with no base_url of its own is refused too:
it would call the service's host and port in plain HTTP, its token in clear.
"""

from __future__ import annotations

from harness.errors import Problem
from harness.sandbox_kind import SandboxKind
from harness.spec._yaml import Located
from harness.spec.models import Action, Drill

__all__ = ["OWNING_KINDS", "external_problems"]

OWNING_KINDS = ("signal", "docker", "compose")
"""Control path kinds that act on a process or container the harness must own."""


def external_problems(drill: Drill, located: Located) -> list[Problem]:
    """Every step of ``drill`` that would act on the life of an external service, as a
    problem at that step's rung (``steps[1].stop[2]``); none when the drill runs elsewhere."""
    if (
        drill.resolved_sandbox is not SandboxKind.EXTERNAL
        or SandboxKind.EXTERNAL not in drill.target.sandboxes  # the loader says so
    ):
        return []
    paths = drill.target.control_paths
    ids = drill.step_ids()
    https = drill.target.external_spec().base_url.lower().startswith("https:")
    problems: list[Problem] = []
    for i, step in enumerate(drill.steps):
        action = step.action
        for j, name in enumerate(step.control_paths()):
            path = paths.get(name)
            loc: tuple[str | int, ...] = ("steps", i, action.value)
            loc = (*loc, j) if action is Action.STOP else loc
            rung = f", rung {j + 1}" if action is Action.STOP else ""
            if https and path is not None and path.http is not None and not path.http.base_url:
                # A path without its own base_url calls the target's host and port in plain
                # HTTP: against an https service its token would go in clear.
                problems.append(
                    Problem(
                        located.file,
                        located.line_of(loc),
                        _dotted(loc),
                        f"step {ids[i]!r}{rung}: control path {name!r} has no base_url of its"
                        " own, so it would call the https external service in plain HTTP; give"
                        " it base_url: https://...",
                        value=name,
                    )
                )
            if path is None or path.kind != "signal":
                continue  # unknown names, docker and compose: the loader's own checks say so
            problems.append(
                Problem(
                    located.file,
                    located.line_of(loc),
                    _dotted(loc),
                    f"step {ids[i]!r}{rung}: control path {name!r} is a signal; on the external"
                    " sandbox the harness does not own the service's process and never signals"
                    " it (stop it through its own API or a command)",
                    value=name,
                )
            )
        incident = step.inject if step.inject is not None else step.clear
        hook = drill.target.incidents.get(incident) if incident is not None else None
        via = paths.get(hook.via) if hook is not None else None
        if hook is None or via is None:
            continue
        if https and via.http is not None and not via.http.base_url:
            loc = ("steps", i, action.value)
            problems.append(
                Problem(
                    located.file,
                    located.line_of(loc),
                    _dotted(loc),
                    f"step {ids[i]!r}: incident {incident!r} goes through {hook.via!r}, which"
                    " has no base_url of its own, so it would call the https external service"
                    " in plain HTTP; give it base_url: https://...",
                    value=incident,
                )
            )
        if via.kind in OWNING_KINDS:
            if hook.redeploy is not None:
                continue  # a redeploy incident is refused outside docker by the loader
            loc = ("steps", i, action.value)
            problems.append(
                Problem(
                    located.file,
                    located.line_of(loc),
                    _dotted(loc),
                    f"step {ids[i]!r}: incident {incident!r} goes through {hook.via!r}, a"
                    f" {via.kind} control path, which the external sandbox cannot use (the"
                    " harness does not own the service's process or container)",
                    value=incident,
                )
            )
    return problems


def _dotted(loc: tuple[str | int, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else ("." if out else "") + part
    return out
