"""Benchmark the reference model service under Locust: req/s and latency percentiles.

Starts the real service, runs Locust headless in its own subprocess against
``POST /v1/generate`` and reads Locust's ``--csv`` stats. Variants run alternately in the
same invocation (default server; ``--no-nodelay``; ``--split-writes`` i.e. headers and body in
two writes; and both, the naive handler) so their ratios are measured under the same machine
conditions.

    python3 bench/bench_target.py [--duration 15] [--users 20] [--rounds 1] [--variants ...]
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

SERVE_PY = Path(__file__).resolve().parent.parent / "targets" / "model-service" / "serve.py"

# "default" answers with one write per response on a TCP_NODELAY socket. The others show
# why: a naive handler writes headers and body separately, and with Nagle on the second write
# waits for the client's delayed ACK (~40 ms).
VARIANTS: dict[str, list[str]] = {
    "default": [],
    "no-nodelay": ["--no-nodelay"],
    "split": ["--split-writes"],
    "naive": ["--split-writes", "--no-nodelay"],
}

LOCUSTFILE = """
from locust import FastHttpUser, constant, task


class Generate(FastHttpUser):
    wait_time = constant(0)

    @task
    def generate(self):
        self.client.post("/v1/generate", json={"prompt": "the keeper", "max_tokens": 16})
"""


@dataclass(frozen=True)
class Result:
    """Aggregated figures of one Locust run."""

    variant: str
    requests: int
    failures: int
    rps: float
    median_ms: float
    p95_ms: float
    p99_ms: float


def _wait_ready(port_file: Path, proc: subprocess.Popen[bytes]) -> int:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the service exited early with {proc.returncode}")
        if port_file.exists() and port_file.read_text().strip():
            port = int(port_file.read_text())
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1):
                    return port
            except OSError:
                pass
        time.sleep(0.05)
    raise SystemExit("the service did not become ready within 10 s")


def run_variant(
    variant: str, extra: list[str], *, duration: int, users: int, workdir: Path, index: int
) -> Result:
    """Start the service with ``extra`` flags, load it with Locust, return the figures."""
    run_dir = workdir / f"{index:02d}-{variant}"
    run_dir.mkdir()
    (run_dir / "token").write_text("bench-token\n")
    port_file = run_dir / "port"
    service = subprocess.Popen(
        [
            sys.executable,
            str(SERVE_PY),
            "--port",
            "0",
            "--port-file",
            str(port_file),
            "--token-file",
            str(run_dir / "token"),
            *extra,
        ],
        start_new_session=True,
        stderr=subprocess.DEVNULL,
    )
    try:
        port = _wait_ready(port_file, service)
        locustfile = workdir / "locustfile.py"
        csv_prefix = run_dir / "stats"
        subprocess.run(
            [
                "locust",
                "-f",
                str(locustfile),
                "--headless",
                "-u",
                str(users),
                "-r",
                str(users),
                "-t",
                f"{duration}s",
                "--host",
                f"http://127.0.0.1:{port}",
                "--csv",
                str(csv_prefix),
                "--only-summary",
                "--loglevel",
                "WARNING",
            ],
            check=False,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=duration + 60,
        )
        with open(f"{csv_prefix}_stats.csv", newline="") as handle:
            row = next(r for r in csv.DictReader(handle) if r["Name"] == "Aggregated")
        return Result(
            variant=variant,
            requests=int(row["Request Count"]),
            failures=int(row["Failure Count"]),
            rps=float(row["Requests/s"]),
            median_ms=float(row["50%"]),
            p95_ms=float(row["95%"]),
            p99_ms=float(row["99%"]),
        )
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(service.pid, signal.SIGKILL)
        service.wait()


def main(argv: list[str] | None = None) -> int:
    """Run every variant ``--rounds`` times, alternating, and print a table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=15, help="seconds per run (default 15)")
    parser.add_argument("--users", type=int, default=20, help="Locust users (default 20)")
    parser.add_argument("--rounds", type=int, default=1, help="alternating rounds (default 1)")
    parser.add_argument(
        "--variants",
        nargs="+",
        choices=list(VARIANTS),
        default=list(VARIANTS),
        help="variants to run (default: all)",
    )
    args = parser.parse_args(argv)

    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="bench-target-") as tmp:
        workdir = Path(tmp)
        (workdir / "locustfile.py").write_text(LOCUSTFILE)
        index = 0
        for _ in range(args.rounds):
            for variant in args.variants:
                result = run_variant(
                    variant,
                    VARIANTS[variant],
                    duration=args.duration,
                    users=args.users,
                    workdir=workdir,
                    index=index,
                )
                index += 1
                results.append(result)
                print(
                    f"{result.variant:<12} {result.rps:9.1f} req/s  median {result.median_ms:5.0f}"
                    f" ms  p95 {result.p95_ms:5.0f} ms  p99 {result.p99_ms:5.0f} ms  "
                    f"({result.requests} requests, {result.failures} failures)",
                    flush=True,
                )

    print(
        f"\nPOST /v1/generate, {args.users} Locust users (FastHttpUser, keep-alive), "
        f"{args.duration}s per run, {args.rounds} round(s), {os.cpu_count()} CPUs"
    )
    best: dict[str, float] = {}
    for variant in args.variants:
        runs = [r for r in results if r.variant == variant]
        rps = sum(r.rps for r in runs) / len(runs)
        best[variant] = rps
        print(
            f"  {variant:<12} mean {rps:9.1f} req/s, worst p99 {max(r.p99_ms for r in runs):.0f} ms"
        )
    for other in ("no-nodelay", "split", "naive"):
        if "default" in best and best.get(other):
            print(f"  default / {other}: x{best['default'] / best[other]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
