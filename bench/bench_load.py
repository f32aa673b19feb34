"""Benchmark: the harness load path against bare Locust, side by side on the same target.

One command::

    python bench/bench_load.py [--rounds 3] [--seconds 10] [--users 20] [--target auto]

Starts the reference target (``targets/model-service/serve.py``) when it exists, else a tiny
threaded stdlib server, each in its own process. Then alternates, round by round (the order
flips every round):

(a) the harness load path: :class:`harness.load.process.LoadProcess` with a harm rule,
    every request classified in the child and streamed into an ``ObservationLog``;
(b) bare Locust: ``locust -f <file> --headless -u N -r N -t Ss --csv ...`` with a plain
    ``FastHttpUser`` sending the same request and judging nothing.

Both rates are steady state: requests completed after all users were spawned, divided by the
time from then to the end. It prints each run, the mean ratio (a)/(b) (goal >= 0.9), and the
CPU seconds of the harness process itself during (a) (``getrusage(RUSAGE_SELF)``) beside the
load generator's (``RUSAGE_CHILDREN``, which counts the reaped child).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from harness.load.config import LoadConfig  # noqa: E402
from harness.load.process import LoadProcess  # noqa: E402
from harness.observations import ObservationLog  # noqa: E402
from harness.spec.models import HarmRule, RequestSpec  # noqa: E402

MODEL_SERVICE = REPO / "targets" / "model-service" / "serve.py"
PATH = "/v1/generate"
PAYLOAD = {"prompt": "the lighthouse keeper"}

BARE_LOCUSTFILE = """
import json, time
from locust import FastHttpUser, constant, events, task

PATH = {path!r}
PAYLOAD = {payload!r}
MARKS = {marks!r}
_marks = {{}}
_env = []


class BareUser(FastHttpUser):
    wait_time = constant(0)

    @task
    def send(self):
        self.client.post(PATH, json=PAYLOAD)


@events.spawning_complete.add_listener
def _spawned(user_count, **_):
    env = _env[0]
    _marks["ready_ns"] = time.monotonic_ns()
    _marks["ready_count"] = env.stats.total.num_requests + env.stats.total.num_failures


@events.init.add_listener
def _init(environment, **_):
    _env.append(environment)


@events.test_stop.add_listener
def _stopped(environment, **_):
    _marks["end_ns"] = time.monotonic_ns()
    total = environment.stats.total
    _marks["end_count"] = total.num_requests + total.num_failures
    _marks["failures"] = total.num_failures
    with open(MARKS, "w") as f:
        json.dump(_marks, f)
"""


# --------------------------------------------------------------------------- targets


class _BuiltinHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    body = json.dumps({"output": "a small and harmless answer"}).encode()

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(self.body)))
        self.send_header("X-Model-Version", "v1")
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def serve_builtin(port_file: Path) -> None:
    """Run the tiny stdlib target until killed, writing its port to ``port_file``."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _BuiltinHandler)
    server.daemon_threads = True
    tmp = port_file.with_suffix(".tmp")
    tmp.write_text(str(server.server_address[1]))
    tmp.rename(port_file)
    server.serve_forever()


@dataclass
class Target:
    name: str
    url: str
    proc: subprocess.Popen[bytes]

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def start_target(kind: str, workdir: Path) -> Target:
    port_file = workdir / "port"
    if kind == "model-service" or (kind == "auto" and MODEL_SERVICE.exists()):
        token = workdir / "token"
        token.write_text(secrets.token_hex(16))
        cmd = [
            sys.executable,
            str(MODEL_SERVICE),
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--port-file",
            str(port_file),
            "--token-file",
            str(token),
        ]
        name = "model-service"
    else:
        cmd = [sys.executable, str(Path(__file__).resolve()), "--serve-builtin", str(port_file)]
        name = "builtin stdlib server"
    with open(workdir / "target.err", "wb") as stderr:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=stderr)
    deadline = time.monotonic() + 20
    while not port_file.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"target did not start; see {workdir / 'target.err'}")
        time.sleep(0.02)
    url = f"http://127.0.0.1:{int(port_file.read_text())}"
    target = Target(name, url, proc)
    # one real request, so a broken target fails here and not as a 0 req/s benchmark
    req = urllib.request.Request(
        url + PATH, data=json.dumps(PAYLOAD).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=5) as resp:
        if resp.status != 200:
            raise SystemExit(f"target answered {resp.status}")
    return target


# --------------------------------------------------------------------------- the two runs


@dataclass
class Result:
    rate: float
    requests: int
    seconds: float
    self_cpu_s: float
    child_cpu_s: float
    note: str = ""


