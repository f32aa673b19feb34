"""What `govdrill init` will write, decided from the probes and the user's answers: one
typed plan per service, with the lines telling the user what was recognised and what is
still theirs to fill in."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import quote, urlsplit

from harness.init.control_auth import ControlAuth
from harness.init.probe import Prober
from harness.init.questions import Asker, Question
from harness.init.recognise import (
    ServiceKind,
    Stopped,
    chat_body,
    infer_body,
    model_path,
    openai_models,
    ready_path_guess,
    stopped_answer,
    v2_inputs,
    v2_models,
    version_from_answer,
)
from harness.spec.models import MAX_NAME

__all__ = ["Call", "Plan", "ServiceFacts", "VersionFrom", "build_plan", "parse_call", "target_name"]

_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
_NOT_NAME = re.compile(r"[^a-z0-9_.-]+")
DRILL_SUFFIX = "-stop"


@dataclass(frozen=True, slots=True)
class Call:
    """One HTTP call of a control path: ``POST /admin/stop``."""

    method: str
    path: str


def parse_call(text: str) -> Call:
    """``METHOD /path`` as a Call; ValueError naming what is wrong."""
    parts = text.split()
    if len(parts) != 2:
        raise ValueError("expected 'METHOD /path', e.g. 'POST /admin/stop'")
    method, path = parts[0].upper(), parts[1]
    if method not in _METHODS:
        raise ValueError(f"method {parts[0]!r} is not one of {', '.join(_METHODS)}")
    if not path.startswith("/"):
        raise ValueError("the path must start with '/'")
    return Call(method, path)


def _call_problem(text: str) -> str:
    try:
        parse_call(text)
    except ValueError as exc:
        return str(exc)
    return ""


def _optional_call_problem(text: str) -> str:
    return "" if text.lower() in ("", "none") else _call_problem(text)


def _path_problem(text: str) -> str:
    if not text.startswith("/") or any(c in text for c in " \r\n"):
        return "a path starts with '/' and has no space or line break"
    return ""


def _strict_json_problem(text: str) -> str:
    try:
        json.loads(text)
    except ValueError as exc:
        return f"not JSON: {exc}"
    return ""


def _json_problem(text: str) -> str:
    if text.lower() in ("", "none"):
        return ""
    try:
        json.loads(text)
    except ValueError as exc:
        return f"not JSON: {exc}"
    return ""


@dataclass(frozen=True, slots=True)
class VersionFrom:
    """Where answers name the model version: a header or a JSON path."""

    header: str | None = None
    json_path: str | None = None


@dataclass(frozen=True, slots=True)
class ServiceFacts:
    """What the probes and answers established about one service."""

    model: str | None
    ready_path: str
    load_method: str
    load_path: str
    load_json: Any
    control_path: str
    stop: Call
    resume: Call | None
    version: VersionFrom | None
    stopped: Stopped | None
    recognised: tuple[str, ...]
    todo: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Plan:
    """Everything the target file and the drill will say."""

    kind: ServiceKind
    base_url: str
    allow_remote: bool
    name: str
    facts: ServiceFacts
    auth: ControlAuth
    """The control path's headers and the secrets they use (from the flags)."""

    @property
    def drill_name(self) -> str:
        """The drill's name: the target's, with ``-stop``."""
        return self.name + DRILL_SUFFIX


def target_name(wanted: str) -> str:
    """``wanted`` made into a valid target name (lower case, ``[a-z0-9_.-]``, short enough
    for the drill's name too)."""
    name = _NOT_NAME.sub("-", wanted.lower()).lstrip("-_.")
    name = name[: MAX_NAME - len(DRILL_SUFFIX)].rstrip("-_.")
    return name or "service"


