"""Benchmark: are the reported stop and rollback bounds true? Checked against the target's own log.

One command::

    python3 bench/bench_accuracy.py [--quick] [--runs N] [--json FILE]

Runs short drills on the reference target through :func:`harness.engine.run_drill` (what
``govdrill run`` does) at three load levels, interleaved (round-robin over kind x level, the
order rotating every round, never in blocks):

- ``50/s``: 5 users x 10 req/s each (Locust constant throughput);
- ``500/s``: 10 users x 50 req/s each;
- ``max``: 20 users, no wait: as fast as the machine answers.

Two drill kinds, each the shortest honest drill of its sort:

- ``stop`` (like tests/engine/drills/truth.yaml): ``harmful_output`` at 300 ms, stop through
  the admin API 200 ms after harm is detected, 700 ms hold;
- ``rollback``: ``bad_deploy`` (v2 leaks a canary) at 300 ms, roll back to v1 through the
  admin API 200 ms after harm is detected, no stop, 700 ms hold.

Per level and kind it prints the achieved rate, the **coverage** (share of runs whose
ground-truth instant from the target's events log, ``ground_truth.*_claimed_ns``, lies in
the reported ``[lower, upper]``; goal 100 %), the **error** of the point estimate
(``ground_truth.*_error_s``, the midpoint minus the claim; goal p95 |error| <= 5 ms at
>= 500 req/s) and the **resolution** (upper - lower). ``--runs`` is per level and kind
(default 10, so 60 drills; ``--quick`` 2).
"""

from __future__ import annotations

import argparse
import gzip
import json
import shutil
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common

from harness.engine import run_drill

LEVELS: dict[str, dict[str, Any]] = {
    "50/s": {"users": 5, "per_user_rate": 10},
    "500/s": {"users": 10, "per_user_rate": 50},
    "max": {"users": 20},
}

KINDS = ("stop", "rollback")


def drill_data(kind: str, level: str) -> dict[str, Any]:
    """The drill of one kind at one load level, as a drill file would say it."""
    load = {
        **LEVELS[level],
        "request": {"method": "POST", "path": "/v1/generate", "json": {"prompt": "the sea"}},
    }
    if kind == "stop":
        steps = [
            {"at": "300ms", "inject": "harmful_output"},
            {"when": "harm_detected", "delay": "200ms", "stop": ["admin_api"], "grace": "2s"},
        ]
        deadlines = {"stop": "1s"}
    else:
        steps = [
            {"at": "300ms", "inject": "bad_deploy"},
            {
                "when": "harm_detected",
                "delay": "200ms",
                "rollback": {"via": "admin_api", "to": "v1"},
            },
        ]
        deadlines = {"rollback": "1s"}
    return {
        "drill": f"bench-accuracy-{kind}",
        "target": "model-service",
        "sandbox": "process",
        "load": load,
        "harm": [_common.CANARY],
        "steps": steps,
        "hold": "700ms",
        "deadlines": deadlines,
    }


def one_run(kind: str, level: str, work: Path) -> dict[str, Any]:
    """Run one drill and keep what the benchmark needs from its summary and timeline."""
    drill = _common.build_drill(drill_data(kind, level), work, f"{kind}-{level.replace('/', '')}")
    result = run_drill(drill, results=work / "results")
    summary = result.summary
    stamps = {}
    for line in (result.run_dir / "timeline.jsonl").open():
        event = json.loads(line)
        stamps.setdefault(event["event"], event["t_s"])
    gt = summary.get("ground_truth") or {}
    metric = summary["metrics"].get("time_to_stop" if kind == "stop" else "rollback_time") or {}
    # The achieved rate: answers that ended between load_ready and hold_complete (the spawn
    # ramp and the load's shutdown are outside the drill's window).
    lo_us, hi_us = stamps.get("load_ready", 0) * 1e6, stamps.get("hold_complete", 0) * 1e6
    window = (hi_us - lo_us) / 1e6
    with gzip.open(result.run_dir / "observations.csv.gz", "rt") as rows:
        in_window = sum(
            1 for line in rows if line[0].isdigit() and lo_us <= int(line.split(",", 2)[1]) <= hi_us
        )
    row = {
        "kind": kind,
        "level": level,
        "verdict": summary["verdict"],
        "observations": summary["observations"],
        "rate": in_window / window if window > 0 else 0.0,
        "within": gt.get(f"{kind}_within_bounds"),
        "error_s": gt.get(f"{kind}_error_s"),
        "claimed": gt.get(f"{kind}_claimed_ns") is not None,
        "lower": metric.get("lower"),
        "upper": metric.get("upper"),
        "trustworthy": gt.get("log_trustworthy"),
        "reasons": gt.get("reasons"),
    }
    if row["lower"] is not None and row["upper"] is not None:
        row["resolution_s"] = row["upper"] - row["lower"]
    shutil.rmtree(result.run_dir, ignore_errors=True)
    return row


