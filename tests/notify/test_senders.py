"""Alertmanager and webhook notifications over real loopback HTTP: what is sent, how each
failure ends, and that secrets never reach an outcome's detail."""

from __future__ import annotations

import dataclasses
import json
import time
from datetime import datetime
from typing import Any

from harness.notify import ALERT_NAME, Alert, Notifiers, NotifyResult
from harness.spec.notify import NotifierKind, NotifierSpec
from tests.notify.receiver import closed_port, recorder, silent_port, trickling_port

SECRET = "s3cret-webhook-token-42"


def _notifiers(name: str, spec: dict[str, Any]) -> Notifiers:
    return Notifiers.from_specs(
        {name: NotifierSpec.model_validate(spec)}, secrets={"hook_token": SECRET}, quiet=True
    )


def test_alertmanager_receives_a_v2_alert_list(alert: Alert) -> None:
    """An alertmanager notifier POSTs /api/v2/alerts a list of one alert with labels,
    annotations, startsAt, endsAt and generatorURL, and a 200 is ok."""
    with recorder() as am:
        spec = {
            "alertmanager": {
                "url": f"http://127.0.0.1:{am.port}",
                "labels": {"severity": "page", "team": "{target}"},
                "annotations": {"runbook": "see {base_url}"},
                "timeout": "2s",
            }
        }
        (outcome,) = _notifiers("oncall", spec).notify(["oncall"], alert)
        got = am.next()
    assert outcome.result is NotifyResult.OK and outcome.kind is NotifierKind.ALERTMANAGER
    assert outcome.detail.startswith("HTTP 200")
    assert got.path == "/api/v2/alerts"
    assert got.headers["content-type"] == "application/json"
    (sent,) = got.json()
    assert set(sent) == {"labels", "annotations", "startsAt", "endsAt", "generatorURL"}
    assert sent["labels"] == {
        "alertname": ALERT_NAME,
        "source": "govdrill",
        "drill": "operator-stop",
        "run_id": "r-1234",
        "target": "model-service",
        "incident": "harmful_output",
        "severity": "page",
        "team": "model-service",
    }
    assert sent["annotations"]["summary"] == alert.summary
    assert sent["annotations"]["runbook"] == "see http://127.0.0.1:8123"
    assert "admin_api" in sent["annotations"]["description"]
    assert sent["startsAt"] == "2025-01-02T03:04:05.678Z"
    starts = datetime.fromisoformat(sent["startsAt"])
    ends = datetime.fromisoformat(sent["endsAt"])
    assert ends > starts
    assert sent["generatorURL"] == alert.base_url


def test_webhook_template_keeps_hostile_values_json_escaped(alert: Alert) -> None:
    """A drill's text full of quotes, backslashes, braces, ${...} and control characters is
    sent as those characters inside valid JSON: never re-filled, never a secret."""
    hostile = 'He said "stop" \\ {run_id} ${hook_token} </script>\n\x00\u2028 end'
    hostile_alert = dataclasses.replace(alert, summary=hostile)
    template = {
        "text": "Drill {drill}: {summary}. Use {paths}. Deadline {deadline}.",
        "deadline": "{deadline}",
        "paths": "{paths}",
        "routing_key": "${hook_token}",
        "nested": [{"when": "{started_at}"}, 3, None, True],
    }
    with recorder() as hook:
        spec = {"webhook": {"url": f"http://127.0.0.1:{hook.port}/hook", "json": template}}
        (outcome,) = _notifiers("chat", spec).notify(["chat"], hostile_alert)
        got = hook.next()
    assert outcome.result is NotifyResult.OK
    body = got.json()
    assert body["text"].startswith("Drill operator-stop: " + hostile + ". Use admin_api.")
    assert "{run_id}" in body["text"] and "${hook_token}" in body["text"]
    assert SECRET not in body["text"]
    assert isinstance(body["deadline"], float) and 0 < body["deadline"] <= 30
    assert body["paths"] == ["admin_api"]
    assert body["routing_key"] == SECRET
    assert body["nested"] == [{"when": "2025-01-02T03:04:05.678Z"}, 3, None, True]


