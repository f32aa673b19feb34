"""Each proxy rule against a real upstream on loopback, with its counts and its events log."""

from __future__ import annotations

import contextlib
import json
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness.proxy import FaultProxy, RuleCount
from harness.spec.proxy import ProxyRule
from tests.helpers import wait_for
from tests.proxy.client import Outcome, fetch
from tests.proxy.upstream import BIG_OUTPUT, Upstream


def rule(**fields: Any) -> ProxyRule:
    """A validated rule, as a drill would write it."""
    return ProxyRule.model_validate(fields)


def log_of(proxy: FaultProxy) -> list[dict[str, Any]]:
    """The proxy's events log, parsed."""
    return [json.loads(line) for line in proxy.events_path.read_text().splitlines()]


def test_no_rule_passes_answers_through_unchanged(drill_proxy: FaultProxy) -> None:
    """Without a rule, the answer is the upstream's byte for byte."""
    got = fetch(drill_proxy.base_url, "/json")
    assert got.outcome is Outcome.ANSWER and got.status == 200
    assert got.body == json.dumps({"output": "hello", "n": 1}).encode()


def test_rewrite_appends_to_a_json_field_and_recomputes_the_length(drill_proxy: FaultProxy) -> None:
    """Append at a json_path: the field changes, Content-Length matches the new body."""
    on = drill_proxy.enable("leak", rule(rewrite={"json_path": "$.output", "append": " CANARY"}))
    got = fetch(drill_proxy.base_url, "/json")
    assert got.json() == {"output": "hello CANARY", "n": 1}
    assert got.headers is not None and int(got.headers["Content-Length"]) == len(got.body)
    off = drill_proxy.disable("leak")
    assert fetch(drill_proxy.base_url, "/json").json()["output"] == "hello"
    assert drill_proxy.counts()["leak"] == RuleCount(touched=1, seen=1, unmatched=0)
    events = log_of(drill_proxy)
    assert [e["event"] for e in events[:2]] == ["rule_on", "rule_off"]
    assert events[0]["t_ns"] == on and events[1]["t_ns"] == off and on < off
    assert events[1]["touched"] == 1


def test_rewrite_sets_a_json_value(drill_proxy: FaultProxy) -> None:
    """``set`` replaces the value at the path with any JSON value."""
    drill_proxy.enable("swap", rule(rewrite={"json_path": "$.n", "set": {"x": [1, 2]}}))
    assert fetch(drill_proxy.base_url, "/json").json() == {"output": "hello", "n": {"x": [1, 2]}}


def test_append_without_path_appends_text_to_any_body(drill_proxy: FaultProxy) -> None:
    """``append`` alone appends to the raw body, JSON or not."""
    drill_proxy.enable("tail", rule(rewrite={"append": " and more"}))
    assert fetch(drill_proxy.base_url, "/text").body == b"plain words and more"


def test_json_path_on_a_non_json_answer_counts_unmatched(drill_proxy: FaultProxy) -> None:
    """A json_path rule on text passes the answer unchanged and counts it unmatched."""
    drill_proxy.enable("leak", rule(rewrite={"json_path": "$.output", "append": "!"}))
    assert fetch(drill_proxy.base_url, "/text").body == b"plain words"
    assert fetch(drill_proxy.base_url, "/json").json()["output"] == "hello!"
    assert drill_proxy.counts()["leak"] == RuleCount(touched=1, seen=2, unmatched=1)


def test_an_answer_over_the_cap_passes_unmodified_and_counted(drill_proxy: FaultProxy) -> None:
    """An answer larger than max_body is relayed whole, not held: unchanged, unmatched."""
    drill_proxy.enable("leak", rule(rewrite={"json_path": "$.output", "append": "!"}))
    assert fetch(drill_proxy.base_url, "/big").json() == {"output": BIG_OUTPUT}
    assert drill_proxy.counts()["leak"].unmatched == 1


def test_error_rule_answers_its_status_without_forwarding(
    drill_proxy: FaultProxy, drill_upstream: Upstream
) -> None:
    """``error`` answers the configured status; the upstream never sees the request."""
    drill_proxy.enable("flaky", rule(error={"status": 500, "body": "boom"}))
    got = fetch(drill_proxy.base_url, "/json")
    assert (got.status, got.body) == (500, b"boom")
    assert drill_upstream.requests == 0


def test_rate_touches_a_fraction_of_requests(drill_proxy: FaultProxy) -> None:
    """At rate 0 the rule sees every request and touches none."""
    drill_proxy.enable("never", rule(error={"status": 500}, rate=0.0))
    assert all(fetch(drill_proxy.base_url, "/json").status == 200 for _ in range(5))
    assert drill_proxy.counts()["never"] == RuleCount(touched=0, seen=5, unmatched=0)


