"""Whole drills with a person in them, against the purpose-built complaint service (a real
process, real load, real HTTP): a complaint reversed by the service, a complaint black hole
the fallback has to stop, and an operator stop performed by a scripted responder that the
harness notifies and that calls the real admin stop."""

from __future__ import annotations

import http.client
import json
import signal
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from harness.engine import run_drill
from harness.halt import Halt
from harness.operator import Alert, NotifyOutcome, NotifyResult
from harness.spec.models import RunVerdict
from tests.helpers import events_of
from tests.operator.drills import CONTEST, OPERATOR, load


class ScriptedResponder:
    """Answers the alert, then after ``delay_s`` stops the service through the real admin
    path as ``scripted-responder``, noting its own action instant."""

    def __init__(self, delay_s: float) -> None:
        self.delay_s = delay_s
        self.acted_ns: list[int] = []

    def notify(self, names: Sequence[str], alert: Alert) -> list[NotifyResult]:
        """Accept the alert and act on a thread of its own."""
        threading.Thread(target=self._act, args=(alert.base_url,), daemon=True).start()
        now = time.monotonic_ns()
        return [NotifyResult(n, NotifyOutcome.OK, "scripted", now, now) for n in names]

    def _act(self, base_url: str) -> None:
        time.sleep(self.delay_s)  # the responder's own delay, not the test's synchronisation
        url = urlsplit(base_url)
        conn = http.client.HTTPConnection(url.hostname or "", url.port, timeout=5)
        self.acted_ns.append(time.monotonic_ns())
        conn.request("POST", "/admin/stop", headers={"X-Operator": "scripted-responder"})
        conn.getresponse().read()
        conn.close()


def _summary(run_dir: Path) -> dict[str, object]:
    return json.loads((run_dir / "summary.json").read_text())  # type: ignore[no-any-return]


def test_contest_reversed_by_the_service_passes(tmp_path: Path) -> None:
    """One complaint through POST /v1/feedback makes the service roll back: the reversal
    deadline is met, time_to_reversal has both bounds, the complaint is in the timeline."""
    result = run_drill(load(tmp_path, CONTEST), results=tmp_path / "results")
    summary = _summary(result.run_dir)
    assert result.verdict is RunVerdict.PASSED, summary["deadlines"]
    metric = summary["metrics"]["time_to_reversal"]  # type: ignore[index]
    assert 0 <= metric["lower"] <= metric["value"] <= metric["upper"] <= 3.0
    assert summary["deadlines"]["reversal"]["verdict"] == "met"  # type: ignore[index]
    names = [e["event"] for e in events_of(result.run_dir)]
    assert "contest_filed" in names and "fallback_started" not in names


def test_complaint_black_hole_falls_back_and_misses(tmp_path: Path) -> None:
    """Complaints accepted, nothing changes: at the reversal deadline the harness's fallback
    stops the service (recorded), and the reversal deadline is missed."""
    text = CONTEST.replace("hold: 1s", 'hold: 1s\ntarget_args: [--rollback-after, "0"]')
    result = run_drill(load(tmp_path, text), results=tmp_path / "results")
    summary = _summary(result.run_dir)
    assert result.verdict is RunVerdict.FAILED
    assert summary["deadlines"]["reversal"]["verdict"] == "missed"  # type: ignore[index]
    started = [e for e in events_of(result.run_dir) if e["event"] == "fallback_started"]
    assert started and started[0]["deadline"] == "reversal"
    assert summary["rungs"][0]["name"] == "admin_api"  # type: ignore[index]


def test_operator_stop_by_a_scripted_responder(tmp_path: Path) -> None:
    """The harness notifies and calls no stop; the responder stops the service 1 s later
    through the real admin path. The human clock names who acted and through which path, the
    acknowledgement is the call in the target's log, and the bounds of the effective stop
    contain the responder's true action instant."""
    responder = ScriptedResponder(delay_s=1.0)
    drill = load(tmp_path, OPERATOR.replace("notify: [oncall, console]", "notify: [oncall]"))
    result = run_drill(drill, results=tmp_path / "results", notifier=responder)
    summary = _summary(result.run_dir)
    clock = summary["human_clock"]
    assert result.verdict is RunVerdict.PASSED, (summary["deadlines"], clock)
    assert clock["by"] == "scripted-responder" and clock["via"] == "admin_api"  # type: ignore[index]
    assert clock["fallback_used"] is False  # type: ignore[index]
    assert clock["notified_s"] <= clock["acted_s"] <= clock["effective"]["upper"]  # type: ignore[index]
    events = events_of(result.run_dir)
    assert [e["by"] for e in events if e["event"] == "operator_acted"] == ["scripted-responder"]
    (acted,) = responder.acted_ns
    zero = summary["zero_ns"]
    issued = next(e for e in events if e["event"] == "operator_waiting")["t_s"]
    stop = summary["metrics"]["time_to_stop"]  # type: ignore[index]
    # The responder acted (sent its call) before the gate closed, and the gate closed by the
    # upper bound: the upper bound is after the true action instant.
    assert (acted - zero) / 1e9 <= issued + stop["upper"] + 1e-6  # type: ignore[operator]
    assert "stop_rung_issued" not in [e["event"] for e in events]


class HaltWhenNotified:
    """A live view that presses the halt button (as Ctrl-C would) once the operator has been
    notified, so the wait on a person is what the halt interrupts."""

    def __init__(self, halt: Halt) -> None:
        self.halt = halt

    def event(self, record: dict[str, Any]) -> None:
        """Halt on the first ``operator_notified``."""
        if record.get("event") == "operator_notified":
            self.halt.set(signal.SIGINT)

    def status(self, status: Any) -> None:
        """Nothing to show."""


def test_halt_during_the_wait_on_a_person_runs_the_fallback_stop(tmp_path: Path) -> None:
    """Ctrl-C while the harness waits for an operator who never acts: the fallback ladder
    stops the service at once (recorded as started by the interruption), teardown follows, and
    the run is interrupted rather than left waiting for its 60 s deadline."""
    text = OPERATOR.replace("stop: 5s", "stop: 60s").replace(
        "time_in_harm: 8s", "time_in_harm: 60s"
    )
    halt = Halt()
    started = time.monotonic()
    result = run_drill(
        load(tmp_path, text),
        results=tmp_path / "results",
        halt=halt,
        view=HaltWhenNotified(halt),
        notifier=ScriptedResponder(delay_s=3600),  # an operator who never gets to act
    )
    assert time.monotonic() - started < 30
    summary = _summary(result.run_dir)
    assert summary["verdict"] == "interrupted", summary.get("verdict")
    events = events_of(result.run_dir)
    fallback = [e for e in events if e["event"] == "fallback_started"]
    assert fallback and fallback[0]["why"] == "interrupted", fallback
    rungs = summary["rungs"]
    assert rungs and rungs[0]["name"] == "admin_api" and rungs[0]["outcome"] in ("acked", "held")
