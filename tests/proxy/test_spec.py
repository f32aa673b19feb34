"""ProxyRule validation: one fault, on the right path, a rate in [0, 1], and a reason when not."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from harness.spec.proxy import FaultKind, ProxyRule


@pytest.mark.parametrize(
    ("fields", "kind"),
    [
        ({"rewrite": {"json_path": "$.output", "append": " CANARY"}}, FaultKind.REWRITE),
        ({"rewrite": {"json_path": "$", "set": None}}, FaultKind.REWRITE),
        ({"rewrite": {"append": "tail"}}, FaultKind.REWRITE),
        ({"latency": {"mean": "200ms", "jitter": "50ms"}}, FaultKind.LATENCY),
        ({"error": {"status": 500}, "rate": 0.2}, FaultKind.ERROR),
        ({"reset": {}, "rate": 0.5}, FaultKind.RESET),
        ({"drop": {}}, FaultKind.DROP),
        ({"control": "admin_api", "refuse": {}, "for": "5s"}, FaultKind.REFUSE),
        ({"control": "admin_api", "latency": {"mean": "2s"}}, FaultKind.LATENCY),
        ({"control": "admin_api", "drop": {}}, FaultKind.DROP),
        ({"control": "admin_api", "lie": {"status": 200, "body": {"ok": True}}}, FaultKind.LIE),
    ],
)
def test_the_contract_examples_validate(fields: dict[str, Any], kind: FaultKind) -> None:
    """Every rule of the agreed syntax loads, and round-trips through JSON as the child reads it."""
    rule = ProxyRule.model_validate(fields)
    assert rule.kind is kind
    again = ProxyRule.model_validate_json(rule.model_dump_json(by_alias=True, exclude_unset=True))
    assert again == rule


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"error": {"status": 500}, "rate": 1.5}, "less than or equal to 1"),
        ({"error": {"status": 500}, "rate": -0.1}, "greater than or equal to 0"),
        ({"rewrite": {"json_path": "output", "append": "x"}}, "a JSON path starts with"),
        (
            {"rewrite": {"json_path": "$.a", "append": "x", "set": 1}},
            "exactly one of append or set",
        ),
        ({"rewrite": {"set": 1}}, "set needs json_path"),
        ({"refuse": {}}, "needs control"),
        ({"lie": {"status": 200}}, "needs control"),
        ({"control": "admin_api", "rewrite": {"append": "x"}}, "data-path fault"),
        ({"control": "admin_api", "error": {"status": 500}}, "data-path fault"),
        ({"drop": {}, "reset": {}}, "exactly one of"),
        ({"rate": 0.5}, "exactly one of"),
        ({"error": {"status": 200}}, "greater than or equal to 400"),
        ({"control": "a", "refuse": {}, "rate": 0.5}, "no rate"),
        ({"drop": {}, "for": "0s"}, "greater than 0"),
        ({"drop": {}, "unknown": 1}, "Extra inputs"),
    ],
)
def test_bad_rules_are_refused_with_a_reason(fields: dict[str, Any], message: str) -> None:
    """A rule that cannot apply is refused at validation, saying why."""
    with pytest.raises(ValidationError, match=message):
        ProxyRule.model_validate(fields)