def test_webhook_that_never_answers_times_out_within_its_timeout(alert: Alert) -> None:
    """A receiver that accepts and never answers is recorded timed_out, within its timeout."""
    with silent_port() as port:
        notifiers = _notifiers("chat", {"webhook": {"url": f"http://127.0.0.1:{port}/h",
                                                    "timeout": "500ms"}})  # fmt: skip
        began = time.monotonic_ns()
        (outcome,) = notifiers.notify(["chat"], alert)
        took_s = (time.monotonic_ns() - began) / 1e9
    assert outcome.result is NotifyResult.TIMED_OUT, outcome
    assert outcome.detail == "no answer within 0.5s"
    assert 0.45 <= took_s < 1.5, took_s


def test_trickling_webhook_is_bounded_as_a_whole(alert: Alert) -> None:
    """A receiver sending a byte every 50 ms (each read succeeds) still ends at the timeout."""
    with trickling_port() as port:
        notifiers = _notifiers("chat", {"webhook": {"url": f"http://127.0.0.1:{port}/h",
                                                    "timeout": "500ms"}})  # fmt: skip
        began = time.monotonic_ns()
        (outcome,) = notifiers.notify(["chat"], alert)
        took_s = (time.monotonic_ns() - began) / 1e9
    assert outcome.result is NotifyResult.TIMED_OUT, outcome
    assert took_s < 1.5, took_s


def test_refused_webhook_fails_and_the_caller_goes_on(alert: Alert) -> None:
    """Nothing listening: failed with the reason, returned at once, nothing raised."""
    spec = {"webhook": {"url": f"http://127.0.0.1:{closed_port()}/h"}}
    (outcome,) = _notifiers("chat", spec).notify(["chat"], alert)
    assert outcome.result is NotifyResult.FAILED
    assert "ConnectionRefusedError" in outcome.detail
    assert outcome.returned_ns - outcome.sent_ns < 1_000_000_000


def test_non_2xx_answer_is_failed_with_its_status(alert: Alert) -> None:
    """A 500 from the receiver is failed, and the detail quotes the status."""
    with recorder(status=500, answer=b'{"error": "boom"}') as hook:
        spec = {"webhook": {"url": f"http://127.0.0.1:{hook.port}/h"}}
        (outcome,) = _notifiers("chat", spec).notify(["chat"], alert)
    assert outcome.result is NotifyResult.FAILED
    assert outcome.detail == 'HTTP 500 {"error": "boom"}'


def test_secret_headers_and_url_never_reach_the_detail(alert: Alert) -> None:
    """A receiver that echoes the request (header and URL path secrets) back in a 401: the
    outcome's detail has the secret redacted, and it still arrived where it should."""
    with recorder(status=401, answer=b"ECHO") as hook:
        spec = {
            "webhook": {
                "url": f"http://127.0.0.1:{hook.port}/services/${{hook_token}}",
                "headers": {"Authorization": "Bearer ${hook_token}"},
            }
        }
        (outcome,) = _notifiers("chat", spec).notify(["chat"], alert)
        got = hook.next()
    assert got.headers["authorization"] == f"Bearer {SECRET}"
    assert got.path == f"/services/{SECRET}"
    assert outcome.result is NotifyResult.FAILED
    assert SECRET not in outcome.detail and SECRET[:8] not in outcome.detail
    assert "[REDACTED:hook_token]" in outcome.detail
    assert len(outcome.detail) <= 300


def test_several_notifiers_are_sent_at_once(alert: Alert) -> None:
    """A hanging notifier does not delay the others: all outcomes come back within the
    longest timeout, one per name, in the order asked, an unknown name failed."""
    with silent_port() as port, recorder() as hook:
        specs = {
            "slow": NotifierSpec.model_validate(
                {"webhook": {"url": f"http://127.0.0.1:{port}/h", "timeout": "700ms"}}
            ),
            "fast": NotifierSpec.model_validate(
                {"webhook": {"url": f"http://127.0.0.1:{hook.port}/h", "timeout": "700ms"}}
            ),
        }
        notifiers = Notifiers.from_specs(specs, quiet=True)
        began = time.monotonic_ns()
        outcomes = notifiers.notify(["slow", "fast", "nobody"], alert)
        took_s = (time.monotonic_ns() - began) / 1e9
        hook.next()
    assert [o.notifier for o in outcomes] == ["slow", "fast", "nobody"]
    assert [o.result for o in outcomes] == [
        NotifyResult.TIMED_OUT,
        NotifyResult.OK,
        NotifyResult.FAILED,
    ]
    assert outcomes[2].kind is None
    assert took_s < 1.6, took_s
    json.dumps([o.detail for o in outcomes])
