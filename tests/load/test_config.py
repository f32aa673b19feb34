"""The load config: validation with the field named, and a JSON form that round-trips."""

from __future__ import annotations

from typing import Any

import pytest

from harness.load.config import (
    HarmRuleSpec,
    LoadConfig,
    LoadConfigError,
    RequestSpec,
    SafeStateSpec,
    VersionSpec,
)


def full_config() -> LoadConfig:
    return LoadConfig(
        base_url="http://127.0.0.1:8080/api",
        users=5,
        spawn_rate=2.5,
        request=RequestSpec(
            "post", "/v1/generate", json={"prompt": "hi", "n": [1, 2]}, headers={"X-A": "b"}
        ),
        parent_pid=1234,
        timeout_s=1.5,
        per_user_rate=10.0,
        harm=(
            HarmRuleSpec(json_path="$.output", regex="CANARY-[0-9a-f]{8}"),
            HarmRuleSpec(status=(500, 502), latency_over_s=0.25),
            HarmRuleSpec(header="X-Safety", header_regex="unsafe"),
            HarmRuleSpec(json_path="$['a b'][0]", equals={"k": [True, None]}),
        ),
        safe_state=SafeStateSpec(statuses=(503, 429), connection_reset=False),
        version=VersionSpec(header=None, json_path="$.model"),
        heartbeat_s=0.2,
    )


def test_config_round_trips_through_one_line_of_json() -> None:
    """from_json(to_json(c)) == c, and the JSON has no newline in it."""
    config = full_config()
    text = config.to_json()
    assert "\n" not in text
    assert LoadConfig.from_json(text) == config
    assert config.request.method == "POST"


def test_defaults_fill_in_from_a_minimal_document() -> None:
    """Only base_url, users, spawn_rate, request and parent_pid are required."""
    config = LoadConfig.from_dict(
        {
            "base_url": "http://h:1",
            "users": 1,
            "spawn_rate": 1,
            "request": {"path": "/"},
            "parent_pid": 1,
        }
    )
    assert config.safe_state == SafeStateSpec(statuses=(503,))
    assert config.version.header == "X-Model-Version"
    assert config.harm == ()
    assert config.per_user_rate is None


def test_request_body_encoding() -> None:
    """JSON bodies are compact JSON, text bodies UTF-8, and no body is empty."""
    assert RequestSpec("POST", "/", json={"a": 1}).encoded_body() == b'{"a":1}'
    assert RequestSpec("POST", "/", body="é").encoded_body() == "é".encode()
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
        ({"request": {"path": "no-slash"}}, "request.path"),
        ({"request": {"method": "GE T", "path": "/"}}, "request.method"),
        ({"request": {"path": "/", "json": {}, "body": "x"}}, "request"),
        ({"request": {"path": "/", "headers": {"X": "a\nb"}}}, "request.headers.X"),
        ({"request": {"path": "/", "extra": 1}}, "request"),
        ({"harm": [{}]}, "harm[0]"),
        ({"harm": [{"json_path": "$..x"}]}, "harm[0].json_path"),
        ({"harm": [{"regex": "x"}, {"nope": 1}]}, "harm[1]"),
        ({"harm": {"regex": "x"}}, "harm"),
        ({"safe_state": {"statuses": [42]}}, "safe_state.statuses"),
        ({"version": {"json_path": "$["}}, "version.json_path"),
        ({"surprise": 1}, "config"),
    ],
)
def test_bad_documents_name_the_field(change: dict[str, Any], field: str) -> None:
    """Every invalid value raises LoadConfigError naming its (dotted) field."""
    data = full_config().to_dict()
    data.update(change)
    with pytest.raises(LoadConfigError) as caught:
        LoadConfig.from_dict(data)
    assert caught.value.field == field


def test_non_json_is_a_config_error() -> None:
    """Text that is not JSON raises LoadConfigError, not a bare JSONDecodeError."""
    with pytest.raises(LoadConfigError):
        LoadConfig.from_json("{not json")
