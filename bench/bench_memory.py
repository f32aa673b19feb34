"""Benchmark: peak memory and analysis time of a drill at 1M and 10M requests (issue 18, point 3).

One command::

    python3 bench/bench_memory.py [--quick] [--sizes 1000000,10000000] [--json FILE]

``--quick`` runs 100,000 and 1,000,000 rows. Goals: a 10-million-request drill peaks at
<= 300 MB (harness + load child RSS), and the analysis time grows linearly (10M / 1M ~ 10).

What is real and what is not. A real load child against the reference target gives about
8,000 requests/s on this machine, so ten million requests would take 21 minutes of load: too
long for a benchmark. Here the rows come instead from a generator child
(``bench/wire_child.py``) that speaks the load child's wire protocol (the config line in,
``#H``/``#R``, observation lines, ``#D``) and describes a drill at 8,000 requests/s (harm from
30 %, a stop at 50 % effective 300 ms later, a rollback to v1 at 70 %, serving resumed at
75 %). Everything on the harness's side is the real code, unchanged: a real
:class:`~harness.load.process.LoadProcess` spawns that child (only the module it spawns is
swapped) and its reader thread parses every line into an
:class:`~harness.observations.ObservationLog` that spills to disk past its memory budget,
then the real ``analyse``, ``check_ground_truth``, the report's data and pictures' binning
(``Observations.from_log`` and ``bin``, as the report draws the whole run and the stop) and
``RunDir.write_observations`` (observations.csv.gz) run on that log. What the generator does
not exercise is the load child's own memory under real HTTP (Locust and gevent: about
53 MB in bench_scale); the real path's figures come from ``bench/bench_scale.py`` (a real
drill against the reference target), quoted beside these in docs/benchmarks.md.

Each size runs in a fresh process, so peaks do not mix: the harness's peak is that process's
``VmHWM`` (also read after each phase, so the phase that set it is known), the child's is its
own ``VmHWM`` read every 100 ms while it lives. Their sum is an upper bound on the peak of the
two together.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common
from wire_child import phases

import harness.load.process as process_module
from harness.evidence import RunDir
from harness.load.config import LoadConfig, RequestSpec
from harness.metrics import RunInstants, analyse, check_ground_truth
from harness.observations import ObservationLog
from harness.report._data import Observations

T = TypeVar("T")
MB = 1024  # /proc and ru_maxrss count kB


def _status_kb(field: str, pid: int | str = "self") -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


class _Phases:
    """Times and the harness's peak RSS after each phase."""

    def __init__(self) -> None:
        self.figures: dict[str, dict[str, float]] = {}

    def run(self, name: str, fn: Callable[[], T]) -> T:
        began = time.perf_counter()
        result = fn()
        self.figures[name] = {
            "s": round(time.perf_counter() - began, 3),
            "rss_mb": round(_status_kb("VmRSS") / MB, 1),
            "peak_mb": round(_status_kb("VmHWM") / MB, 1),
        }
        return result


