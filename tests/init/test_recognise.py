"""`govdrill init` recognises the V2 protocol, OpenAI-compatible APIs and plain HTTP from
real answers of small services on loopback, and builds its plan from what they said."""

from __future__ import annotations

import re

import pytest
import yaml

from harness.init.plan import Call, Plan, build_plan
from harness.init.probe import Prober
from harness.init.questions import BadAnswer
from harness.init.recognise import ServiceKind, detect_kind
from harness.init.render import drill_data, drill_text, target_data, target_text
from tests.helpers import serving
from tests.init.conftest import asker
from tests.init.services import openai_handler, plain_handler, v2_handler

HOSTILE_NAMES = [
    "a: b\n- x",
    "../../admin/stop",
    "${admin_token}",
    "x'] \u001b[31mred",
    "#: comment\n...\n---\nkey: value",
]


def _plan(port: int, **flags: str) -> Plan:
    url = f"http://127.0.0.1:{port}"
    prober = Prober(url, timeout_s=5)
    kind, why = detect_kind(prober)
    return build_plan(
        kind, why, base_url=url, allow_remote=False, prober=prober, asker=asker(**flags), name=None
    )


def test_v2_server_gives_infer_load_repository_control_and_observed_safe_state() -> None:
    """A V2 server with the repository index: load is infer with a body built from the input
    metadata, stop/resume are unload/load, the version is $.model_version, and the safe state
    is the status and message it gave for a model that does not exist."""
    with serving(v2_handler(["iris"])) as port:
        plan = _plan(port)
    facts = plan.facts
    assert plan.kind is ServiceKind.V2
    assert plan.name == "iris"
    assert facts.load_path == "/v2/models/iris/infer"
    assert facts.load_json == {
        "inputs": [{"name": "input-0", "shape": [1], "datatype": "BYTES", "data": ["govdrill"]}]
    }
    assert facts.ready_path == "/v2/models/iris/ready"
    assert facts.stop == Call("POST", "/v2/repository/models/iris/unload")
    assert facts.resume == Call("POST", "/v2/repository/models/iris/load")
    assert facts.version is not None and facts.version.json_path == "$.model_version"
    stopped = facts.stopped
    assert stopped is not None and stopped.status == 404 and stopped.json_path == "$.error"
    assert stopped.regex is not None
    assert re.search(stopped.regex, "Model with name iris does not exist.")
    assert facts.todo == ()


def test_v2_server_without_index_uses_the_v1_list_and_says_the_calls_are_assumed() -> None:
    """KServe lists models at /v1/models when the repository index is absent; the unload/load
    calls are then written but named as not observed."""
    with serving(v2_handler(["m1"], with_index=False, datatype="FP32")) as port:
        plan = _plan(port)
    assert plan.facts.load_json["inputs"][0]["data"] == [0.5]
    assert any("repository index did not answer" in line for line in plan.facts.todo)


def test_v2_server_with_several_models_asks_which_one() -> None:
    """Several models and no --model, without a terminal: bad input naming --model and --yes."""
    with serving(v2_handler(["first", "second"])) as port:
        with pytest.raises(BadAnswer, match=r"--model.*--yes"):
            _plan(port)
        assert _plan(port, model="second").facts.load_path == "/v2/models/second/infer"


def test_openai_service_gives_chat_load_and_model_version() -> None:
    """An OpenAI-compatible API: the first model, chat completions as the load, $.model as the
    version, and the stop call the user named."""
    with serving(openai_handler(["tiny-llm", "other"])) as port:
        with pytest.raises(BadAnswer, match="--stop-call"):
            _plan(port, model="tiny-llm")
        plan = _plan(port, model="tiny-llm", stop_call="POST /admin/stop", resume_call="none")
    facts = plan.facts
    assert plan.kind is ServiceKind.OPENAI
    assert facts.load_path == "/v1/chat/completions"
    assert facts.load_json["model"] == "tiny-llm"
    assert facts.version is not None and facts.version.json_path == "$.model"
    assert facts.stop == Call("POST", "/admin/stop") and facts.resume is None
    assert facts.ready_path == "/v1/models"


def test_openai_service_without_a_model_list_is_recognised_by_its_chat_answer() -> None:
    """LitServe's OpenAI spec has no /v1/models: a chat completion answer is enough."""
    with serving(openai_handler(["x"], list_models=False)) as port:
        plan = _plan(
            port, model="x", stop_call="POST /admin/stop", resume_call="POST /admin/resume"
        )
    assert plan.kind is ServiceKind.OPENAI
    assert plan.facts.ready_path == "/health"


def test_plain_service_takes_the_load_and_control_calls_from_flags() -> None:
    """Plain HTTP: path, method, body and control calls are the user's; the version header
    and the readiness path are observed."""
    with serving(plain_handler()) as port:
        with pytest.raises(BadAnswer, match="--path"):
            _plan(port)
        plan = _plan(
            port, path="/predict", method="post", json='{"x": 1}', stop_call="POST /ops/stop",
            resume_call="POST /ops/start",
        )  # fmt: skip
    facts = plan.facts
    assert plan.kind is ServiceKind.PLAIN
    assert (facts.load_method, facts.load_path, facts.load_json) == ("POST", "/predict", {"x": 1})
    assert facts.ready_path == "/healthz"
    assert facts.version is not None and facts.version.header == "X-Model-Version"
    assert facts.resume == Call("POST", "/ops/start")


def test_a_malformed_control_call_flag_is_bad_input() -> None:
    """``--stop-call`` must read 'METHOD /path'."""
    with (
        serving(openai_handler(["m"])) as port,
        pytest.raises(BadAnswer, match="is not one of GET"),
    ):
        _plan(port, stop_call="stop please")


@pytest.mark.parametrize("hostile", HOSTILE_NAMES)
def test_hostile_model_names_cannot_change_the_yaml(hostile: str) -> None:
    """A model name from the server reaches the files only as data: the YAML reads back as
    exactly what was meant, the name is percent-encoded in every path, and the target's name
    is a sanitised one."""
    with serving(v2_handler([hostile])) as port:
        plan = _plan(port)
    target = yaml.safe_load(target_text(plan))
    drill = yaml.safe_load(drill_text(plan))
    assert target == target_data(plan) and drill == drill_data(plan)
    assert set(target) == {
        "target", "description", "version", "safe_state", "sandboxes", "ready", "control_paths"
    }  # fmt: skip
    assert re.fullmatch(r"[a-z0-9][a-z0-9_.-]*", target["target"])
    path = drill["load"]["request"]["path"]
    assert path.startswith("/v2/models/") and path.endswith("/infer")
    assert path.count("/") == 4 and not any(c in path for c in " \n${}'")
    with serving(openai_handler([hostile])) as port:
        plan = _plan(port, stop_call="POST /admin/stop", resume_call="none")
    drill = yaml.safe_load(drill_text(plan))
    assert drill["load"]["request"]["json"]["model"] == hostile
