"""Benchmark: what a drill costs beyond its own timeline, phase by phase, alone and in a suite.

One command::

    python3 bench/bench_overhead.py [--quick] [--runs N] [--suite K] [--suites M]
                                    [--baseline-ref REF] [--drill DRILL]

**Single drill.** Runs ``govdrill run DRILL -q --results TMP`` (default:
drills/kill-switch-under-load.yaml) as ``python3 -m harness`` from this checkout, in a
subprocess, ``--runs`` times (default 8, ``--quick`` 3) and takes the wall time of the whole
process from just before ``fork`` to its exit. The drill's own timeline is ``load_ready`` ->
``hold_complete`` in its timeline.jsonl (the steps, their triggers and delays, and the hold:
what the drill file asked for); the **overhead** is the rest. Every stamp is on the system-wide
monotonic clock, so the phases are read straight from timeline.jsonl:

=====================  =========================================================
phase                  from -> to
=====================  =========================================================
startup                fork -> ``run_started`` (interpreter, CLI import, drill parse,
                       reaper sweep, run folder)
sandbox                ``sandbox_starting`` -> ``target_ready``
load child             ``target_ready`` -> ``load_ready`` (what is left of the child's
                       start once the target is ready: config, users spawned, and any
                       of the Locust import not yet done)
drill                  ``load_ready`` -> ``hold_complete`` (not overhead)
load stop              ``hold_complete`` -> ``load_stopped``
teardown               ``load_stopped`` -> ``teardown``
analysis               ``teardown`` -> ``verdict`` (metrics, ground truth, summary)
evidence + exit        ``verdict`` -> process exit (observations.csv.gz, summary.json,
                       seal, the printed result, interpreter shutdown)
=====================  =========================================================

``spawn -> warm`` (``load_spawned``'s spawn stamp -> the child's ``#W`` stamp in
``load_ready``) is how long the child took to import Locust, overlapped with the phases above.

**Suite** (``--suite K``, default 4; 0: none). ``govdrill run DRILL DRILL ...`` (K copies) in
one invocation, ``--suites`` times (default 2, ``--quick`` 1). Drill i >= 2 **adds**
``verdict(i) - verdict(i-1) - drill(i)``: the previous drill's evidence and printed result, and
this drill's whole overhead up to its verdict, split the same way.

**Goals** (issue 18), printed side by side with ``python3 -c 'import locust'`` timed in the
same run: a single drill's overhead <= 1.0x that import (median against median), and each
drill after the first in a suite adds <= 0.3 s (every one of them, and the median).

**Baseline** (``--baseline-ref REF``): ``git archive REF harness`` unpacked into a temporary
folder runs the same single drills and suites, alternating with this checkout run for run
(the drill file and its target are this checkout's for both).

It also times, after every single run, ``python3 -c pass``, ``python3 -c 'import
harness.cli'`` and ``python3 -c 'import locust'`` to attribute the import costs.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
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


SUITE_PHASES = (
    ("previous evidence + startup", "verdict-1", "run_started"),
    ("(gap)", "run_started", "sandbox_starting"),
    ("sandbox", "sandbox_starting", "target_ready"),
    ("load child", "target_ready", "load_ready"),
    ("load stop", "hold_complete", "load_stopped"),
    ("teardown", "load_stopped", "teardown"),
    ("analysis", "teardown", "verdict"),
)
SINGLE_GOAL_X = 1.0
"""A single drill's overhead, at most this many times ``python -c 'import locust'``."""
LATER_GOAL_S = 0.3
"""What each drill after the first in a suite may add, at most."""
LEGACY_GOAL_S = 1.5


@dataclass(frozen=True)
class Side:
    """The code one measurement runs: this checkout or a baseline snapshot."""

    name: str
    root: Path

    def command(self, *args: str) -> list[str]:
        """``govdrill ARGS`` from this side's code."""
        return [sys.executable, "-m", "harness", *args]

    def env(self) -> dict[str, str]:
        """The environment that puts this side's package first."""
        env = _common.govdrill_env()
        env["PYTHONPATH"] = os.pathsep.join([str(self.root), env.get("PYTHONPATH", "")])
        return env


def _timelines(results: Path) -> list[list[dict[str, Any]]]:
    """Every run's timeline under ``results``, in the order they ran."""
    found = []
    for path in results.glob("*/*/timeline.jsonl"):
        found.append([json.loads(line) for line in path.open()])
    return sorted(found, key=lambda events: events[0]["t_ns"])


