"""Benchmark: many concurrent streamed answers (``load.stream``) against the reference target.

One command::

    python bench/bench_streams.py [--streams 200] [--seconds 10] [--token-delay 50ms]
                                  [--tokens 40]

Starts the reference target (``targets/model-service/serve.py``) with streamed answers of
``--tokens`` tokens ``--token-delay`` apart, then a real load child
(:class:`harness.load.process.LoadProcess`, ``stream: true``) with one user per stream, each
sending the next streamed request as soon as its stream ends. After ``--seconds`` it stops the
load and prints, as JSON:

- ``concurrent_streams``: streams in flight (started, not ended) at instants sampled every
  100 ms over the steady state (median and minimum), computed from the stream records;
- ``chunks_per_s``: chunks of the streams that ended in the steady state, per second;
- ``child_rss_mib`` and ``child_peak_rss_mib``: the load child's resident memory at the end
  and at its peak (``/proc/<pid>/status`` VmRSS, VmHWM);
- ``harness_rss_mib`` / ``harness_peak_rss_mib``: this process's, which reads the child's
  lines and keeps the observation log;
- ``outcomes``: streams by outcome, and ``target_stream_end``: the streams the target logged.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench._common import machine, use_this_checkout  # noqa: E402
from harness.load.config import LoadConfig  # noqa: E402
from harness.load.process import LoadProcess  # noqa: E402
from harness.observations import ObservationLog  # noqa: E402
from harness.spec.models import HarmRule, RequestSpec  # noqa: E402

SERVE_PY = REPO / "targets" / "model-service" / "serve.py"
RULE = HarmRule(json_path="$.choices[*].delta.content", regex="CANARY-[0-9a-f]{8}")


def _status_kib(pid: int | str, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _wait_port(path: Path, proc: subprocess.Popen[bytes]) -> int:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().strip():
            return int(path.read_text())
        if proc.poll() is not None:
            raise SystemExit(f"the target exited with {proc.returncode}")
        time.sleep(0.05)
    raise SystemExit("the target did not start")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--token-delay", default="50ms")
    parser.add_argument("--tokens", type=int, default=40)
    args = parser.parse_args()
    use_this_checkout()
    work = Path(tempfile.mkdtemp(prefix="bench-streams-"))
    (work / "token").write_text("bench-token\n")
    target = subprocess.Popen(
        [
            sys.executable,
            str(SERVE_PY),
            "--port",
            "0",
            "--port-file",
            str(work / "port"),
            "--events",
            str(work / "events.jsonl"),
            "--token-file",
            str(work / "token"),
            "--token-delay",
            args.token_delay,
            "--stream-tokens",
            str(args.tokens),
            "--model-version",
            "v2",
            "--v2-canary-rate",
            "0.1",
        ],
        stdout=subprocess.DEVNULL,
        stderr=open(work / "target.stderr", "wb"),  # noqa: SIM115 (closed with the process)
        start_new_session=True,
    )
    try:
        port = _wait_port(work / "port", target)
        config = LoadConfig(
            base_url=f"http://127.0.0.1:{port}",
            users=args.streams,
            spawn_rate=float(args.streams),
            request=RequestSpec(
                method="POST",
                path="/v1/chat/completions",
                json={
                    "model": "m",
                    "stream": True,
                    "messages": [{"role": "user", "content": "hi"}],
                },
            ),
            parent_pid=os.getpid(),
            timeout_s=10.0,
            harm=(RULE,),
            stream=True,
        )
        log = ObservationLog()
        load = LoadProcess(config=config, log=log, stderr_path=work / "load.stderr")
        load.start()
        load.wait_ready(60)
        ready_ns = time.monotonic_ns()
        time.sleep(args.seconds)
        end_ns = time.monotonic_ns()
        pid = load.pid
        assert pid is not None
        child_rss = _status_kib(pid, "VmRSS")
        child_peak = _status_kib(pid, "VmHWM")
        load.stop()
    finally:
        target.terminate()
        target.wait(30)
    streams = list(log.streams())
    # the steady state: from a fifth of the run on (the spawn and the first streams are over)
    warm_ns = ready_ns + (end_ns - ready_ns) // 5
    # streams still going at the stop have no record: sample only up to two stream lengths
    # before it, where every stream in flight has ended and been recorded
    lengths = sorted(s.end_ns - s.start_ns for s in streams) or [0]
    sample_end = end_ns - 2 * lengths[len(lengths) // 2]
    samples = []
    t = warm_ns
    while t < sample_end:
        samples.append(sum(1 for s in streams if s.start_ns <= t < s.end_ns))
        t += 100_000_000
    samples.sort()
    steady = [s for s in streams if warm_ns <= s.end_ns < end_ns]
    chunks = sum(s.chunks for s in steady)
    stream_ends = sum(
        1
        for line in (work / "events.jsonl").read_text().splitlines()
        if '"event":"stream_end"' in line
    )
    result = {
        "machine": machine(),
        "command": " ".join(["python", "bench/bench_streams.py", *sys.argv[1:]]),
        "streams_asked": args.streams,
        "concurrent_streams": {
            "median": samples[len(samples) // 2] if samples else 0,
            "min": samples[0] if samples else 0,
        },
        "streams_ended": len(streams),
        "stream_seconds_median": round(lengths[len(lengths) // 2] / 1e9, 3),
        "chunks_per_s": round(chunks * 1e9 / max(end_ns - warm_ns, 1)),
        "harmful_streams": sum(1 for s in streams if s.harmful_chunks),
        "outcomes": dict(collections.Counter(s.outcome.value for s in streams)),
        "child_rss_mib": round(child_rss / 1024, 1),
        "child_peak_rss_mib": round(child_peak / 1024, 1),
        "harness_rss_mib": round(_status_kib("self", "VmRSS") / 1024, 1),
        "harness_peak_rss_mib": round(_status_kib("self", "VmHWM") / 1024, 1),
        "target_stream_end": stream_ends,
        "malformed_lines": load.malformed_lines,
        "host": socket.gethostname(),
    }
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