def build_plan(
    kind: ServiceKind,
    detected: str,
    *,
    base_url: str,
    allow_remote: bool,
    prober: Prober,
    asker: Asker,
    name: str | None,
    auth: ControlAuth | None = None,
) -> Plan:
    """The plan for a service of ``kind``, asking what the probes could not tell."""
    builder = {ServiceKind.V2: _v2, ServiceKind.OPENAI: _openai, ServiceKind.PLAIN: _plain}[kind]
    facts = builder(prober, asker)
    auth = auth or ControlAuth()
    facts = replace(
        facts,
        recognised=(f"{kind.value}: {detected}", *facts.recognised),
        todo=(*facts.todo, *auth.notes),
    )
    parts = urlsplit(base_url)
    stem = facts.model or f"{parts.hostname or 'service'}-{parts.port or ''}"
    return Plan(kind, base_url, allow_remote, target_name(name or stem), facts, auth)


def _choose_model(models: list[str], asker: Asker, default_note: str) -> str:
    if len(models) == 1:
        return models[0]
    listed = ", ".join(json.dumps(m) for m in models[:10])
    return asker.answer(
        Question(
            "--model",
            f"which model to drill ({len(models)} listed: {listed}{default_note})",
            default=models[0] if models else None,
        )
    )


def _control_calls(
    asker: Asker, stop_default: str | None, resume_default: str
) -> tuple[Call, Call | None]:
    stop = asker.answer(
        Question(
            "--stop-call",
            "which HTTP call stops the service (e.g. 'POST /admin/stop')",
            default=stop_default,
            check=_call_problem,
        )
    )
    resume = asker.answer(
        Question(
            "--resume-call",
            "which HTTP call resumes it ('none' if there is none)",
            default=resume_default,
            check=_optional_call_problem,
        )
    )
    none = resume.lower() in ("", "none")
    return parse_call(stop), None if none else parse_call(resume)


def _v2(prober: Prober, asker: Asker) -> ServiceFacts:
    recognised: list[str] = []
    todo: list[str] = []
    models, has_index = v2_models(prober)
    if models:
        recognised.append(
            f"{len(models)} model(s) listed by "
            + ("POST /v2/repository/index" if has_index else "GET /v1/models")
        )
    model = (
        _choose_model(models, asker, "")
        if models
        else asker.answer(Question("--model", "which model to drill (the server lists none)"))
    )
    inputs = v2_inputs(prober.get(model_path(model)))
    body = infer_body(inputs) if inputs else None
    if body is not None:
        recognised.append(
            f"the infer body is built from the metadata of {len(inputs or [])} input(s)"
        )
    if body is None or asker.given("--json"):
        raw = asker.answer(
            Question(
                "--json",
                "the JSON body of an infer request (the model metadata gave no usable inputs)",
                check=_strict_json_problem,
            )
        )
        load_json = json.loads(raw)
    else:
        load_json = body
    infer = model_path(model, "/infer")
    answer = prober.post(infer, load_json)
    if answer.ok:
        recognised.append(f"POST {infer} answered {answer.status}")
    else:
        todo.append(
            f"POST {infer} with the generated body answered {answer.status or answer.failure};"
            " fix load.request.json in the drill"
        )
    version = version_from_answer(answer, ("model_version",))
    if version is None:
        todo.append(
            "the infer answer names no model_version: a rollback deadline cannot be judged"
            " until answers carry one"
        )
    ready = model_path(model, "/ready")
    if not prober.get(ready).ok:
        todo.append(f"GET {ready} did not answer 2xx during the probe; check ready.path")
    stopped = stopped_answer(prober, load_json)
    if stopped is not None and stopped.regex is not None:
        recognised.append(
            f"a missing model is answered HTTP {stopped.status} with {stopped.json_path}"
            f" = {json.dumps(stopped.message)}: that is the safe state (observed on a model that"
            " does not exist; check it after a real unload)"
        )
    elif stopped is not None:
        recognised.append(f"a missing model is answered HTTP {stopped.status}: the safe state")
    else:
        todo.append("infer on a missing model did not answer 4xx/5xx; set safe_state yourself")
    quoted = quote(model, safe="")
    stop_default = f"POST /v2/repository/models/{quoted}/unload"
    resume_default = f"POST /v2/repository/models/{quoted}/load"
    if not has_index:
        todo.append(
            "the repository index did not answer: the unload/load control calls are the V2"
            " repository extension's, not observed; check that the server has it"
        )
    stop, resume = (
        _control_calls(asker, stop_default, resume_default)
        if asker.given("--stop-call") or asker.given("--resume-call")
        else (parse_call(stop_default), parse_call(resume_default))
    )
    return ServiceFacts(
        model=model,
        ready_path=ready,
        load_method="POST",
        load_path=infer,
        load_json=load_json,
        control_path="repository",
        stop=stop,
        resume=resume,
        version=_version(version),
        stopped=stopped,
        recognised=tuple(recognised),
        todo=tuple(todo),
    )


