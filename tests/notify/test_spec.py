"""NotifierSpec refuses what a drill must not say: two kinds at once, unknown placeholders,
secrets where they would be shown or where they hide the destination, remote hosts unasked."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from harness.spec.notify import (
    NotifierKind,
    NotifierSpec,
    check_reach,
    remote_notifier_problems,
)


def _spec(data: dict[str, Any]) -> NotifierSpec:
    return NotifierSpec.model_validate(data)


def test_exactly_one_kind() -> None:
    """None or two kinds are refused, naming the choices; one is accepted with its kind."""
    for bad in ({}, {"terminal": {}, "webhook": {"url": "http://127.0.0.1:1/h"}}):
        with pytest.raises(ValidationError, match="exactly one of alertmanager, webhook"):
            _spec(bad)
    assert _spec({"terminal": {}}).kind is NotifierKind.TERMINAL


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"webhook": {"url": "http://127.0.0.1:1/h", "json": {"t": "{drill} {oops}"}}},
         "unknown placeholder {oops}"),
        ({"alertmanager": {"url": "http://127.0.0.1:1", "labels": {"a": "{nope}"}}},
         "unknown placeholder {nope}"),
        ({"alertmanager": {"url": "http://127.0.0.1:1", "annotations": {"a": "${tok}"}}},
         "is not allowed here"),
        ({"alertmanager": {"url": "http://127.0.0.1:1", "labels": {"bad-name": "x"}}},
         "String should match pattern"),
        ({"webhook": {"url": "http://${host}/h"}}, "path or query only"),
        ({"webhook": {"url": "http://u:p@127.0.0.1/h"}}, "credentials in the URL"),
        ({"webhook": {"url": "ftp://127.0.0.1/h"}}, "scheme must be http or https"),
        ({"webhook": {"url": "http://127.0.0.1/h", "timeout": "2m"}}, "at most 60s"),
        ({"webhook": {"url": "http://127.0.0.1/h", "timeout": 0}}, "more than 0"),
        ({"webhook": {"url": "http://127.0.0.1/h", "headers": {"X": "a\nb"}}}, "line break"),
        ({"terminal": {"color": True}}, "Extra inputs are not permitted"),
    ],
)  # fmt: skip
def test_refused(data: dict[str, Any], message: str) -> None:
    """Each bad declaration is refused with a message that says what is wrong."""
    with pytest.raises(ValidationError, match=message):
        _spec(data)


def test_secrets_allowed_in_path_query_headers_and_body() -> None:
    """A Slack-style secret hook path, a token header and a PagerDuty routing key are fine."""
    spec = _spec(
        {
            "webhook": {
                "url": "https://hooks.example.com/services/${slack_path}?k=${k}",
                "headers": {"Authorization": "Bearer ${chat_token}"},
                "json": {"routing_key": "${pd_key}", "event_action": "trigger"},
            }
        }
    )
    assert spec.webhook is not None and spec.webhook.timeout == 2.0


def test_alertmanager_endpoint_defaults_to_the_v2_path() -> None:
    """A bare Alertmanager address gets /api/v2/alerts; a full endpoint is kept."""
    bare = _spec({"alertmanager": {"url": "http://127.0.0.1:9093/"}}).alertmanager
    full = _spec({"alertmanager": {"url": "http://127.0.0.1:9093/am/api/v2/alerts"}}).alertmanager
    assert bare is not None and bare.endpoint == "http://127.0.0.1:9093/api/v2/alerts"
    assert full is not None and full.endpoint == "http://127.0.0.1:9093/am/api/v2/alerts"


def test_remote_url_needs_allow_remote() -> None:
    """Loopback is always fine; any other host (a name too) needs allow_remote, and the
    problem names where it was written and never a secret of the URL."""
    notify = {
        "local": _spec({"webhook": {"url": "http://127.0.0.1:8099/hook"}}),
        "v6": _spec({"alertmanager": {"url": "http://[::1]:9093"}}),
        "console": _spec({"terminal": {}}),
        "pager": _spec({"webhook": {"url": "https://events.pagerduty.com/v2/enqueue"}}),
        "slack": _spec({"webhook": {"url": "https://hooks.slack.com/services/${path}"}}),
        "named": _spec({"alertmanager": {"url": "http://am.internal:9093"}}),
    }
    problems = remote_notifier_problems(notify, allow_remote=False)
    assert [loc for loc, _ in problems] == [
        ("pager", "webhook", "url"),
        ("slack", "webhook", "url"),
        ("named", "alertmanager", "url"),
    ]
    assert all("allow_remote: true" in message for _, message in problems)
    assert "${…}" in problems[1][1]
    assert remote_notifier_problems(notify, allow_remote=True) == []
    with pytest.raises(ValueError, match="not a loopback address"):
        check_reach("http://10.0.0.1/h", allow_remote=False)
    check_reach("http://127.0.0.2:1/h", allow_remote=False)