def one(rows: int, workdir: Path) -> dict[str, Any]:
    """One size in this process: load through the real reader, then analysis and evidence."""
    before_mb = _status_kb("VmRSS") / MB
    t0 = time.monotonic_ns()
    p = phases(t0, rows)
    spawn = process_module.spawn_harness_child

    def generator(
        _module: str,
        *,
        labels: Mapping[str, str],
        stderr_path: Path,
        extra_env: Mapping[str, str] | None = None,
    ) -> subprocess.Popen[bytes]:
        env = {**(extra_env or {}), "GOVDRILL_BENCH_ROWS": str(rows), "GOVDRILL_BENCH_T0": str(t0)}
        return spawn("bench.wire_child", labels=labels, stderr_path=stderr_path, extra_env=env)

    process_module.spawn_harness_child = generator  # type: ignore[assignment]
    try:
        log = ObservationLog(spill_dir=workdir)
    except TypeError:  # a harness from before the spill (for the "before" figures)
        log = ObservationLog()
    config = LoadConfig(
        base_url="http://127.0.0.1:9",
        users=1,
        spawn_rate=1.0,
        request=RequestSpec(method="GET", path="/"),
        parent_pid=os.getpid(),
    )
    load = process_module.LoadProcess(
        config=config, log=log, stderr_path=workdir / "load.stderr.log"
    )
    steps = _Phases()

    child_peak_kb = 0

    def read_all() -> None:
        nonlocal child_peak_kb
        load.start()
        assert load.pid is not None
        while load.returncode is None:
            # The child's own VmHWM, read while it lives (ru_maxrss of reaped children counts
            # the harness's RSS at the fork too, so it would say nothing of the child).
            with contextlib.suppress(OSError, ValueError):
                child_peak_kb = max(child_peak_kb, _status_kb("VmHWM", load.pid))
            time.sleep(0.1)
        load.stop()

    steps.run("load (reader)", read_all)
    assert load.observations_announced == rows == len(log), (
        load.observations_announced,
        len(log),
        load.error,
    )
    child_peak_mb = child_peak_kb / MB
    instants = RunInstants(
        load_start_ns=t0,
        load_end_ns=p.end,
        hold_s=3.0,
        incident_ns=p.incident,
        detected_ns=p.incident + 50_000_000,
        stop_issued_ns=p.stop_issued,
        stop_acked_ns=p.stop_issued + 1_000_000,
        rollback_issued_ns=p.rollback_issued,
        rollback_version="v1",
        resumes_ns=(p.resume,),
    )
    metrics = steps.run("analyse", lambda: analyse(log, instants))
    truth = steps.run(
        "ground truth",
        lambda: check_ground_truth(
            [(p.stop_effective, "stop_effective", {})], metrics, instants, log=log
        ),
    )

    def report_data() -> int:
        obs = Observations.from_log(log, t0)
        # getattr: a harness from before the spill keeps the ends as a column instead
        last = getattr(obs, "last_end", None) or max(obs.end)
        whole = obs.bin(0.0, last + 0.1, max(0.05, last / 1500))
        stop_s = (p.stop_issued - t0) / 1e9
        around = obs.bin(stop_s - 0.25, stop_s + 0.6, 0.005)
        return sum(whole.ok) + sum(around.ok)

    steps.run("report data and bins", report_data)
    run_dir = RunDir(workdir / "results", "memory", "stamp", "run")
    run_dir.create()
    written = steps.run("observations.csv.gz", lambda: run_dir.write_observations(log, t0))
    run_dir.release()
    stop = metrics.stop
    assert stop.lower_ns is not None and stop.upper_ns is not None
    assert stop.lower_ns <= p.stop_effective <= stop.upper_ns, "the truth is outside the bounds"
    assert truth.stop_within_bounds and truth.log_trustworthy
    harness_peak_mb = _status_kb("VmHWM") / MB
    return {
        "rows": rows,
        "harness_before_mb": round(before_mb, 1),
        "harness_peak_mb": round(harness_peak_mb, 1),
        "child_peak_mb": round(child_peak_mb, 1),
        "sum_mb": round(harness_peak_mb + child_peak_mb, 1),
        "spilled_rows": getattr(log, "spilled_rows", 0),
        "spill_mb": round(getattr(log, "spill_bytes", 0) / 2**20, 1),
        "observations_csv_gz_mb": round(written.stat().st_size / 2**20, 1),
        "phases": steps.figures,
        "analysis_s": round(steps.figures["analyse"]["s"] + steps.figures["ground truth"]["s"], 3),
        "stop": [stop.kind.value, stop.lower_ns - p.stop_issued, stop.upper_ns - p.stop_issued],
        "harmful_after_ack": [metrics.harmful_after_ack.lower, metrics.harmful_after_ack.upper],
    }


def main() -> int:
    """Run every size in its own process and print the figures side by side."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="100,000 and 1,000,000 rows")
    parser.add_argument("--sizes", help="comma-separated row counts (default 1M,10M)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one is not None:
        with tempfile.TemporaryDirectory(prefix="govdrill-bench-memory-") as tmp:
            print(json.dumps(one(args.one, Path(tmp))))
        return 0
    _common.use_this_checkout()
    default = "100000,1000000" if args.quick else "1000000,10000000"
    sizes = [int(s) for s in (args.sizes or default).split(",")]
    print(_common.machine())
    results = []
    for rows in sizes:
        done = subprocess.run(
            [sys.executable, __file__, "--one", str(rows)],
            check=True,
            capture_output=True,
            text=True,
        )
        result = json.loads(done.stdout.strip().splitlines()[-1])
        results.append(result)
        phases_ = result["phases"]
        print(
            f"{rows:>11,} rows: harness peak {result['harness_peak_mb']:.1f} MB "
            f"(before {result['harness_before_mb']:.1f}), child {result['child_peak_mb']:.1f} MB, "
            f"sum {result['sum_mb']:.1f} MB; spilled {result['spilled_rows']:,} rows "
            f"({result['spill_mb']:.1f} MB)"
        )
        for name, figures in phases_.items():
            print(
                f"    {name:<22} {figures['s']:>8.2f} s   RSS after {figures['rss_mb']:>6.1f} MB"
                f"   peak so far {figures['peak_mb']:>6.1f} MB"
            )
        print(f"    analysis (analyse + ground truth) {result['analysis_s']:.2f} s")
    if len(results) >= 2:
        small, large = results[0], results[-1]
        ratio = large["analysis_s"] / small["analysis_s"]
        print(
            f"analysis {large['rows']:,} / {small['rows']:,} rows: {ratio:.2f}x "
            f"(rows {large['rows'] / small['rows']:.0f}x)"
        )
        goal = "met" if large["sum_mb"] <= 300 else "MISSED"
        print(f"peak at {large['rows']:,} rows: {large['sum_mb']:.1f} MB (goal <= 300 MB: {goal})")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
