"""Load drill and target files into typed objects, reporting every problem as file:line: field."""

from __future__ import annotations

import difflib
import ipaddress
import os
import re
import types
import typing
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ValidationError

from harness.errors import Problem, SpecError
from harness.sandbox_kind import SandboxKind
from harness.spec._yaml import Located, load_located, parse_located
from harness.spec.external import external_problems
from harness.spec.load import SafeState
from harness.spec.models import (
    TLS_FILES,
    Action,
    ComposeSandboxSpec,
    DockerSandboxSpec,
    Drill,
    ExternalSandboxSpec,
    ProcessSandboxSpec,
    Target,
    Trigger,
)
from harness.spec.operator import operator_problems
from harness.spec.proxy import ProxyRule
from harness.spec.references import reference_problems

__all__ = [
    "apply_overrides",
    "find_target_file",
    "is_loopback_url",
    "load_drill",
    "load_target",
]

OVERRIDES = "--set"
_SANDBOX_SPECS: dict[SandboxKind, type[BaseModel]] = {
    SandboxKind.PROCESS: ProcessSandboxSpec,
    SandboxKind.DOCKER: DockerSandboxSpec,
    SandboxKind.COMPOSE: ComposeSandboxSpec,
}


def load_drill(
    path: Path | str,
    *,
    overrides: Sequence[str] = (),
    targets_dirs: Sequence[Path] = (),
) -> Drill:
    """Load, resolve and check one drill; raises SpecError listing every problem."""
    path = Path(path)
    located = load_located(path)
    file = located.file
    if not isinstance(located.data, dict):
        raise SpecError([Problem(file, 1, "", "a drill is a mapping (key: value lines)")])
    data = apply_overrides(dict(located.data), overrides)
    data["source"] = file

    try:
        return _checked_drill(data, located, path, targets_dirs)
    except SpecError as exc:
        raise SpecError(_blame_overrides(exc.problems, file, overrides)) from None


def _checked_drill(
    data: dict[str, Any], located: Located, path: Path, targets_dirs: Sequence[Path]
) -> Drill:
    """The drill from its (overridden) data, with its target, checked as a whole."""
    # Overrides applied, the target not yet resolved: what `${}` references are checked on.
    as_written = {key: value for key, value in data.items() if key != "source"}
    problems: list[Problem] = []
    target = _resolve_target(data, located, path, targets_dirs, problems)
    if target is not None:
        data["target"] = target
    elif "target" in data:
        # Reported already; a placeholder keeps the rest of the drill checkable.
        data.pop("target")
    try:
        drill = Drill.model_validate(data)
    except ValidationError as exc:
        problems.extend(
            p
            for p in _problems_from(exc, located, Drill)
            # A missing target was already reported where it was looked up.
            if not (target is None and p.field == "target")
        )
        raise SpecError(problems) from None
    if problems:
        raise SpecError(problems)
    problems.extend(_cross_check(drill, located))
    problems.extend(reference_problems(as_written, located, target_file=False))
    if problems:
        raise SpecError(problems)
    return drill


def load_target(path: Path | str) -> Target:
    """Load one target file; raises SpecError listing every problem."""
    path = Path(path)
    located = load_located(path)
    if not isinstance(located.data, dict):
        raise SpecError([Problem(located.file, 1, "", "a target is a mapping (key: value lines)")])
    data = dict(located.data)
    data.setdefault("directory", str(path.parent.resolve()))
    try:
        target = Target.model_validate(data)
    except ValidationError as exc:
        raise SpecError(_problems_from(exc, located, Target)) from None
    problems = reference_problems(located.data, located, target_file=True)
    problems.extend(_external_spec_problems(target, located, ()))
    target = _anchor_tls_files(target, located, (), problems)
    if problems:
        raise SpecError(problems)
    return target


def find_target_file(name: str, drill_path: Path, targets_dirs: Sequence[Path] = ()) -> Path | None:
    """Find ``targets/<name>/target.yaml`` in the given dirs, then upward from the drill."""
    candidates: list[Path] = [Path(d) / name / "target.yaml" for d in targets_dirs]
    env_dirs = os.environ.get("GOVDRILL_TARGETS")
    if env_dirs:
        candidates += [Path(d) / name / "target.yaml" for d in env_dirs.split(os.pathsep) if d]
    for parent in [drill_path.resolve().parent, *drill_path.resolve().parents]:
        candidates.append(parent / "targets" / name / "target.yaml")
    candidates.append(Path.cwd() / "targets" / name / "target.yaml")
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    return None