def test_latency_rule_holds_each_request(drill_proxy: FaultProxy) -> None:
    """``latency`` delays the answer by at least mean - jitter."""
    drill_proxy.enable("slow", rule(latency={"mean": "300ms", "jitter": "50ms"}))
    start = time.monotonic_ns()
    assert fetch(drill_proxy.base_url, "/json").status == 200
    assert time.monotonic_ns() - start >= 250_000_000
    assert drill_proxy.counts()["slow"].touched == 1


def test_reset_rule_resets_the_connection(drill_proxy: FaultProxy) -> None:
    """``reset`` ends the client's connection with a TCP RST."""
    drill_proxy.enable("resets", rule(reset={}))
    assert fetch(drill_proxy.base_url, "/json").outcome is Outcome.RESET


def test_drop_rule_never_answers(drill_proxy: FaultProxy, tmp_path: Path) -> None:
    """``drop`` holds the request unanswered until the proxy (or client) goes away."""
    drill_proxy.enable("blackhole", rule(drop={}))
    with socket.create_connection(("127.0.0.1", drill_proxy.port), timeout=10) as s:
        s.sendall(b"GET /json HTTP/1.1\r\nHost: x\r\n\r\n")
        assert wait_for(lambda: drill_proxy.counts()["blackhole"].touched == 1, 10)
        s.setblocking(False)
        try:
            early = s.recv(100)
        except BlockingIOError:
            early = None
        assert early is None, f"a dropped request got {early!r}"
        drill_proxy.close()
        s.setblocking(True)
        # the proxy went away: a close or a reset, either way no answer ever came
        with contextlib.suppress(ConnectionResetError):
            assert s.recv(100) == b""


def test_lie_rule_answers_without_forwarding(
    drill_proxy: FaultProxy, drill_upstream: Upstream
) -> None:
    """``lie`` acknowledges with its own status and body; the upstream sees nothing."""
    drill_proxy.enable("lies", rule(control="admin", lie={"status": 200, "body": {"ok": True}}))
    got = fetch(drill_proxy.base_url, "/json")
    assert (got.status, got.json()) == (200, {"ok": True})
    assert drill_upstream.requests == 0


def test_refuse_rule_refuses_connections_until_switched_off(drill_proxy: FaultProxy) -> None:
    """``refuse`` closes the listener (connects refused); switching it off listens again."""
    drill_proxy.enable("partition", rule(control="admin", refuse={}))
    assert fetch(drill_proxy.base_url, "/json").outcome is Outcome.REFUSED
    drill_proxy.disable("partition")
    assert wait_for(lambda: fetch(drill_proxy.base_url, "/json").status == 200, 10)


def test_for_switches_a_rule_off_by_itself(drill_proxy: FaultProxy) -> None:
    """A rule with ``for`` turns off by itself; the proxy stamps and reports the moment."""
    on = drill_proxy.enable("partition", rule(control="admin", refuse={}, **{"for": "300ms"}))
    assert wait_for(lambda: bool(drill_proxy.events), 10)
    event = drill_proxy.events[0]
    assert event.rule == "partition" and event.t_ns - on >= 300_000_000
    assert wait_for(lambda: fetch(drill_proxy.base_url, "/json").status == 200, 10)
    offs = [e for e in log_of(drill_proxy) if e["event"] == "rule_off"]
    assert offs[0]["t_ns"] == event.t_ns and offs[0]["reason"] == "for"


def test_a_bad_command_is_refused_and_the_proxy_goes_on(drill_proxy: FaultProxy) -> None:
    """Disabling an unknown rule is harmless; the relay still works."""
    drill_proxy.disable("never-enabled")
    assert fetch(drill_proxy.base_url, "/json").status == 200


def test_close_writes_the_final_counts(
    drill_proxy_for: Callable[[str], FaultProxy], drill_upstream: Upstream
) -> None:
    """Closing switches every rule off in the log, with its counts."""
    proxy = drill_proxy_for(drill_upstream.url)
    proxy.enable("leak", rule(rewrite={"json_path": "$.output", "append": "!"}))
    fetch(proxy.base_url, "/json")
    proxy.close()
    offs = [e for e in log_of(proxy) if e["event"] == "rule_off"]
    assert offs == [
        {**offs[0], "rule": "leak", "reason": "close", "touched": 1, "seen": 1, "unmatched": 0}
    ]