def _stamps(events: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The first entry of each event name."""
    stamps: dict[str, dict[str, Any]] = {}
    for event in events:
        stamps.setdefault(event["event"], event)
    return stamps


def _invoke(side: Side, drills: list[Path], results: Path) -> tuple[int, int]:
    """Run ``govdrill run DRILLS -q`` from ``side``; the monotonic stamps around it."""
    shutil.rmtree(results, ignore_errors=True)
    t0 = time.monotonic_ns()
    proc = subprocess.run(
        side.command("run", *map(str, drills), "-q", "--results", str(results)),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        check=False,
        env=side.env(),
        cwd=side.root,  # `-m` puts the working folder first on the path
    )
    t1 = time.monotonic_ns()
    if proc.returncode not in (0, 1):
        raise SystemExit(f"govdrill exited {proc.returncode}: {proc.stderr.decode()[-2000:]}")
    return t0, t1


def _warm_row(stamps: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """How the load child was started: spawn -> warm, and whether it was warm in time."""
    spawned = stamps.get("load_spawned")
    ready = stamps["load_ready"]
    warm_ns = ready.get("warm_ns")
    if spawned is None or warm_ns is None:  # a harness without the warm path
        return {"spawn -> warm": None, "warm before config": None, "source": "-"}
    return {
        "spawn -> warm": (warm_ns - spawned["spawned_ns"]) / 1e9,
        "warm before config": warm_ns <= stamps["load_starting"]["t_ns"],
        "source": spawned["source"],
    }


def one_run(side: Side, drill: Path, results: Path) -> dict[str, Any]:
    """One ``govdrill run`` of one drill: its wall time and phases, in seconds."""
    t0, t1 = _invoke(side, [drill], results)
    (events,) = _timelines(results)
    stamps = {name: e["t_ns"] for name, e in _stamps(events).items()}
    row: dict[str, Any] = {"wall": (t1 - t0) / 1e9}
    for name, a, b in PHASES:
        start = t0 if a is None else stamps[a]
        end = t1 if b is None else stamps[b]
        row[name] = (end - start) / 1e9
    row["overhead"] = row["wall"] - row["drill (not overhead)"]
    row.update(_warm_row(_stamps(events)))
    (summary_path,) = results.glob("*/*/summary.json")
    truth = json.loads(summary_path.read_text()).get("ground_truth") or {}
    row["stop_within_bounds"] = truth.get("stop_within_bounds")
    row["rollback_within_bounds"] = truth.get("rollback_within_bounds")
    return row


def one_suite(side: Side, drill: Path, size: int, results: Path) -> list[dict[str, Any]]:
    """One ``govdrill run DRILL x size``: for each drill after the first, what it added."""
    _invoke(side, [drill] * size, results)
    timelines = _timelines(results)
    if len(timelines) != size:
        raise SystemExit(f"{side.name}: {len(timelines)} runs of {size}")
    rows = []
    for before, events in itertools.pairwise(timelines):
        stamps = {name: e["t_ns"] for name, e in _stamps(events).items()}
        stamps["verdict-1"] = _stamps(before)["verdict"]["t_ns"]
        row: dict[str, Any] = {name: (stamps[b] - stamps[a]) / 1e9 for name, a, b in SUITE_PHASES}
        drill_s = (stamps["hold_complete"] - stamps["load_ready"]) / 1e9
        row["added"] = (stamps["verdict"] - stamps["verdict-1"]) / 1e9 - drill_s
        row.update(_warm_row(_stamps(events)))
        rows.append(row)
    return rows


def time_command(cmd: list[str]) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, env=_common.govdrill_env())
    return time.perf_counter() - t


def archive(ref: str, into: Path) -> Path:
    """``git archive ref harness`` of this repository, unpacked into ``into``."""
    into.mkdir(parents=True, exist_ok=True)
    tar = subprocess.run(
        ["git", "-C", str(_common.REPO), "archive", ref, "harness"], capture_output=True, check=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=tar, check=True)
    return into


def _table(title: str, names: list[str], rows: dict[str, list[dict[str, Any]]]) -> None:
    """Median (min-max) of each phase, one column per side."""
    sides = [side for side, got in rows.items() if got]
    print(f"\n{title}")
    print(f"{'phase':30s}" + "".join(f"{side:>28s}" for side in sides))
    for name in names:
        cells = []
        for side in sides:
            values = [r[name] for r in rows[side] if isinstance(r.get(name), float)]
            cells.append(
                f"{statistics.median(values):7.3f} ({min(values):.3f}-{max(values):.3f})"
                if values
                else "-"
            )
        print(f"{name:30s}" + "".join(f"{cell:>28s}" for cell in cells))
    for side in sides:
        sources = sorted({str(r.get("source")) for r in rows[side]})
        warm = [r.get("warm before config") for r in rows[side]]
        print(f"  {side}: load child source {', '.join(sources)}; warm before its config in"
              f" {sum(w is True for w in warm)} of {len(warm)}")  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 single runs, 1 suite")
    parser.add_argument("--runs", type=int)
    parser.add_argument("--suite", type=int, default=4, metavar="K", help="drills per suite")
    parser.add_argument("--suites", type=int, metavar="M", help="suite invocations")
    parser.add_argument(
        "--baseline-ref", metavar="REF", help="also measure `git archive REF harness`"
    )
    parser.add_argument(
        "--drill", type=Path, default=_common.REPO / "drills/kill-switch-under-load.yaml"
    )
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    runs = args.runs or (3 if args.quick else 8)
    suites = 0 if args.suite < 2 else (args.suites or (1 if args.quick else 2))
    args.drill = args.drill.resolve()
    _common.use_this_checkout()
    print(_common.machine())
    print(f"drill: {args.drill}; {runs} single runs, {suites} suites of {args.suite}")
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
        sides = [Side("this", _common.REPO)]
        if args.baseline_ref:
            root = archive(args.baseline_ref, Path(tmp) / "baseline")
            sides.append(Side(f"baseline {args.baseline_ref}", root))
            print(f"baseline: git archive {args.baseline_ref} harness -> {root}")
        single: dict[str, list[dict[str, Any]]] = {side.name: [] for side in sides}
        later: dict[str, list[dict[str, Any]]] = {side.name: [] for side in sides}
        for i in range(runs):
            for side in sides if i % 2 == 0 else sides[::-1]:
                row = one_run(side, args.drill, Path(tmp) / "results")
                single[side.name].append(row)
                print(
                    f"  run {i + 1} {side.name}: wall {row['wall']:.2f} s, drill"
                    f" {row['drill (not overhead)']:.2f} s, overhead {row['overhead']:.2f} s"
                    f" (ground truth within bounds: stop {row['stop_within_bounds']},"
                    f" rollback {row['rollback_within_bounds']})",
                    flush=True,
                )
            for name, cmd in commands.items():
                imports[name].append(time_command(cmd))
        for i in range(suites):
            for side in sides if i % 2 == 0 else sides[::-1]:
                rows = one_suite(side, args.drill, args.suite, Path(tmp) / "suite")
                later[side.name] += rows
                added = ", ".join(f"{r['added']:.3f}" for r in rows)
                print(f"  suite {i + 1} {side.name}: drills 2..{args.suite} added {added} s",
                      flush=True)  # fmt: skip
    _table(
        "single drill (seconds)",
        ["wall", *(p[0] for p in PHASES), "overhead", "spawn -> warm"],
        single,
    )
    if suites:
        _table(
            f"each drill after the first of a suite of {args.suite} (seconds)",
            [*(p[0] for p in SUITE_PHASES), "added", "spawn -> warm"],
            later,
        )
    print()
    for name, v in imports.items():
        print(f"{name:22s} {_common.spread(v)} s")
    locust_s = statistics.median(imports["import locust"])
    print("\ngoals, side by side (medians of this run):")
    met = True
    for side in sides:
        overhead = statistics.median(r["overhead"] for r in single[side.name])
        ratio = overhead / locust_s
        ok = ratio <= SINGLE_GOAL_X
        met &= ok or side.name != "this"
        print(
            f"  {side.name}: single drill overhead {overhead:.3f} s = {ratio:.2f}x import locust"
            f" ({locust_s:.3f} s); goal <= {SINGLE_GOAL_X:.1f}x: {'met' if ok else 'MISSED'}"
            f"; <= {LEGACY_GOAL_S} s: {'met' if overhead <= LEGACY_GOAL_S else 'MISSED'}"
        )
        added = [r["added"] for r in later[side.name]]
        if added:
            ok = max(added) <= LATER_GOAL_S
            met &= ok or side.name != "this"
            print(
                f"  {side.name}: each later drill adds median {statistics.median(added):.3f} s,"
                f" max {max(added):.3f} s (n={len(added)}); goal <= {LATER_GOAL_S} s each:"
                f" {'met' if ok else 'MISSED'}"
            )
    if args.json:
        args.json.write_text(
            json.dumps({"single": single, "later": later, "imports": imports}, indent=1)
        )
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