def _cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def run_harness(url: str, users: int, seconds: float, workdir: Path) -> Result:
    log = ObservationLog()
    config = LoadConfig(
        base_url=url,
        users=users,
        spawn_rate=float(users),
        request=RequestSpec(method="POST", path=PATH, json=PAYLOAD),
        parent_pid=os.getpid(),
        harm=(HarmRule(json_path="$.output", regex="CANARY-[0-9a-f]{8}"),),
    )
    self0, child0 = _cpu(resource.RUSAGE_SELF), _cpu(resource.RUSAGE_CHILDREN)
    harmful = 0

    def on_observation(obs: Any) -> None:
        nonlocal harmful
        harmful += obs.harmful

    with LoadProcess(
        config=config,
        log=log,
        stderr_path=workdir / "harness-load.err",
        on_observation=on_observation,
    ) as load:
        load.wait_ready(30)
        ready_ns = time.monotonic_ns()
        time.sleep(seconds)
        end_ns = time.monotonic_ns()
    self1, child1 = _cpu(resource.RUSAGE_SELF), _cpu(resource.RUSAGE_CHILDREN)
    _, ends, *_ = log.columns()
    done = sum(1 for t in ends if ready_ns <= t <= end_ns)
    span = (end_ns - ready_ns) / 1e9
    return Result(
        done / span,
        len(log),
        span,
        self1 - self0,
        child1 - child0,
        note=f"{harmful} harmful, {load.observations_announced} announced",
    )


def run_bare(url: str, users: int, seconds: float, workdir: Path) -> Result:
    marks = workdir / "bare-marks.json"
    marks.unlink(missing_ok=True)
    locustfile = workdir / "bare_locustfile.py"
    locustfile.write_text(BARE_LOCUSTFILE.format(path=PATH, payload=PAYLOAD, marks=str(marks)))
    child0 = _cpu(resource.RUSAGE_CHILDREN)
    self0 = _cpu(resource.RUSAGE_SELF)
    cmd = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(locustfile),
        "--headless",
        "-u",
        str(users),
        "-r",
        str(users),
        "-t",
        f"{seconds + 1:g}s",  # +1 s: the spawn ramp
        "--host",
        url,
        "--csv",
        str(workdir / "bare"),
        "--only-summary",
        "--loglevel",
        "WARNING",
    ]
    with open(workdir / "bare.err", "wb") as stderr:
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=stderr, check=False, cwd=workdir)
    child1 = _cpu(resource.RUSAGE_CHILDREN)
    self1 = _cpu(resource.RUSAGE_SELF)
    data = json.loads(marks.read_text())
    span = (data["end_ns"] - data["ready_ns"]) / 1e9
    done = data["end_count"] - data["ready_count"]
    return Result(
        done / span,
        data["end_count"],
        span,
        self1 - self0,
        child1 - child0,
        note=f"{data['failures']} failures",
    )


# --------------------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--target", choices=["auto", "model-service", "builtin"], default="auto")
    parser.add_argument("--serve-builtin", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_builtin:
        serve_builtin(args.serve_builtin)
        return 0

    with tempfile.TemporaryDirectory(prefix="bench-load-") as tmp:
        workdir = Path(tmp)
        target = start_target(args.target, workdir)
        print(
            f"target: {target.name} at {target.url}; {os.cpu_count()} CPUs; "
            f"{args.users} users, {args.rounds} rounds x {args.seconds:g} s each side"
        )
        harness_results: list[Result] = []
        bare_results: list[Result] = []
        try:
            for round_ in range(args.rounds):
                order = ["harness", "bare"] if round_ % 2 == 0 else ["bare", "harness"]
                for side in order:
                    if side == "harness":
                        r = run_harness(target.url, args.users, args.seconds, workdir)
                        harness_results.append(r)
                    else:
                        r = run_bare(target.url, args.users, args.seconds, workdir)
                        bare_results.append(r)
                    print(
                        f"  round {round_ + 1} {side:8s} {r.rate:8.0f} req/s  "
                        f"({r.requests} requests; harness CPU {r.self_cpu_s:.2f} s, "
                        f"load child CPU {r.child_cpu_s:.2f} s; {r.note})",
                        flush=True,
                    )
        finally:
            target.close()

    a = statistics.mean(r.rate for r in harness_results)
    b = statistics.mean(r.rate for r in bare_results)
    ratios = [h.rate / x.rate for h, x in zip(harness_results, bare_results, strict=True)]
    cpu_self = statistics.mean(r.self_cpu_s for r in harness_results)
    cpu_child_a = statistics.mean(r.child_cpu_s for r in harness_results)
    cpu_child_b = statistics.mean(r.child_cpu_s for r in bare_results)
    print()
    print(f"(a) harness load path : {a:8.0f} req/s (mean of {len(harness_results)})")
    print(f"(b) bare Locust       : {b:8.0f} req/s (mean of {len(bare_results)})")
    print(
        f"ratio (a)/(b)         : {a / b:.3f}  per round: "
        + ", ".join(f"{x:.3f}" for x in ratios)
        + "  (goal >= 0.9)"
    )
    print(
        f"harness process CPU during (a): {cpu_self:.2f} s per run "
        f"({cpu_self / args.seconds * 100:.1f}% of one core)"
    )
    print(
        f"load generator CPU: (a) child {cpu_child_a:.2f} s, (b) locust {cpu_child_b:.2f} s per run"
    )
    return 0 if a / b >= 0.9 else 1


if __name__ == "__main__":
    sys.exit(main())