def report(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Print and return the per kind x level figures."""
    table: dict[str, Any] = {}
    for kind in KINDS:
        for level in LEVELS:
            sel = [r for r in rows if r["kind"] == kind and r["level"] == level]
            if not sel:
                continue
            judged = [r for r in sel if r["within"] is not None]
            inside = sum(1 for r in judged if r["within"])
            errors = [abs(r["error_s"]) for r in judged if r["error_s"] is not None]
            signed = [r["error_s"] for r in judged if r["error_s"] is not None]
            resolution = [r["resolution_s"] for r in sel if "resolution_s" in r]
            rates = [r["rate"] for r in sel]
            key = f"{kind} {level}"
            table[key] = {
                "runs": len(sel),
                "judged": len(judged),
                "inside": inside,
                "rate_median": statistics.median(rates),
                "rate_min": min(rates),
                "rate_max": max(rates),
                "abs_error_ms_median": statistics.median(errors) * 1e3 if errors else None,
                "abs_error_ms_p95": _common.percentile(errors, 0.95) * 1e3 if errors else None,
                "abs_error_ms_max": max(errors) * 1e3 if errors else None,
                "signed_error_ms_median": statistics.median(signed) * 1e3 if signed else None,
                "resolution_ms_median": statistics.median(resolution) * 1e3 if resolution else None,
                "resolution_ms_p95": _common.percentile(resolution, 0.95) * 1e3
                if resolution
                else None,
                "resolution_ms_max": max(resolution) * 1e3 if resolution else None,
                "verdicts": {
                    v: sum(1 for r in sel if r["verdict"] == v) for v in {r["verdict"] for r in sel}
                },
            }
            t = table[key]
            print(
                f"{key:15s} {t['rate_median']:6.0f} req/s ({t['rate_min']:.0f}-{t['rate_max']:.0f})"
                f"  coverage {inside}/{len(judged)}"
                f"  |error| ms {_common.spread(errors, 1e3, '.2f')}"
                f"  resolution ms {_common.spread(resolution, 1e3, '.2f')}"
            )
            for r in sel:
                if r["within"] is not True:
                    print(f"    outside or unjudged: {r}")
    return table


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="2 runs per level and kind")
    parser.add_argument("--runs", type=int, help="runs per level and kind (default 10)")
    parser.add_argument("--json", type=Path, help="also write every run and the table here")
    parser.add_argument("--levels", default=",".join(LEVELS), help="comma-separated subset")
    parser.add_argument("--kinds", default=",".join(KINDS), help="comma-separated subset")
    args = parser.parse_args()
    runs = args.runs or (2 if args.quick else 10)
    _common.use_this_checkout()
    print(_common.machine())
    combos = [(k, lv) for k in args.kinds.split(",") for lv in args.levels.split(",")]
    rows: list[dict[str, Any]] = []
    started = time.perf_counter()
    with _common.workdir("accuracy") as tmp:
        work = Path(tmp)
        for round_ in range(runs):
            shift = round_ % len(combos)
            order = combos[shift:] + combos[:shift]
            if round_ % 2:
                order.reverse()
            for kind, level in order:
                row = one_run(kind, level, work)
                rows.append(row)
                err = row["error_s"]
                print(
                    f"  round {round_ + 1:2d} {kind:8s} {level:6s} {row['rate']:6.0f} req/s "
                    f"within {row['within']!s:5s} error "
                    + (f"{err * 1e3:+7.2f} ms" if err is not None else "   n/a   ")
                    + (
                        f" resolution {row['resolution_s'] * 1e3:6.2f} ms"
                        if "resolution_s" in row
                        else ""
                    ),
                    flush=True,
                )
    print(f"\n{len(rows)} drills in {time.perf_counter() - started:.0f} s")
    table = report(rows)
    if args.json:
        args.json.write_text(json.dumps({"table": table, "runs": rows}, indent=1))
    judged = [r for r in rows if r["within"] is not None]
    return 0 if judged and all(r["within"] for r in judged) else 1


if __name__ == "__main__":
    sys.exit(main())
