"""The load config: the drill's own models, validated naming the field, sent as one JSON line."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from harness.load.config import LoadConfig
from harness.spec.models import HarmRule, RequestSpec, SafeState, VersionSource


def full_config() -> LoadConfig:
    """A config that sets every field away from its default."""
    return LoadConfig(
        base_url="http://127.0.0.1:8080/api",
        users=5,
        spawn_rate=2.5,
        request=RequestSpec(
            method="POST",
            path="/v1/generate",
            json={"prompt": "hi", "n": [1, 2]},
            headers={"X-A": "b"},
        ),
        parent_pid=1234,
        timeout_s=1.5,
        per_user_rate=10.0,
        harm=(
            HarmRule(json_path="$.output", regex="CANARY-[0-9a-f]{8}", description="canary"),
            HarmRule(status=(500, 502), latency_over=0.25),
            HarmRule(header="X-Safety", header_regex="unsafe"),
            HarmRule(json_path="$['a b'][0]", equals={"k": [True, None, 1.5]}),
            HarmRule(json_path="$.choices[*].message.content", regex="CANARY"),
        ),
        safe_state=SafeState(statuses=(503, 429), connection_reset=False),
        version=VersionSource(header=None, json_path="$.model"),
        heartbeat_s=0.2,
        max_body=4096,
    )


def test_config_round_trips_through_one_line_of_json() -> None:
    """model_validate_json(model_dump_json(c)) == c, and the JSON has no newline in it."""
    config = full_config()
    text = config.model_dump_json()
    assert "\n" not in text
    assert LoadConfig.model_validate_json(text) == config


def test_a_secret_with_a_newline_cannot_travel_in_a_header() -> None:
    """Header values are checked by the one request model, also after ${NAME} is resolved."""
    with pytest.raises(ValidationError) as caught:
        RequestSpec.model_validate({"path": "/", "headers": {"Authorization": "Bearer a\nX: b"}})
    assert caught.value.errors()[0]["loc"] == ("headers",)


def test_defaults_fill_in_from_a_minimal_document() -> None:
    """Only base_url, users, spawn_rate, request and parent_pid are required."""
    config = LoadConfig.model_validate_json(
        '{"base_url": "http://h:1", "users": 1, "spawn_rate": 1, "request": {}, "parent_pid": 1}'
    )
    assert config.safe_state == SafeState(statuses=(503,))
    assert config.version.header == "X-Model-Version"
    assert config.harm == ()
    assert config.per_user_rate is None


def test_request_body_encoding() -> None:
    """JSON bodies are compact JSON, text bodies UTF-8, and no body is empty."""
    assert RequestSpec(json={"a": 1}).encoded_body() == b'{"a":1}'
    assert RequestSpec(body="é").encoded_body() == "é".encode()
    assert RequestSpec().encoded_body() == b""


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"base_url": "ftp://h"}, "base_url"),
        ({"base_url": "http://"}, "base_url"),
        ({"base_url": "http://h:99999"}, "base_url"),
        ({"base_url": "http://h/?q=1"}, "base_url"),
        ({"users": 0}, "users"),
        ({"users": True}, "users"),
        ({"spawn_rate": 0}, "spawn_rate"),
        ({"timeout_s": -1}, "timeout_s"),
        ({"per_user_rate": 0}, "per_user_rate"),
        ({"heartbeat_s": float("nan")}, "heartbeat_s"),
        ({"parent_pid": 0}, "parent_pid"),
        ({"max_body": 0}, "max_body"),
        ({"request": {"path": "no-slash"}}, "request.path"),
        ({"request": {"path": "/a b"}}, "request.path"),
        ({"request": {"method": "GE T", "path": "/"}}, "request.method"),
        ({"request": {"path": "/", "json": {}, "body": "x"}}, "request"),
        ({"request": {"path": "/", "headers": {"X": "a\nb"}}}, "request.headers"),
        ({"request": {"path": "/", "headers": {"X Y": "a"}}}, "request.headers"),
        ({"request": {"path": "/", "extra": 1}}, "request.extra"),
        ({"harm": [{}]}, "harm.0"),
        ({"harm": [{"json_path": "$..x"}]}, "harm.0.json_path"),
        ({"harm": [{"regex": "x"}, {"nope": 1}]}, "harm.1.nope"),
        ({"harm": {"regex": "x"}}, "harm"),
        ({"safe_state": {"statuses": [42]}}, "safe_state.statuses.0"),
        ({"version": {"json_path": "$["}}, "version.json_path"),
        ({"version": {"json_path": "$.v[*]"}}, "version.json_path"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_bad_documents_name_the_field(change: dict[str, Any], field: str) -> None:
    """Every invalid value is refused with its (dotted) field, from JSON as from Python."""
    data = full_config().model_dump(mode="json")
    data.update(change)
    with pytest.raises(ValidationError) as caught:
        LoadConfig.model_validate(data)
    fields = [".".join(str(p) for p in e["loc"]) for e in caught.value.errors()]
    assert field in fields, fields


def test_non_json_is_a_validation_error() -> None:
    """Text that is not JSON raises ValidationError, not a bare JSONDecodeError."""
    with pytest.raises(ValidationError):
        LoadConfig.model_validate_json("{not json")


def test_the_config_is_frozen() -> None:
    """No one changes a load once described."""
    config = full_config()
    with pytest.raises(ValidationError):
        config.users = 9  # type: ignore[misc]
