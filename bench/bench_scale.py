"""Benchmark: one drill of at least a million requests: peak memory, analysis time, evidence size.

One command::

    python3 bench/bench_scale.py [--quick] [--requests N] [--users 20]

``--quick`` aims at 200,000 requests instead of 1,000,000. The benchmark first measures the
harness load path's rate for 4 s against the reference target, then runs, in this process,
one kill-switch drill (``harmful_output`` injected after enough time for N requests at that
rate, stop through the admin API, 2 s hold) through :func:`harness.engine.run_drill`, exactly
what ``govdrill run`` does after parsing its arguments. Meanwhile a sampler thread reads
``VmHWM`` (peak resident set) of the load child and of the target every 250 ms; the
harness's own peak is this process's ``VmHWM`` at the end, with its value after each phase so
the phase that set it is known. ``analyse``, ``check_ground_truth`` and the observations
writer are wrapped (not changed) to time them. Goals: harness + load child peak RSS
<= 300 MB; evidence size per million requests reported.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common
import psutil

import harness.engine as engine
import harness.summary as summary_module
from harness.evidence import RunDir


def _status_kb(pid: int | str, field: str) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


class Sampler(threading.Thread):
    """Peak RSS of this process's children (load child, target), sampled every 250 ms."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peaks_kb: dict[str, int] = {}
        self.cpu_s: dict[str, float] = {}
        self.done = threading.Event()

    def run(self) -> None:
        me = psutil.Process()
        while not self.done.wait(0.25):
            for child in me.children(recursive=True):
                try:
                    cmd = " ".join(child.cmdline())
                    role = "load child" if "harness.load.child" in cmd else "target"
                    hwm = _status_kb(child.pid, "VmHWM")
                    cpu = child.cpu_times()
                    self.peaks_kb[role] = max(self.peaks_kb.get(role, 0), hwm)
                    self.cpu_s[role] = max(self.cpu_s.get(role, 0.0), cpu.user + cpu.system)
                except (psutil.Error, OSError):
                    continue


