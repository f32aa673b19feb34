"""Benchmark: does an operator stop's human clock bracket the person's true act?

One command::

    python3 bench/bench_human_clock.py [--runs N] [--json FILE]

Runs ``drills/operator-stop.yaml`` unchanged (``govdrill run``, process sandbox, the
reference target) ``--runs`` times (default 10), each with a fresh scripted responder
(targets/model-service/responder.py) as its on-call: the drill's Alertmanager page is pointed
at the responder (``--set notify.oncall.alertmanager.url=...``), which waits its delay and
then calls ``POST /admin/stop`` as ``scripted-responder``, writing its true action instant
(``time.monotonic_ns()`` just before the call, the harness's clock) to its actions file.
The delays cycle through :data:`DELAYS_S`, so the act falls at different moments of the load.

Per run it prints, in seconds from the incident (the human clock's origin): the page
(``notified_s``), the responder's true act, the control call as the target logged it
(``acted_s``), and the bounds ``[lower, upper]`` of the stop's effect as the load saw it.
The act precedes its effect, and follows the page, so the drill brackets it when
``notified_s <= act <= upper``; ``upper - act`` is how soon after the act the load proved
the stop. Every run must bracket it; the exit code is 1 otherwise. The bounds of the effect
itself, ``[lower, upper]``, need not contain the act: the effect comes a few milliseconds
after it, so the act often lies just before ``lower``; the tally says how often.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import _common

DRILL = _common.REPO / "drills" / "operator-stop.yaml"
RESPONDER = _common.TARGETS / "model-service" / "responder.py"
DELAYS_S = (0.2, 0.5, 1.0, 1.5, 2.0, 3.0, 0.1, 0.75, 2.5, 4.0)
SLACK_S = 2e-6
"""The summary's figures are rounded to the microsecond."""


@contextlib.contextmanager
def responder(workdir: Path, delay_s: float, env: dict[str, str]) -> Iterator[tuple[str, Path]]:
    """A scripted responder on a free loopback port: (its Alertmanager URL, actions file)."""
    port_file, actions = workdir / "port", workdir / "actions"
    command = [sys.executable, str(RESPONDER), "--port-file", str(port_file)]
    command += ["--actions", str(actions), "--delay", f"{delay_s:g}"]
    process = subprocess.Popen(command, env=env, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while not port_file.exists():
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the responder did not start (exit {process.poll()})")
            time.sleep(0.01)  # waiting for the port file to appear
        yield f"http://127.0.0.1:{int(port_file.read_text())}/api/v2/alerts", actions
    finally:
        process.terminate()
        process.wait(timeout=10)


def one_run(index: int, delay_s: float, scratch: Path) -> dict[str, Any]:
    """Run the drill once with a responder of ``delay_s``; the figures of its human clock."""
    workdir = scratch / f"run-{index:02d}"
    workdir.mkdir()
    env = {**_common.govdrill_env(), "MODEL_SERVICE_ADMIN_TOKEN": secrets.token_hex(16)}
    with responder(workdir, delay_s, env) as (url, actions):
        command = [*_common.govdrill_command(), "run", str(DRILL), "-q"]
        command += ["--results", str(workdir / "results")]
        command += ["--set", f"notify.oncall.alertmanager.url={url}"]
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise SystemExit(f"run {index} exited {done.returncode}:\n{done.stdout}{done.stderr}")
    (run,) = (workdir / "results").glob("*/*/summary.json")
    summary = json.loads(run.read_text())
    timeline = [json.loads(line) for line in (run.parent / "timeline.jsonl").open()]
    clock = summary["human_clock"]
    waiting = next(e for e in timeline if e["event"] == "operator_waiting")
    origin_ns = waiting["t_ns"] - round(clock["notified_s"] * 1e9)
    (act_ns,) = [json.loads(line)["t_ns"] for line in actions.read_text().splitlines()]
    act = (act_ns - origin_ns) / 1e9
    effective = clock["effective"]
    return {
        "run": index,
        "delay_s": delay_s,
        "verdict": summary["verdict"],
        "by": clock["by"],
        "fallback_used": clock["fallback_used"],
        "notified_s": clock["notified_s"],
        "act_s": round(act, 6),
        "logged_s": clock["acted_s"],
        "lower_s": effective["lower"],
        "upper_s": effective["upper"],
        "contained": clock["notified_s"] - SLACK_S <= act <= effective["upper"] + SLACK_S,
    }


def main() -> int:
    """Run the benchmark and print one line a run, then the tally."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10, help="drills to run (default 10)")
    parser.add_argument("--json", type=Path, help="also write every run's figures here")
    args = parser.parse_args()
    _common.use_this_checkout()
    print(_common.machine())
    print(f"drill {DRILL.relative_to(_common.REPO)}; seconds from the incident")
    header = "run delay  notified    act(true)  logged     stop lower  stop upper  upper-act  in"
    print(header)
    rows = []
    with tempfile.TemporaryDirectory(prefix="govdrill-human-clock-") as scratch:
        for index in range(args.runs):
            delay = DELAYS_S[index % len(DELAYS_S)]
            row = one_run(index + 1, delay, Path(scratch))
            rows.append(row)
            print(
                f"{row['run']:>3} {delay:>5.2f}  {row['notified_s']:>8.4f}  {row['act_s']:>9.4f}"
                f"  {row['logged_s']:>8.4f}  {row['lower_s']:>10.4f}  {row['upper_s']:>10.4f}"
                f"  {(row['upper_s'] - row['act_s']) * 1e3:>7.1f}ms  "
                f"{'yes' if row['contained'] else 'NO'}"
                f"  ({row['verdict']}, by {row['by']}, fallback {row['fallback_used']})",
                flush=True,
            )
    inside = sum(row["contained"] for row in rows)
    passed = sum(row["verdict"] == "passed" and not row["fallback_used"] for row in rows)
    gaps = [(row["upper_s"] - row["act_s"]) for row in rows]
    tight = sum(row["lower_s"] <= row["act_s"] for row in rows)
    print(f"bracketed: {inside}/{len(rows)}; passed without fallback: {passed}/{len(rows)}")
    print(
        f"act inside the effect's own bounds [lower, upper]: {tight}/{len(rows)} (else just"
        " before lower: the effect follows the act by the call's way to the kill switch)"
    )
    print(f"upper - act: {_common.spread(gaps, 1e3, '.1f')} ms")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0 if inside == len(rows) == passed else 1


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