def apply_overrides(data: dict[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """Apply ``key.sub=value`` overrides (``steps[1].delay=2s`` reaches into lists; values
    are parsed as YAML, within the same size, depth and alias bounds as a file) to a copy of
    the data; the file's own data is never mutated."""
    problems: list[Problem] = []
    for item in overrides:
        key, sep, raw = item.partition("=")
        path = _override_path(key) if sep else None
        if not path:
            problems.append(Problem(override_source(key), None, "", "expected KEY=VALUE"))
            continue
        try:
            value = parse_located(raw, override_source(key)).data if raw.strip() else ""
        except SpecError as exc:
            # One line of a command line has no line numbers worth showing.
            problems.extend(Problem(p.file, None, "", p.message) for p in exc.problems)
            continue
        problem = _set_path(data, path, value)
        if problem:
            problems.append(Problem(override_source(key), None, "", problem))
    if problems:
        raise SpecError(problems)
    return data


def _blame_overrides(
    problems: Iterable[Problem], file: str, overrides: Sequence[str]
) -> list[Problem]:
    """Problems with a value that ``--set`` gave are reported at ``--set KEY``, not at the
    line of the file the value replaced."""
    keys = []
    for item in overrides:
        key = item.partition("=")[0]
        path = _override_path(key)
        if path:
            keys.append((key, _dotted(path)))
    out = []
    for problem in problems:
        for key, dotted in reversed(keys):  # the last --set of a field is the one that holds
            field = problem.field
            if problem.file == file and (
                field == dotted or field.startswith((dotted + ".", dotted + "["))
            ):
                rest = "" if field == dotted else field
                problem = Problem(
                    override_source(key), None, rest, problem.message, problem.value,
                    problem.allowed,
                )  # fmt: skip
                break
        out.append(problem)
    return out


def override_source(key: str) -> str:
    """Where a problem with ``--set KEY=...`` is said to be: ``--set KEY``."""
    shown = key if len(key) <= 80 else key[:80] + "…"
    return f"{OVERRIDES} {shown}"


_OVERRIDE_PART = re.compile(r"([A-Za-z_][A-Za-z0-9_-]*)((?:\[\d+\])*)")


def _override_path(key: str) -> list[str | int] | None:
    """``a.b[2].c`` as ``["a", "b", 2, "c"]``; None when malformed."""
    path: list[str | int] = []
    for part in key.split("."):
        match = _OVERRIDE_PART.fullmatch(part)
        if match is None:
            return None
        path.append(match.group(1))
        path.extend(int(i) for i in re.findall(r"\d+", match.group(2)))
    return path


def _set_path(data: dict[str, Any], path: list[str | int], value: Any) -> str:
    """Set ``value`` at ``path``, copying each container on the way; return a problem or ''."""
    node: Any = data
    for depth, part in enumerate(path):
        last = depth == len(path) - 1
        where = _dotted(path[: depth + 1])
        if isinstance(part, int):
            if not isinstance(node, list):
                return f"{_dotted(path[:depth])} is not a list"
            if part >= len(node):
                return f"{where}: index out of range (the list has {len(node)} items)"
        elif not isinstance(node, dict):
            return f"{_dotted(path[:depth])} is not a mapping"
        if last:
            node[part] = value
            return ""
        child = node[part] if isinstance(part, int) else node.get(part)
        if child is None:
            child = {}
        elif isinstance(child, dict | list):
            child = type(child)(child)
        else:
            return f"{where} is neither a mapping nor a list"
        node[part] = child
        node = child
    return ""


# --------------------------------------------------------------------------- internals


def _resolve_target(
    data: dict[str, Any],
    located: Located,
    drill_path: Path,
    targets_dirs: Sequence[Path],
    problems: list[Problem],
) -> Target | None:
    raw = data.get("target")
    line = located.line_of(("target",))
    if raw is None:
        problems.append(Problem(located.file, 1, "target", "missing: name a target or inline one"))
        return None
    if isinstance(raw, str):
        target_file = find_target_file(raw, drill_path, targets_dirs)
        if target_file is None:
            problems.append(
                Problem(
                    located.file,
                    line,
                    "target",
                    f"no target named {raw!r} (looked for targets/{raw}/target.yaml beside and"
                    " above the drill, in --targets and $GOVDRILL_TARGETS)",
                    value=raw,
                )
            )
            return None
        try:
            return load_target(target_file)
        except SpecError as exc:
            problems.extend(exc.problems)
            return None
    if isinstance(raw, dict):
        inline = dict(raw)
        inline.setdefault("directory", str(drill_path.resolve().parent))
        try:
            target = Target.model_validate(inline)
        except ValidationError as exc:
            problems.extend(_problems_from(exc, located, Target, prefix=("target",)))
            return None
        problems.extend(_external_spec_problems(target, located, ("target",)))
        return _anchor_tls_files(target, located, ("target",), problems)
    problems.append(
        Problem(located.file, line, "target", "expected a target name or an inline target mapping")
    )
    return None


def _anchor_tls_files(
    target: Target, located: Located, prefix: tuple[str, ...], problems: list[Problem]
) -> Target:
    """``target`` with its control paths' relative TLS files made absolute in the target's
    folder; every file that is missing or unusable is a problem now, not at the stop."""
    from harness.tls import tls_file_problems

    folder = Path(target.directory)
    paths = dict(target.control_paths)
    for name, path in target.control_paths.items():
        http = path.http
        if http is None or not any(getattr(http, f) for f in TLS_FILES):
            continue
        update = {
            f: str(folder / getattr(http, f)) for f in TLS_FILES if getattr(http, f) is not None
        }
        http = http.model_copy(update=update)
        paths[name] = path.model_copy(update={"http": http})
        for field, message in tls_file_problems(http):
            loc = (*prefix, "control_paths", name, "http", field)
            problems.append(Problem(located.file, located.line_of(loc), _dotted(loc), message))
    return target.model_copy(update={"control_paths": paths})


def _external_spec_problems(
    target: Target, located: Located, prefix: tuple[str, ...]
) -> list[Problem]:
    """The external sandbox's declaration checked where it is written (its own file:line):
    a remote base_url without allow_remote is refused whichever sandbox a drill picks."""
    if SandboxKind.EXTERNAL not in target.sandboxes:
        return []
    try:
        ExternalSandboxSpec.model_validate(target.sandboxes[SandboxKind.EXTERNAL])
    except ValidationError as exc:
        where = (*prefix, "sandboxes", SandboxKind.EXTERNAL.value)
        return _problems_from(exc, located, ExternalSandboxSpec, prefix=where)
    return []


def _problems_from(
    exc: ValidationError,
    located: Located,
    model: type[BaseModel],
    prefix: tuple[str | int, ...] = (),
) -> list[Problem]:
    problems = []
    for error in exc.errors():
        loc = (*prefix, *error["loc"])
        message = error["msg"].removeprefix("Value error, ").removeprefix("Assertion failed, ")
        value = error.get("input")
        allowed: tuple[str, ...] = ()
        if error["type"] == "extra_forbidden":
            allowed = _fields_at(model, loc[len(prefix) : -1])
            message = "unknown key"
            close = difflib.get_close_matches(str(loc[-1]), allowed, n=1, cutoff=0.6)
            if close:
                message += f"; did you mean {close[0]!r}?"
            elif allowed:
                message += f" (allowed: {', '.join(allowed)})"
            value = None
        elif error["type"] == "missing":
            message = "missing required field"
            value = None
        problems.append(
            Problem(
                located.file,
                located.line_of(loc),
                _dotted(loc),
                message,
                value=value if isinstance(value, str | int | float | bool) else None,
                allowed=allowed,
            )
        )
    return problems


def _fields_at(model: type[BaseModel], loc: Iterable[str | int]) -> tuple[str, ...]:
    """The field names allowed at ``loc`` inside ``model`` (for did-you-mean hints)."""
    current: Any = model
    for part in loc:
        current = _descend(current, part)
        if current is None:
            return ()
    current = _unwrap_model(current)
    if current is None:
        return ()
    return tuple(f.alias or name for name, f in current.model_fields.items())


def _descend(annotation: Any, part: str | int) -> Any:
    model = _unwrap_model(annotation)
    if model is not None and isinstance(part, str):
        for name, field in model.model_fields.items():
            if part in (name, field.alias):
                return field.annotation
        return None
    for arg in _args(annotation):
        origin = typing.get_origin(arg)
        if origin in (list, tuple) and isinstance(part, int):
            return typing.get_args(arg)[0]
        if origin is dict and isinstance(part, str):
            return typing.get_args(arg)[1]
    return None


def _args(annotation: Any) -> tuple[Any, ...]:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return typing.get_args(annotation)
    return (annotation,)


def _unwrap_model(annotation: Any) -> type[BaseModel] | None:
    for arg in _args(annotation):
        if isinstance(arg, type) and issubclass(arg, BaseModel):
            return arg
    return None


def _dotted(loc: Iterable[str | int]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _mistaken_for_the_stop(rule: ProxyRule | None, safe: SafeState) -> str:
    """What an injected data-path fault answers that the safe state counts as stopped ("" when
    nothing): a reset when resets are safe, an error status the safe state lists."""
    if rule is None or rule.control is not None:
        return ""
    if rule.reset is not None and safe.connection_reset:
        return "the proxy's resets are what"
    if rule.error is not None and rule.error.status in safe.statuses and not safe.judges_body:
        return f"the proxy's HTTP {rule.error.status} is what"
    return ""


def _cross_check(drill: Drill, located: Located) -> list[Problem]:
    """Checks that need the drill and its target together."""
    problems: list[Problem] = []
    file = located.file
    target = drill.target
    paths = target.control_paths
    ids = drill.step_ids()

    def problem(loc: tuple[str | int, ...], message: str, allowed: Iterable[str] = ()) -> None:
        allowed = tuple(allowed)
        if allowed:
            message += f" (known: {', '.join(allowed)})"
        problems.append(Problem(file, located.line_of(loc), _dotted(loc), message))

    if not drill.allow_remote:
        for name, declared in paths.items():
            url = declared.http.base_url if declared.http is not None else None
            if url and not is_loopback_url(url):
                problem(
                    ("target",),
                    f"control path {name!r} points at {url}, which is not loopback; a drill"
                    " must say allow_remote: true to reach beyond this machine",
                )
    if drill.resolved_sandbox not in target.sandboxes:
        problem(
            ("sandbox",),
            f"target {target.target!r} declares no {str(drill.resolved_sandbox)!r} sandbox",
            target.sandboxes,
        )
    elif drill.resolved_sandbox in _SANDBOX_SPECS:
        try:
            _SANDBOX_SPECS[drill.resolved_sandbox].model_validate(
                target.sandboxes[drill.resolved_sandbox]
            )
        except ValidationError as exc:
            for err in exc.errors():
                field = _dotted(("sandboxes", drill.resolved_sandbox, *err["loc"]))
                problem(("sandbox",), f"target {target.target!r}: {field}: {err['msg']}")
    if len(set(ids)) != len(ids):
        problem(("steps",), "step ids must be unique; give repeated steps an id")
    problems.extend(external_problems(drill, located))
    problems.extend(operator_problems(drill, located))
    for name, hook in drill.outside_incidents.items():
        mistaken = _mistaken_for_the_stop(hook.rule, drill.safe_state)
        if mistaken:
            own = name in drill.incidents
            problem(
                ("incidents", name, "rule") if own else ("safe_state",),
                f"incident {name!r}: {mistaken} the load judges the stopped state, so the"
                " incident would be measured as a stop; change the rule or the drill's"
                " safe_state",
            )
    for i, step in enumerate(drill.steps):
        where: tuple[str | int, ...] = ("steps", i)
        action = step.action
        for j, name in enumerate(step.control_paths()):
            loc: tuple[str | int, ...] = (*where, action.value)
            if action is Action.STOP:
                loc = (*loc, j)
            elif action in (Action.ROLLBACK, Action.CONTEST):
                loc = (*loc, "via")
            path = paths.get(name)
            if path is None:
                close = difflib.get_close_matches(name, list(paths), n=1, cutoff=0.6)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                problem(loc, f"unknown control path {name!r}{hint}", () if hint else paths)
            elif not path.supports(action):
                problem(loc, f"control path {name!r} ({path.kind}) cannot {action.value}")
            elif path.sandboxes and drill.resolved_sandbox not in path.sandboxes:
                problem(
                    loc,
                    f"control path {name!r} ({path.kind}) works only in the {path.kind}"
                    f" sandbox, not {str(drill.resolved_sandbox)!r}",
                )
        incident = step.inject if step.inject is not None else step.clear
        if incident is not None:
            if incident not in target.incidents:
                problem(
                    (*where, action.value),
                    f"target {target.target!r} has no incident {incident!r}",
                    target.incidents,
                )
            elif step.clear is not None and not target.incidents[incident].clearable:
                problem((*where, "clear"), f"incident {incident!r} cannot be cleared")
            elif target.incidents[incident].redeploy is not None and (
                drill.resolved_sandbox is not SandboxKind.DOCKER
            ):
                problem(
                    (*where, action.value),
                    f"incident {incident!r} redeploys a container: it needs the docker"
                    f" sandbox, not {str(drill.resolved_sandbox)!r}",
                )
        if step.trigger is Trigger.AFTER_STEP:
            if step.after not in ids:
                problem((*where, "after"), f"no step with id {step.after!r}", ["stopped", *ids])
            elif step.after == ids[i]:
                problem((*where, "after"), "a step cannot wait for itself")
    if drill.expect is not None:
        for name in drill.expect.rungs:
            if name not in paths:
                problem(("expect", "rungs", name), f"unknown control path {name!r}", paths)
        if drill.expect.rung_used is not None and drill.expect.rung_used not in paths:
            problem(("expect", "rung_used"), f"unknown control path {drill.expect.rung_used!r}")
    return problems


def is_loopback_url(url: str) -> bool:
    """Whether ``url``'s host is on this machine (127.0.0.0/8, ::1 or localhost)."""
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        return False  # not a URL at all; its own field says so
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a name could resolve anywhere