def calibrate(users: int, seconds: float, workdir: Path) -> float:
    """Requests per second of the harness load path on the reference target, right now."""
    import bench_load

    target = bench_load.start_target("model-service", workdir)
    try:
        return bench_load.run_harness(target.url, users, seconds, workdir).rate
    finally:
        target.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="200,000 requests")
    parser.add_argument("--requests", type=int, help="aim (default 1,000,000; --quick 200,000)")
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    aim = args.requests or (200_000 if args.quick else 1_000_000)
    _common.use_this_checkout()
    print(_common.machine())

    marks: dict[str, Any] = {}

    def hwm_mb() -> float:
        return _status_kb("self", "VmHWM") / 1024

    def rss_mb() -> float:
        return _status_kb("self", "VmRSS") / 1024

    def timed(name: str, fn: Any) -> Any:
        def wrapper(*a: Any, **kw: Any) -> Any:
            marks[f"{name}_hwm_before_mb"] = hwm_mb()
            marks[f"{name}_rss_before_mb"] = rss_mb()
            t = time.perf_counter()
            try:
                return fn(*a, **kw)
            finally:
                marks[f"{name}_s"] = time.perf_counter() - t
                marks[f"{name}_hwm_after_mb"] = hwm_mb()

        return wrapper

    # The analysis moved into harness.summary (analyse_run); wrap it where it is called.
    summary_module.analyse = timed("analyse", summary_module.analyse)
    summary_module.check_ground_truth = timed("ground_truth", summary_module.check_ground_truth)
    engine.build_summary = timed("build_summary", engine.build_summary)
    RunDir.write_observations = timed("write_observations", RunDir.write_observations)  # type: ignore[method-assign]
    for name in ("write_report", "seal_run"):  # evidence steps of later harness versions
        if hasattr(engine, name):
            setattr(engine, name, timed(name, getattr(engine, name)))

    with _common.workdir("scale") as tmp:
        work = Path(tmp)
        rate = calibrate(args.users, 4.0, work)
        inject_at = max(5.0, 1.15 * aim / rate)
        print(f"calibration: {rate:.0f} req/s -> incident at {inject_at:.0f} s")
        drill = _common.build_drill(
            {
                "drill": "bench-scale",
                "description": f"{aim} requests, then a kill switch",
                "target": "model-service",
                "sandbox": "process",
                "load": {
                    "users": args.users,
                    "request": {
                        "method": "POST",
                        "path": "/v1/generate",
                        "json": {"prompt": "the sea"},
                    },
                },
                "harm": [_common.CANARY],
                "steps": [
                    {"at": f"{inject_at:.1f}s", "inject": "harmful_output"},
                    {"when": "harm_detected", "stop": ["admin_api"], "grace": "2s"},
                ],
                "hold": "2s",
                "max_duration": f"{inject_at + 60:.0f}s",
                "deadlines": {"stop": "1s"},
            },
            work,
        )
        marks["hwm_before_run_mb"] = hwm_mb()
        sampler = Sampler()
        sampler.start()
        t = time.perf_counter()
        result = engine.run_drill(drill, results=work / "results")
        wall = time.perf_counter() - t
        sampler.done.set()
        sampler.join()
        harness_peak = hwm_mb()
        summary = json.loads((result.run_dir / "summary.json").read_text())
        n = summary["observations"]
        files = {p.name: p.stat().st_size for p in result.run_dir.iterdir() if p.is_file()}
        total = sum(files.values())
        timeline = [json.loads(line) for line in (result.run_dir / "timeline.jsonl").open()]
        stamps = {e["event"]: e["t_s"] for e in timeline}

    per_m = 1e6 / n
    load_peak = sampler.peaks_kb.get("load child", 0) / 1024
    figures = {
        "aim": aim,
        "observations": n,
        "verdict": summary["verdict"],
        "stop_within_bounds": (summary.get("ground_truth") or {}).get("stop_within_bounds"),
        "wall_s": wall,
        "load_s": stamps.get("hold_complete", 0) - stamps.get("load_ready", 0),
        "harness_peak_mb": harness_peak,
        "load_child_peak_mb": load_peak,
        "together_mb": harness_peak + load_peak,
        "target_peak_mb": sampler.peaks_kb.get("target", 0) / 1024,
        "child_cpu_s": sampler.cpu_s,
        "files": files,
        "run_folder_bytes": total,
        "observations_mb_per_million": files.get("observations.csv.gz", 0) * per_m / 1e6,
        "run_folder_mb_per_million": total * per_m / 1e6,
        **marks,
    }
    print(
        f"observations          : {n:,} ({figures['verdict']}; stop within bounds: "
        f"{figures['stop_within_bounds']}); load for {figures['load_s']:.0f} s, wall {wall:.0f} s"
    )
    print(
        f"harness peak RSS      : {harness_peak:.1f} MB "
        f"(before the run {marks['hwm_before_run_mb']:.1f} MB;"
        f" peak after load/before analysis {marks['analyse_hwm_before_mb']:.1f} MB,"
        f" after analysis {marks['analyse_hwm_after_mb']:.1f} MB,"
        f" after writing observations {marks['write_observations_hwm_after_mb']:.1f} MB)"
    )
    print(
        f"load child peak RSS   : {load_peak:.1f} MB; together {harness_peak + load_peak:.1f} MB"
        f" (goal <= 300 MB); target {figures['target_peak_mb']:.1f} MB"
    )
    print(
        f"analysis time         : analyse {marks['analyse_s']:.2f} s, ground truth "
        f"{marks.get('ground_truth_s', 0):.2f} s, summary {marks['build_summary_s']:.2f} s, "
        f"observations.csv.gz {marks['write_observations_s']:.2f} s"
        + "".join(
            f", {name} {marks[name + '_s']:.2f} s (peak after it "
            f"{marks[name + '_hwm_after_mb']:.1f} MB)"
            for name in ("write_report", "seal_run")
            if name + "_s" in marks
        )
    )
    print(
        f"evidence              : observations.csv.gz "
        f"{files.get('observations.csv.gz', 0) / 1e6:.1f} MB "
        f"({figures['observations_mb_per_million']:.1f} MB per million), run folder "
        f"{total / 1e6:.1f} MB ({figures['run_folder_mb_per_million']:.1f} MB per million)"
    )
    print(
        f"CPU seconds           : {', '.join(f'{k} {v:.0f}' for k, v in sampler.cpu_s.items())}, "
        f"harness {sum(os.times()[:2]):.0f}"
    )
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1))
    return 0 if n >= aim and figures["together_mb"] <= 300 else 1


if __name__ == "__main__":
    sys.exit(main())
