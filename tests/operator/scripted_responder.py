"""The reference target's scripted responder as a test's on-call: started on a free loopback
port, the drill's page pointed at it, its true action instants read back, and the checks
that the drill's human clock names it and brackets its act."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml

from tests.helpers import ROOT, events_of, summary_of, wait_for

RESPONDER = ROOT / "targets" / "model-service" / "responder.py"
TOKEN_ENV = "MODEL_SERVICE_ADMIN_TOKEN"
STARTUP_DEADLINE_S = 20.0
# Rounding of the summary's microsecond figures, so a comparison of nanosecond instants
# with them never fails by a rounding.
SLACK_S = 2e-6


@dataclass(frozen=True, slots=True)
class Responder:
    """A running responder: where to page it and where it writes what it did."""

    alerts_url: str
    actions: Path
    env: dict[str, str]
    """The environment to run the drill in: the admin token the responder holds is the one
    the target's secret reads first (``$MODEL_SERVICE_ADMIN_TOKEN``)."""

    def acted_ns(self) -> list[int]:
        """Each control call's instant (time.monotonic_ns() just before sending it)."""
        if not self.actions.exists():
            return []
        lines = self.actions.read_text().splitlines()
        return [int(json.loads(line)["t_ns"]) for line in lines if line.strip()]

    def overrides_for(self, drill: Path) -> tuple[str, ...]:
        """``--set`` arguments pointing every Alertmanager notifier of ``drill`` here."""
        notify = yaml.safe_load(drill.read_text()).get("notify") or {}
        return tuple(
            arg
            for name, spec in notify.items()
            if "alertmanager" in spec
            for arg in ("--set", f"notify.{name}.alertmanager.url={self.alerts_url}")
        )


def needs_operator(drill: Path) -> bool:
    """Whether a drill hands a stop to a person (``stop: {by: operator}``)."""
    steps = yaml.safe_load(drill.read_text()).get("steps") or []
    return any(isinstance(s.get("stop"), dict) and s["stop"].get("by") == "operator" for s in steps)


@contextlib.contextmanager
def responder_if_needed(drill: Path, workdir: Path) -> Iterator[Responder | None]:
    """A scripted responder while the block runs when ``drill`` needs an operator, else None."""
    if not needs_operator(drill):
        yield None
        return
    with scripted_responder(workdir) as responder:
        yield responder


@contextlib.contextmanager
def scripted_responder(workdir: Path, *, delay_s: float = 1.0) -> Iterator[Responder]:
    """Run responder.py on a free loopback port until the block ends, holding a fresh admin
    token; run the drill with :attr:`Responder.env` so the target gets the same token."""
    workdir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, TOKEN_ENV: secrets.token_hex(16)}
    port_file, actions = workdir / "responder.port", workdir / "responder.actions"
    command = [sys.executable, str(RESPONDER), "--port-file", str(port_file)]
    command += ["--actions", str(actions), "--delay", f"{delay_s:g}"]
    with (workdir / "responder.stderr").open("wb") as stderr:
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stderr=stderr, env=env)
    try:
        port = _wait_for_port(process, port_file)
        yield Responder(f"http://127.0.0.1:{port}/api/v2/alerts", actions, env)
    finally:
        process.terminate()
        process.wait(timeout=10)


def _wait_for_port(process: subprocess.Popen[bytes], port_file: Path) -> int:
    """The port the responder wrote once listening (it renames the file into place)."""
    wait_for(lambda: port_file.exists() or process.poll() is not None, STARTUP_DEADLINE_S)
    if not port_file.exists():
        raise AssertionError(f"responder wrote no port file (exit code {process.poll()})")
    return int(port_file.read_text())


def check_operator_stop(run: Path, responder: Responder) -> dict[str, float]:
    """The run's human clock names the responder and the admin path, no fallback was used,
    and the responder's one true action instant lies after the notification and before the
    stop's upper bound (the effect comes after the act). Returns the figures, in seconds from
    the incident."""
    summary = summary_of(run)
    clock = summary["human_clock"]
    assert clock["by"] == "scripted-responder" and clock["via"] == "admin_api", clock
    assert clock["fallback_used"] is False, clock
    (acted_ns,) = responder.acted_ns()
    waiting = next(e for e in events_of(run) if e["event"] == "operator_waiting")
    origin_ns = waiting["t_ns"] - round(clock["notified_s"] * 1e9)  # the incident
    act = (acted_ns - origin_ns) / 1e9
    effective = clock["effective"]
    figures = {
        "act": act,
        "notified": clock["notified_s"],
        "logged": clock["acted_s"],
        "lower": effective["lower"],
        "upper": effective["upper"],
    }
    assert clock["notified_s"] - SLACK_S <= act <= effective["upper"] + SLACK_S, figures
    truth = summary["ground_truth"]
    assert truth["stop_claimed_ns"] >= acted_ns, (truth, acted_ns)  # the effect after the act
    return figures