def _version(found: tuple[str, str] | None) -> VersionFrom | None:
    if found is None:
        return None
    where, value = found
    return VersionFrom(header=value) if where == "header" else VersionFrom(json_path=value)


def _openai(prober: Prober, asker: Asker) -> ServiceFacts:
    recognised: list[str] = []
    todo: list[str] = []
    models = openai_models(prober.get("/v1/models"))
    if models:
        recognised.append(f"{len(models)} model(s) listed by GET /v1/models")
        model = _choose_model(models, asker, "; the first is the default")
        ready = "/v1/models"
    else:
        model = asker.answer(
            Question("--model", "which model name to send (GET /v1/models lists none)",
                     default="default")
        )  # fmt: skip
        ready = ready_path_guess(prober) or "/v1/chat/completions"
        todo.append(f"no model list to wait on: readiness is GET {ready}; check ready.path")
    body = chat_body(model)
    answer = prober.post("/v1/chat/completions", body)
    if answer.ok:
        recognised.append(f"POST /v1/chat/completions answered {answer.status}")
    else:
        todo.append(
            f"POST /v1/chat/completions answered {answer.status or answer.failure}; fix"
            " load.request in the drill"
        )
    version = version_from_answer(answer, ("model",))
    stop, resume = _control_calls(asker, None, "none")
    todo.append(
        "an OpenAI-compatible API has no standard stop: check that the stop call you gave"
        " makes the service answer in its safe state (by default 503 or a refused connection)"
    )
    return ServiceFacts(
        model=model,
        ready_path=ready,
        load_method="POST",
        load_path="/v1/chat/completions",
        load_json=body,
        control_path="admin",
        stop=stop,
        resume=resume,
        version=_version(version),
        stopped=None,
        recognised=tuple(recognised),
        todo=tuple(todo),
    )


def _plain(prober: Prober, asker: Asker) -> ServiceFacts:
    recognised: list[str] = []
    todo: list[str] = []
    path = asker.answer(Question("--path", "which path the load should call", check=_path_problem))
    method = asker.answer(
        Question("--method", "with which HTTP method", default="POST",
                 check=lambda m: "" if m.upper() in _METHODS else f"one of {', '.join(_METHODS)}")
    ).upper()  # fmt: skip
    raw = asker.answer(
        Question("--json", "the JSON body of each load request ('none' for no body)",
                 default="none", check=_json_problem)
    )  # fmt: skip
    load_json = None if raw.lower() in ("", "none") else json.loads(raw)
    answer = prober.request(method, path, load_json)
    if answer.ok:
        recognised.append(f"{method} {path} answered {answer.status}")
    else:
        todo.append(f"{method} {path} answered {answer.status or answer.failure}; check the load")
    guess = None if asker.given("--ready-path") else ready_path_guess(prober)
    if guess is not None:
        recognised.append(f"GET {guess} answers 2xx: the readiness path")
    ready = guess or asker.answer(
        Question("--ready-path", "which path answers GET with 2xx when the service is ready",
                 check=_path_problem)
    )  # fmt: skip
    version = version_from_answer(answer, ("model_version", "version"))
    if version is None:
        todo.append("answers name no model version: a rollback deadline cannot be judged")
    stop, resume = _control_calls(asker, None, "none")
    todo.append(
        "check that the stop call makes the service answer in its safe state (by default 503"
        " or a refused connection); say otherwise in safe_state"
    )
    return ServiceFacts(
        model=None,
        ready_path=ready,
        load_method=method,
        load_path=path,
        load_json=load_json,
        control_path="admin",
        stop=stop,
        resume=resume,
        version=_version(version),
        stopped=None,
        recognised=tuple(recognised),
        todo=tuple(todo),
    )
