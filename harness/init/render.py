"""A plan as the YAML text of a target file and a drill, emitted only through
``yaml.safe_dump`` so that nothing a service names (a model called ``a: b\\n- x``) can add a
key, a list item or a comment to what is written."""

from __future__ import annotations

from typing import Any

import yaml

from harness.init.control_auth import SecretSource
from harness.init.plan import Call, Plan

__all__ = ["EXTERNAL", "drill_data", "drill_text", "render", "target_data", "target_text"]

EXTERNAL = "external"
"""The sandbox kind of a service the harness does not own (issue 14's contract)."""

_TARGET_HEADER = """\
# Written by `govdrill init`: a service already running, attached through the external
# sandbox (the harness never starts or kills it). Review every field; docs/targets.md
# describes them all.
"""
_DRILL_HEADER = """\
# Written by `govdrill init`: stops the service under a light load and measures how long
# it took to reach its safe state. It has no harm rule: add one (harm:) that recognises
# what a bad answer of YOUR service looks like, then a step that stops `when: harm_detected`.
"""


def _call(call: Call) -> dict[str, str]:
    return {"method": call.method, "path": call.path}


def _secret(source: SecretSource) -> dict[str, Any]:
    """Where the harness finds the secret: its source, never its value."""
    if source.env is not None:
        return {"env": source.env}
    if source.file is not None:
        return {"file": source.file}
    return {"generate": True}


def target_data(plan: Plan) -> dict[str, Any]:
    """The target file's content."""
    facts = plan.facts
    http: dict[str, Any] = {"timeout": "10s"}
    if plan.auth.headers:
        http["headers"] = {h.name: h.value for h in plan.auth.headers}
    http["stop"] = _call(facts.stop)
    if facts.resume is not None:
        http["resume"] = _call(facts.resume)
    data: dict[str, Any] = {
        "target": plan.name,
        "description": f"A service speaking {plan.kind.label} at {plan.base_url} (govdrill init).",
    }
    if facts.version is not None:
        source = facts.version
        data["version"] = (
            {"header": source.header} if source.header else {"json_path": source.json_path}
        )
    if facts.stopped is not None:
        safe: dict[str, Any] = {"statuses": [facts.stopped.status]}
        if facts.stopped.json_path and facts.stopped.regex:
            safe["json_path"] = facts.stopped.json_path
            safe["regex"] = facts.stopped.regex
        data["safe_state"] = safe
    if plan.auth.secrets:
        data["secrets"] = {s.name: _secret(s) for s in plan.auth.secrets}
    data["sandboxes"] = {EXTERNAL: {"base_url": plan.base_url, "allow_remote": plan.allow_remote}}
    data["ready"] = {"path": facts.ready_path, "timeout": "60s", "interval": "500ms"}
    data["control_paths"] = {
        facts.control_path: {
            "description": f"{facts.stop.method} {facts.stop.path} stops the service"
            + (f"; {facts.resume.method} {facts.resume.path} resumes it" if facts.resume else ""),
            "http": http,
        }
    }
    return data


def drill_data(plan: Plan) -> dict[str, Any]:
    """The drill's content: stop under load at a fixed time, then resume when it can."""
    facts = plan.facts
    request: dict[str, Any] = {"method": facts.load_method, "path": facts.load_path}
    if facts.load_json is not None:
        request["json"] = facts.load_json
    steps: list[dict[str, Any]] = [{"at": "2s", "stop": [facts.control_path], "grace": "5s"}]
    if facts.resume is not None:
        steps.append({"after": "stopped", "resume": facts.control_path})
    data: dict[str, Any] = {
        "drill": plan.drill_name,
        "description": f"Stop {plan.name} under load through {facts.control_path}"
        " and time how long it keeps serving (govdrill init).",
        "target": plan.name,
        "sandbox": EXTERNAL,
        "load": {"users": 2, "request": request, "timeout": "10s"},
        "steps": steps,
        "warmup": "1s",
        "hold": "2s",
        "max_duration": "90s",
        "deadlines": {"stop": "10s"},
    }
    if plan.allow_remote:
        data["allow_remote"] = True
    return data


def render(data: dict[str, Any], header: str) -> str:
    """``data`` as YAML after a fixed comment header; checked to read back as ``data``."""
    text = header + yaml.safe_dump(
        data, sort_keys=False, allow_unicode=False, default_flow_style=False, width=100
    )
    if yaml.safe_load(text) != data:  # nothing a service named may change the structure
        raise AssertionError("the generated YAML does not read back as written")
    return text


def target_text(plan: Plan) -> str:
    """The target file, as YAML text."""
    return render(target_data(plan), _TARGET_HEADER)


def drill_text(plan: Plan) -> str:
    """The drill file, as YAML text."""
    return render(drill_data(plan), _DRILL_HEADER)
