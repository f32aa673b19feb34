"""Benchmark: does the reported ``stream_cut_time`` contain what the target itself logged?

One command::

    python3 bench/bench_stream_cut.py [--runs 10] [--drill DRILL ...]

Runs each drill (default: ``drills/stream-kill-switch.yaml``, which cuts streams at the stop,
and ``drills/defects/drain-streams.yaml``, which lets them drain for 2 s) ``--runs`` times as
``python3 -m harness run DRILL -q`` from this checkout, and for each run compares the bounds
the harness reported with the target's own log (``target.events.jsonl``):

- the truth's stop is the target's ``stop_effective`` instant ``G`` (the gate closed, under the
  gate's lock);
- the truth's cut time is ``max(0, M - G)`` where ``M`` is the latest ``last_chunk_ns`` of the
  target's ``stream_end`` events for streams it admitted before ``G`` (the target stamps
  ``last_chunk_ns`` when it writes the chunk, and every stream it admitted ends with one
  ``stream_end``; none is admitted after ``G`` because the drills do not resume).

Both are on the host's monotonic clock, like the harness's own observations. A run counts as
covered when ``lower <= truth <= upper`` for ``stream_cut_time``; the goal is every run. It
prints one JSON line per run and a summary per drill (runs, covered, verdicts as declared,
the bounds' widths).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench._common import machine, use_this_checkout  # noqa: E402

DRILLS = (
    REPO / "drills" / "stream-kill-switch.yaml",
    REPO / "drills" / "defects" / "drain-streams.yaml",
)


def truth_cut_s(events_path: Path) -> tuple[float | None, int]:
    """The target's own cut time (seconds) and how many streams it ended after its stop."""
    gate: int | None = None
    admitted_ends: list[int] = []
    with events_path.open() as events:
        for raw in events:
            event = json.loads(raw)
            if event.get("event") == "stop_effective" and gate is None:
                gate = int(event["t_ns"])
            elif event.get("event") == "stream_end" and event.get("last_chunk_ns") is not None:
                admitted_ends.append(int(event["last_chunk_ns"]))
    if gate is None:
        return None, 0
    after = [t for t in admitted_ends if t > gate]
    last = max(admitted_ends, default=gate)
    return max(0, last - gate) / 1e9, len(after)


def one_run(drill: Path, results: Path) -> dict[str, Any]:
    """Run the drill once; its bounds, the target's truth, and whether they agree."""
    proc = subprocess.run(
        [sys.executable, "-m", "harness", "run", str(drill), "-q", "--results", str(results)],
        capture_output=True,
        text=True,
        check=False,
    )
    runs = sorted((results / drill.stem).glob("*/summary.json"), key=lambda p: p.stat().st_mtime)
    if not runs:  # the defect drill's folder is named after its drill id
        runs = sorted(results.glob("*/*/summary.json"), key=lambda p: p.stat().st_mtime)
    if not runs:  # the run failed before it wrote its summary: say so, do not hide it
        tail = (proc.stdout + proc.stderr).strip().splitlines()[-3:]
        return {"drill": drill.stem, "exit": proc.returncode, "covered": False, "error": tail}
    summary_path = runs[-1]
    summary = json.loads(summary_path.read_text())
    cut = summary["metrics"]["stream_cut_time"]
    truth, ended_after = truth_cut_s(summary_path.parent / "target.events.jsonl")
    lower, upper = cut["lower"], cut["upper"]
    covered = None
    if truth is not None and lower is not None and upper is not None:
        covered = lower - 1e-9 <= truth <= upper + 1e-9
    expect = "exactly as its expect" in proc.stdout
    return {
        "drill": summary["drill"],
        "exit": proc.returncode,
        "verdict": summary["verdict"],
        "as_declared": expect or proc.returncode == 0,
        "stream_cut_lower_s": lower,
        "stream_cut_upper_s": upper,
        "target_cut_s": truth,
        "streams_ended_after_stop": ended_after,
        "covered": covered,
        "run": summary_path.parent.name,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--drill", type=Path, action="append", default=None)
    args = parser.parse_args()
    use_this_checkout()
    drills = args.drill or list(DRILLS)
    print(json.dumps({"machine": machine()}))
    failed = False
    with tempfile.TemporaryDirectory(prefix="bench-stream-cut-") as tmp:
        for drill in drills:
            rows = []
            for i in range(args.runs):
                row = one_run(drill, Path(tmp) / f"{drill.stem}-{i}")
                rows.append(row)
                print(json.dumps(row), flush=True)
            widths = [
                r["stream_cut_upper_s"] - r["stream_cut_lower_s"]
                for r in rows
                if r.get("stream_cut_upper_s") is not None
                and r.get("stream_cut_lower_s") is not None
            ]
            covered = sum(1 for r in rows if r["covered"])
            summary = {
                "drill": rows[0]["drill"],
                "runs": len(rows),
                "covered": covered,
                "as_declared": sum(1 for r in rows if r.get("as_declared")),
                "width_median_s": round(statistics.median(widths), 4) if widths else None,
                "width_max_s": round(max(widths), 4) if widths else None,
                "target_cut_s": [r.get("target_cut_s") for r in rows],
            }
            print(json.dumps({"summary": summary}), flush=True)
            failed |= covered != len(rows)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
