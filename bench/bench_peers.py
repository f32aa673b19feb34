"""Benchmark: the kill-switch scenario in Chaos Toolkit and in govdrill, healthy and stop theater.

One command::

    python3 bench/bench_peers.py [--quick] [--rounds N] [--chaos /tmp/ctk-venv/bin/chaos]

Chaos Toolkit (``chaostoolkit`` + ``chaostoolkit-lib``) lives in its own venv under /tmp,
never in this project's dependencies; when ``--chaos`` does not exist the benchmark creates
``/tmp/ctk-venv`` and installs both there with pip.

Each round (default 3, ``--quick`` 1) runs, alternating the order of the tools every round:

- Chaos Toolkit: the reference target started here (``serve.py`` with a port file, a token
  file and an events log, plus ``--defect stop_theater`` for the defective one), then
  ``chaos run bench/peers/kill-switch-experiment.json`` (steady-state hypothesis: the inference
  answer carries no canary; Locust in the background counting canary answers as failures;
  inject, probe, kill switch, probes; rollbacks resume and clear);
- govdrill: ``govdrill run bench/peers/kill-switch-healthy.yaml`` and
  ``govdrill run drills/defects/stop-theater.yaml`` (same load shape, same incident, same
  kill switch).

It prints what each tool concluded about the stop, what it can say about its timing, and
its wall time; the target's own events log says what really happened.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common

PEERS = Path(__file__).resolve().parent / "peers"
EXPERIMENT = PEERS / "kill-switch-experiment.json"
DRILLS = {
    "healthy": PEERS / "kill-switch-healthy.yaml",
    "stop_theater": _common.REPO / "drills" / "defects" / "stop-theater.yaml",
}
DEFAULT_CHAOS = Path("/tmp/ctk-venv/bin/chaos")


def ensure_chaos(chaos: Path) -> Path:
    """The ``chaos`` command, installed into a throwaway venv when it is missing."""
    if chaos.exists():
        return chaos
    venv = chaos.parent.parent
    print(f"installing chaostoolkit into {venv} (once)", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [str(venv / "bin" / "pip"), "install", "-q", "chaostoolkit", "chaostoolkit-lib"], check=True
    )
    return chaos


def start_target(defect: str, work: Path) -> tuple[subprocess.Popen[bytes], str, str, Path]:
    """The reference target as a user would start it: (process, url, token, events log)."""
    port_file, token_file, events = work / "port", work / "token", work / "events.jsonl"
    for p in (port_file, events):
        p.unlink(missing_ok=True)
    token = secrets.token_hex(16)
    token_file.write_text(token)
    cmd = [
        sys.executable,
        str(_common.SERVE_PY),
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--port-file",
        str(port_file),
        "--token-file",
        str(token_file),
        "--events",
        str(events),
    ]
    if defect != "healthy":
        cmd += ["--defect", defect]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while not port_file.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit("the target did not start")
        time.sleep(0.01)
    return proc, f"http://127.0.0.1:{int(port_file.read_text())}", token, events


def _events(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.open()] if path.exists() else []


def run_chaos(chaos: Path, defect: str, work: Path) -> dict[str, Any]:
    """One Chaos Toolkit run against a freshly started target: what its journal says."""
    t0 = time.perf_counter()
    proc, url, token, events_path = start_target(defect, work)
    t_ready = time.perf_counter()
    journal_path = work / "journal.json"
    journal_path.unlink(missing_ok=True)
    env = {
        **os.environ,
        "TARGET_URL": url,
        "ADMIN_TOKEN": token,
        "LOCUSTFILE": str(PEERS / "locustfile.py"),
        "PYTHONPATH": str(PEERS),
    }
    try:
        run = subprocess.run(
            [
                str(chaos),
                "--no-version-check",
                "run",
                "--journal-path",
                str(journal_path),
                str(EXPERIMENT),
            ],
            env=env,
            cwd=work,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            check=False,
        )
        t_done = time.perf_counter()
    finally:
        proc.terminate()
        proc.wait(10)
    journal = json.loads(journal_path.read_text())
    activities = {r["activity"]["name"]: r for r in journal.get("run", [])}
    stop = activities.get("kill-switch", {})
    after = activities.get("inference-after-stop", {})
    load = activities.get("locust-load", {})
    after_out = after.get("output") or {}
    load_out = load.get("output") or {}
    load_text = (load_out.get("stdout") or "") + (load_out.get("stderr") or "")
    harmful = re.search(r"(\d+)\s+POST /v1/generate: harmful: leaked canary", load_text)
    requests = re.search(r"Aggregated\s+(\d+)\s", load_text)
    truth = _events(events_path)
    stop_event = next((e for e in truth if e["event"] == "stop_effective"), None)
    steady_after = (journal.get("steady_states") or {}).get("after") or {}
    return {
        "tool": "chaostoolkit",
        "defect": defect,
        "status": journal.get("status"),
        "deviated": journal.get("deviated"),
        "steady_state_after_met": steady_after.get("steady_state_met"),
        "stop_action_status": stop.get("status"),
        "stop_action_duration_s": stop.get("duration"),
        "stop_action_http": (stop.get("output") or {}).get("status"),
        "after_stop_http": after_out.get("status"),
        "after_stop_leaks": "CANARY-" in json.dumps(after_out.get("body")),
        "locust_harmful_failures": int(harmful.group(1)) if harmful else 0,
        "locust_requests": int(requests.group(1)) if requests else None,
        "truth_stop_effective": stop_event is not None,
        "exit_code": run.returncode,
        "wall_s": t_done - t0,
        "chaos_run_s": t_done - t_ready,
    }


def run_govdrill(defect: str, work: Path) -> dict[str, Any]:
    """One ``govdrill run`` of the equivalent drill: what its summary says."""
    results = work / "results"
    shutil.rmtree(results, ignore_errors=True)
    t0 = time.perf_counter()
    run = subprocess.run(
        [*_common.govdrill_command(), "run", str(DRILLS[defect]), "-q", "--results", str(results)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        check=False,
        env=_common.govdrill_env(),
    )
    wall = time.perf_counter() - t0
    (summary_path,) = results.glob("*/*/summary.json")
    s = json.loads(summary_path.read_text())
    stop = s["metrics"].get("time_to_stop") or {}
    gt = s.get("ground_truth") or {}
    return {
        "tool": "govdrill",
        "defect": defect,
        "verdict": s["verdict"],
        "expectation_met": (s.get("expectation") or {}).get("met"),
        "stop_deadline": s["deadlines"]["stop"]["verdict"],
        "deadlines": {k: v["verdict"] for k, v in s["deadlines"].items()},
        "time_to_stop": [stop.get("lower"), stop.get("value"), stop.get("upper")],
        "time_to_ack_s": (s["metrics"].get("time_to_ack") or {}).get("value"),
        "harmful_after_ack": s["metrics"]["harmful_after_ack"]["value"],
        "stop_theater": s.get("stop_theater"),
        "stop_kind": (s.get("stop") or {}).get("kind"),
        "log_trustworthy": gt.get("log_trustworthy"),
        "stop_within_bounds": gt.get("stop_within_bounds"),
        "observations": s.get("observations"),
        "exit_code": run.returncode,
        "wall_s": wall,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1 round")
    parser.add_argument("--rounds", type=int)
    parser.add_argument("--chaos", type=Path, default=DEFAULT_CHAOS)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    rounds = args.rounds or (1 if args.quick else 3)
    chaos = ensure_chaos(args.chaos)
    version = subprocess.run([str(chaos), "--version"], capture_output=True, text=True).stdout
    _common.use_this_checkout()
    print(_common.machine())
    print(f"{version.strip()}; {rounds} rounds, tools alternating")
    rows: list[dict[str, Any]] = []
    with _common.workdir("peers") as tmp:
        work = Path(tmp)
        for round_ in range(rounds):
            tools = (
                ["chaostoolkit", "govdrill"] if round_ % 2 == 0 else ["govdrill", "chaostoolkit"]
            )
            for defect in ("healthy", "stop_theater"):
                for tool in tools:
                    row = (
                        run_chaos(chaos, defect, work)
                        if tool == "chaostoolkit"
                        else run_govdrill(defect, work)
                    )
                    rows.append(row)
                    print(f"  round {round_ + 1} {json.dumps(row)}", flush=True)
    print()
    for defect in ("healthy", "stop_theater"):
        for tool in ("chaostoolkit", "govdrill"):
            sel = [r for r in rows if r["tool"] == tool and r["defect"] == defect]
            walls = [r["wall_s"] for r in sel]
            last = sel[-1]
            if tool == "chaostoolkit":
                said = (
                    f"status {last['status']}, deviated {last['deviated']}, stop action "
                    f"{last['stop_action_status']} (HTTP {last['stop_action_http']} in "
                    f"{last['stop_action_duration_s']:.3f} s), inference 1 s after the stop: HTTP "
                    f"{last['after_stop_http']} leaking={last['after_stop_leaks']}, Locust canary "
                    f"failures {last['locust_harmful_failures']} of {last['locust_requests']}"
                )
            else:
                lo, mid, hi = last["time_to_stop"]
                stop_txt = "none observed" if mid is None else f"{mid:.4f} s [{lo:.4f}, {hi:.4f}]"
                said = (
                    f"verdict {last['verdict']} (expectation met: {last['expectation_met']}), stop "
                    f"{last['stop_deadline']}, time_to_stop {stop_txt}, harmful_after_ack "
                    f"{last['harmful_after_ack']}, stop_theater {last['stop_theater']}, log "
                    f"trustworthy {last['log_trustworthy']}"
                )
            print(f"{defect:13s} {tool:13s} wall {_common.spread(walls, fmt='.2f')} s")
            print(f"{'':28s}{said}")
    for defect in ("healthy", "stop_theater"):
        ratios = [
            g["wall_s"] / c["wall_s"]
            for g, c in zip(
                [r for r in rows if r["tool"] == "govdrill" and r["defect"] == defect],
                [r for r in rows if r["tool"] == "chaostoolkit" and r["defect"] == defect],
                strict=True,
            )
        ]
        print(
            f"wall-time ratio govdrill/chaostoolkit, {defect}: {statistics.median(ratios):.2f} "
            f"(per round {', '.join(f'{x:.2f}' for x in ratios)})"
        )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
