"""Benchmark: what a drill costs beyond its own timeline, phase by phase, in the process sandbox.

One command::

    python3 bench/bench_overhead.py [--quick] [--runs N] [--drill DRILL]

Runs ``govdrill run DRILL -q --results TMP`` (default: drills/kill-switch-under-load.yaml) as
``python3 -m harness`` from this checkout, in a subprocess, ``--runs`` times (default 8,
``--quick`` 3) and takes the wall time of the whole process from just before ``fork`` to its
exit. The drill's own timeline is ``load_ready`` -> ``hold_complete`` in its timeline.jsonl
(the steps, their triggers and delays, and the hold: what the drill file asked for); the
**overhead** is the rest (goal <= 1.5 s). Every stamp is on the system-wide monotonic clock,
so the phases are read straight from timeline.jsonl:

=====================  =========================================================
phase                  from -> to
=====================  =========================================================
startup                fork -> ``run_started`` (interpreter, CLI import, drill parse,
                       reaper sweep, run folder)
sandbox                ``sandbox_starting`` -> ``target_ready``
load child             ``target_ready`` -> ``load_ready`` (child start, Locust import,
                       users spawned)
drill                  ``load_ready`` -> ``hold_complete`` (not overhead)
load stop              ``hold_complete`` -> ``load_stopped``
teardown               ``load_stopped`` -> ``teardown``
analysis               ``teardown`` -> ``verdict`` (metrics, ground truth, summary)
evidence + exit        ``verdict`` -> process exit (observations.csv.gz, summary.json,
                       seal, the printed result, interpreter shutdown)
=====================  =========================================================

It also times, alternating with nothing else, ``python3 -c 'import locust'`` and
``python3 -c 'import harness.cli'`` to attribute the import costs.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common

PHASES = (
    ("startup", None, "run_started"),
    ("(gap)", "run_started", "sandbox_starting"),
    ("sandbox", "sandbox_starting", "target_ready"),
    ("load child", "target_ready", "load_ready"),
    ("drill (not overhead)", "load_ready", "hold_complete"),
    ("load stop", "hold_complete", "load_stopped"),
    ("teardown", "load_stopped", "teardown"),
    ("analysis", "teardown", "verdict"),
    ("evidence + exit", "verdict", None),
)


def one_run(drill: Path, results: Path) -> dict[str, Any]:
    """One ``govdrill run``: its wall time and phases, in seconds."""
    shutil.rmtree(results, ignore_errors=True)
    t0 = time.monotonic_ns()
    proc = subprocess.run(
        [*_common.govdrill_command(), "run", str(drill), "-q", "--results", str(results)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        check=False,
        env=_common.govdrill_env(),
    )
    t1 = time.monotonic_ns()
    if proc.returncode not in (0, 1):
        raise SystemExit(f"govdrill exited {proc.returncode}: {proc.stderr.decode()[-2000:]}")
    (timeline_path,) = results.glob("*/*/timeline.jsonl")
    stamps: dict[str, int] = {}
    for line in timeline_path.open():
        event = json.loads(line)
        stamps.setdefault(event["event"], event["t_ns"])
    row = {"wall": (t1 - t0) / 1e9}
    for name, a, b in PHASES:
        start = t0 if a is None else stamps[a]
        end = t1 if b is None else stamps[b]
        row[name] = (end - start) / 1e9
    row["overhead"] = row["wall"] - row["drill (not overhead)"]
    (summary_path,) = results.glob("*/*/summary.json")
    truth = json.loads(summary_path.read_text()).get("ground_truth") or {}
    row["stop_within_bounds"] = truth.get("stop_within_bounds")
    row["rollback_within_bounds"] = truth.get("rollback_within_bounds")
    return row


def time_command(cmd: list[str]) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, env=_common.govdrill_env())
    return time.perf_counter() - t


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 runs")
    parser.add_argument("--runs", type=int)
    parser.add_argument(
        "--drill", type=Path, default=_common.REPO / "drills/kill-switch-under-load.yaml"
    )
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    runs = args.runs or (3 if args.quick else 8)
    args.drill = args.drill.resolve()
    _common.use_this_checkout()
    print(_common.machine())
    print(f"drill: {args.drill}; {runs} runs")
    rows: list[dict[str, Any]] = []
    imports: dict[str, list[float]] = {
        "python3 -c pass": [],
        "import harness.cli": [],
        "import locust": [],
    }
    commands = {
        "python3 -c pass": [sys.executable, "-c", "pass"],
        "import harness.cli": [sys.executable, "-c", "import harness.cli"],
        "import locust": [sys.executable, "-c", "import locust"],
    }
    with _common.workdir("overhead") as tmp:
        for i in range(runs):
            row = one_run(args.drill, Path(tmp) / "results")
            rows.append(row)
            for name, cmd in commands.items():
                imports[name].append(time_command(cmd))
            print(
                f"  run {i + 1}: wall {row['wall']:.2f} s, "
                f"drill {row['drill (not overhead)']:.2f} s, overhead {row['overhead']:.2f} s "
                f"(ground truth within bounds: stop {row['stop_within_bounds']}, "
                f"rollback {row['rollback_within_bounds']})",
                flush=True,
            )
    print()
    print(f"{'phase':22s} median s   min     p95     max")
    for name in ["wall", *(p[0] for p in PHASES), "overhead"]:
        v = [r[name] for r in rows]
        print(
            f"{name:22s} {statistics.median(v):7.3f} {min(v):7.3f} "
            f"{_common.percentile(v, 0.95):7.3f} {max(v):7.3f}"
        )
    print()
    for name, v in imports.items():
        print(f"{name:22s} {_common.spread(v)} s")
    overhead = statistics.median(r["overhead"] for r in rows)
    print(f"\noverhead median {overhead:.2f} s (goal <= 1.5 s)")
    if args.json:
        args.json.write_text(json.dumps({"runs": rows, "imports": imports}, indent=1))
    return 0 if overhead <= 1.5 else 1


if __name__ == "__main__":
    sys.exit(main())
