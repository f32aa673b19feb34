"""Benchmark: the load straight to the target against the load through each fault proxy.

One command::

    python bench/bench_proxy.py [--rounds 3] [--seconds 8] [--users 20]
                                [--mitmdump /tmp/mitmvenv/bin/mitmdump]

Starts the reference target (``targets/model-service/serve.py``), then, round by round (the
order rotates every round), runs the harness's own load child (:class:`LoadProcess`, 20
Locust users, one keep-alive connection each) against:

``direct``     the target itself;
``ours``       :class:`harness.proxy.FaultProxy` (asyncio streams), no rule on;
``ours+rule``  the same with a rewrite rule on at rate 0 (the per-request rule path);
``mitmproxy``  ``mitmdump --mode reverse:<target>`` with a one-hook addon (when
               ``--mitmdump`` names one, e.g. from a throwaway venv).

Two measures per candidate, each in the same round as ``direct``:

* throughput: users as fast as answers come (closed loop), requests completed after all
  users spawned divided by the time since; reported as the ratio to ``direct`` (goal >= 0.5);
* added latency: users paced at ``--paced-rate`` requests/s each (an open, unsaturated load:
  a saturated closed loop turns any throughput loss into queueing delay), the median
  request time minus ``direct``'s (goal <= 1 ms).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from _common import REPO, commit, machine, use_this_checkout
from bench_load import PATH, PAYLOAD, start_target

from harness.load.config import LoadConfig
from harness.load.process import LoadProcess
from harness.observations import ObservationLog
from harness.proxy import FaultProxy
from harness.spec.load import RequestSpec
from harness.spec.proxy import ProxyRule

ADDON = """
from mitmproxy import http

class Rules:
    def __init__(self):
        self.on = False  # a rule switch, read per answer, as ours does
        self.seen = 0

    def response(self, flow: http.HTTPFlow) -> None:
        self.seen += 1
        if self.on and flow.response is not None:
            flow.response.text += " CANARY"

addons = [Rules()]
"""


@dataclass
class Measure:
    rate: float
    median_ms: float
    p99_ms: float
    errors: int


def run_load(url: str, users: int, seconds: float, workdir: Path, rate: float | None) -> Measure:
    log = ObservationLog()
    config = LoadConfig(
        base_url=url,
        users=users,
        spawn_rate=float(users),
        request=RequestSpec(method="POST", path=PATH, json=PAYLOAD),
        parent_pid=os.getpid(),
        per_user_rate=rate,
    )
    with LoadProcess(config=config, log=log, stderr_path=workdir / "load.err") as load:
        load.wait_ready(30)
        ready_ns = time.monotonic_ns()
        time.sleep(seconds)
        end_ns = time.monotonic_ns()
    starts, ends, statuses, *_ = log.columns()
    kept = [
        (e - s, st)
        for s, e, st in zip(starts, ends, statuses, strict=True)
        if ready_ns <= s and e <= end_ns
    ]
    times = sorted(d for d, _ in kept)
    errors = sum(1 for _, st in kept if st != 200)
    span = (end_ns - ready_ns) / 1e9
    return Measure(
        len(kept) / span,
        statistics.median(times) / 1e6,
        times[int(len(times) * 0.99)] / 1e6,
        errors,
    )


@contextmanager
def direct(url: str, workdir: Path) -> Iterator[str]:
    yield url


@contextmanager
def ours(url: str, workdir: Path, rule: bool = False) -> Iterator[str]:
    proxy = FaultProxy.start(
        upstream=url, events_path=workdir / "proxy.jsonl", name="bench", run_id="bench"
    )
    try:
        if rule:
            proxy.enable(
                "leak",
                ProxyRule.model_validate(
                    {"rewrite": {"json_path": "$.output", "append": " X"}, "rate": 0.0}
                ),
            )
        yield proxy.base_url
    finally:
        proxy.close()


def ours_rule(url: str, workdir: Path) -> Iterator[str]:
    return ours(url, workdir, rule=True)  # type: ignore[return-value]


def mitm(mitmdump: str) -> Callable[[str, Path], object]:
    @contextmanager
    def start(url: str, workdir: Path) -> Iterator[str]:
        import socket

        addon = workdir / "addon.py"
        addon.write_text(ADDON)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        with open(workdir / "mitm.err", "wb") as err:
            proc = subprocess.Popen(
                [
                    mitmdump,
                    "-q",
                    "--mode",
                    f"reverse:{url}",
                    "--listen-host",
                    "127.0.0.1",
                    "-p",
                    str(port),
                    "-s",
                    str(addon),
                ],
                stdout=err,
                stderr=err,
            )
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    if proc.poll() is not None or time.monotonic() > deadline:
                        why = f"mitmdump did not start: see {workdir / 'mitm.err'}"
                        raise SystemExit(why) from None
                    time.sleep(0.1)
            yield f"http://127.0.0.1:{port}"
        finally:
            proc.terminate()
            proc.wait(10)

    return start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--paced-rate", type=float, default=10.0)
    parser.add_argument("--mitmdump", default=None)
    args = parser.parse_args()
    use_this_checkout()
    candidates: dict[str, Callable[[str, Path], object]] = {
        "direct": direct,
        "ours": ours,
        "ours+rule": ours_rule,
    }
    if args.mitmdump:
        candidates["mitmproxy"] = mitm(args.mitmdump)
    print(f"# bench_proxy at {commit()} on {machine()}")
    print(f"# {args.users} users, {args.seconds:g}s per measure, {args.rounds} rounds")
    results: dict[str, list[tuple[Measure, Measure]]] = {n: [] for n in candidates}
    work = Path(tempfile.mkdtemp(prefix="bench-proxy-"))
    target = start_target("model-service", work)
    try:
        names = list(candidates)
        for r in range(args.rounds):
            order = names[r % len(names) :] + names[: r % len(names)]
            for name in order:
                with candidates[name](target.url, work) as url:  # type: ignore[attr-defined]
                    full = run_load(url, args.users, args.seconds, work, None)
                    paced = run_load(url, args.users, args.seconds, work, args.paced_rate)
                results[name].append((full, paced))
                print(
                    f"round {r + 1} {name:10s} {full.rate:7.0f} req/s"
                    f" (median {full.median_ms:.2f} ms,"
                    f" errors {full.errors}) | paced {paced.rate:5.0f} req/s median"
                    f" {paced.median_ms:.3f} ms p99 {paced.p99_ms:.2f} ms errors {paced.errors}",
                    flush=True,
                )
    finally:
        target.close()
        shutil.rmtree(work, ignore_errors=True)
    print(
        "\n# candidate: throughput ratio to direct (per round) | added paced median (ms, per round)"
    )
    for name in candidates:
        if name == "direct":
            continue
        ratios = [
            c[0].rate / d[0].rate for c, d in zip(results[name], results["direct"], strict=True)
        ]
        added = [
            c[1].median_ms - d[1].median_ms
            for c, d in zip(results[name], results["direct"], strict=True)
        ]
        print(
            f"{name:10s} ratio mean {statistics.mean(ratios):.2f} "
            f"[{', '.join(f'{x:.2f}' for x in ratios)}] | added median mean "
            f"{statistics.mean(added):+.3f} ms [{', '.join(f'{x:+.3f}' for x in added)}]"
        )
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(REPO / "bench"))
    sys.exit(main())
