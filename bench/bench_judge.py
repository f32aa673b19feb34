"""Benchmark: the answer judge's speed, this checkout against a baseline, side by side.

One command::

    python bench/bench_judge.py [--baseline-ref main | --baseline DIR] [--rounds 7] [--quick]

The judge is what the load child runs on every answer (``compile_judge``: harm rules and the
version source, the body decoded at most once). The baseline is another checkout of govdrill:
``git archive`` of ``--baseline-ref`` (default ``main``) unpacked into a temporary folder, or
a folder given with ``--baseline``. Each round runs one worker process per side, the order
flipping every round, on the same machine at the same time; a worker imports only its own
checkout's ``harness`` and times the judge on a fixed list of answers.

Answers: the reference target's ``/v1/generate`` answers (``{"output", "model_version",
"request_id"}`` with ``X-Model-Version``), one in ten with the canary, one in ten a 503.

Scenarios (each both sides understand):

``drill``   the shipped drills' rule: ``$.output`` with a regex; the version from the header
``mixed``   five rules, one per kind: status, latency, header regex, ``equals`` at a path,
            a regex over the whole body; the version from the header, else ``$.model_version``

and, this checkout only (the baseline has no wildcard): ``wildcard``, an OpenAI answer with
four choices judged by ``$.choices[*].message.content``.

Beside the judge, ``--start-rounds`` (default 5) times the load child's start on both sides:
from ``LoadProcess.start`` to all of its 2 users spawned (``#R``), against a local stdlib
server. This checkout's child imports pydantic to validate its config, the baseline's did not.

It prints answers per second per side and scenario (median and spread over the rounds) and
the ratio this/baseline per round; the goal is a ratio >= 1 (the figure must not drop).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench._common import machine, spread  # noqa: E402

DRILL_RULES: list[dict[str, Any]] = [{"json_path": "$.output", "regex": "CANARY-[0-9a-f]{8}"}]
MIXED_RULES: list[dict[str, Any]] = [
    {"status": [500, 502]},
    {"latency_over": 2.0},
    {"header": "X-Safety", "header_regex": "^unsafe"},
    {"json_path": "$.flags.blocked", "equals": True},
    {"regex": "CANARY-[0-9a-f]{8}"},
]
WILDCARD_RULES: list[dict[str, Any]] = [
    {"json_path": "$.choices[*].message.content", "regex": "CANARY-[0-9a-f]{8}"}
]


def answers(kind: str, count: int = 1000) -> list[tuple[int, dict[str, str], bytes, int]]:
    """A fixed, realistic list of answers (deterministic: the same on both sides)."""
    out = []
    for i in range(count):
        leak = " CANARY-0badc0de" if i % 10 == 3 else ""
        if i % 10 == 7:
            out.append((503, {"content-type": "text/plain"}, b"stopped", 1_000_000))
            continue
        headers = {"content-type": "application/json", "x-model-version": "v2"}
        if kind == "wildcard":
            doc: dict[str, Any] = {
                "model": "v2",
                "choices": [
                    {"index": n, "message": {"role": "assistant", "content": f"the river {n}"}}
                    for n in range(4)
                ],
            }
            doc["choices"][i % 4]["message"]["content"] += leak
        else:
            doc = {
                "output": f"the river runs past the mill, answer {i}{leak}",
                "model_version": "v2",
                "request_id": f"{i:016x}",
                "flags": {"blocked": i % 10 == 5},
            }
        out.append((200, headers, json.dumps(doc).encode(), 3_000_000))
    return out


def _build(root: str, rules: list[dict[str, Any]], version_path: str | None) -> Any:
    """The judge of the checkout at ``root``, through whichever API it has."""
    sys.path.insert(0, root)
    try:
        from harness.judging import compile_judge
        from harness.spec.models import HarmRule, VersionSource

        return compile_judge(
            [HarmRule.model_validate(rule) for rule in rules],
            VersionSource(json_path=version_path),
        )
    except ImportError:  # the baseline: harm.py with its dataclass twins
        from harness.harm import HarmRuleSpec, VersionSpec
        from harness.harm import compile_judge as old_compile_judge

        old_rules = []
        for rule in rules:
            rule = dict(rule)
            if "latency_over" in rule:
                rule["latency_over_s"] = rule.pop("latency_over")
            if isinstance(rule.get("status"), list):
                rule["status"] = tuple(rule["status"])
            old_rules.append(HarmRuleSpec(**rule))
        return old_compile_judge(old_rules, VersionSpec(json_path=version_path))


def worker(root: str, scenario: str, seconds: float) -> None:
    """Time one scenario in this process; print answers per second as JSON."""
    rules, version_path, kind = {
        "drill": (DRILL_RULES, None, "drill"),
        "mixed": (MIXED_RULES, "$.model_version", "drill"),
        "wildcard": (WILDCARD_RULES, None, "wildcard"),
    }[scenario]
    judge = _build(root, rules, version_path)
    batch = answers(kind)
    harmful = sum(judge(*answer)[0] for answer in batch)  # also warms up
    best = 0.0
    deadline = time.perf_counter_ns() + int(seconds * 1e9)
    while time.perf_counter_ns() < deadline:
        start = time.perf_counter_ns()
        for status, headers, body, latency in batch:
            judge(status, headers, body, latency)
        elapsed = time.perf_counter_ns() - start
        best = max(best, len(batch) / (elapsed / 1e9))
    print(json.dumps({"answers_per_s": best, "harmful": harmful}))


def start_worker(root: str) -> None:
    """Time one load child's start, from spawn to all users spawned; print seconds as JSON."""
    import os
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    sys.path.insert(0, root)
    from harness.load.process import LoadProcess
    from harness.observations import ObservationLog

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    fields: dict[str, Any] = {
        "base_url": f"http://127.0.0.1:{server.server_address[1]}",
        "users": 2,
        "spawn_rate": 100.0,
        "parent_pid": os.getpid(),
        "per_user_rate": 10.0,
    }
    try:
        import harness.judging  # noqa: F401 (only this checkout has it)
        from harness.spec.models import HarmRule, RequestSpec

        fields["request"] = RequestSpec(method="POST", path="/", json={"p": 1})
        fields["harm"] = (HarmRule.model_validate(DRILL_RULES[0]),)
    except ImportError:  # the baseline
        from harness.load.config import HarmRuleSpec
        from harness.load.config import RequestSpec as OldRequestSpec

        fields["request"] = OldRequestSpec("POST", "/", json={"p": 1})
        fields["harm"] = (HarmRuleSpec(**DRILL_RULES[0]),)
    from harness.load.config import LoadConfig

    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter_ns()
        with LoadProcess(
            config=LoadConfig(**fields), log=ObservationLog(), stderr_path=Path(tmp) / "e"
        ) as load:
            load.wait_ready(60.0)
            ready = time.perf_counter_ns()
    server.shutdown()
    print(json.dumps({"start_s": (ready - start) / 1e9}))


def run_start(root: Path) -> float:
    """One load child start of one side, in a fresh worker process; seconds."""
    out = subprocess.run(
        [sys.executable, "-P", str(Path(__file__).resolve()), "--worker", str(root),
         "--scenario", "start"],
        capture_output=True, text=True, check=True, cwd=tempfile.gettempdir(),
    )  # fmt: skip
    seconds: float = json.loads(out.stdout.strip().splitlines()[-1])["start_s"]
    return seconds


def run_worker(root: Path, scenario: str, seconds: float) -> dict[str, Any]:
    """One worker process for one side; its result."""
    out = subprocess.run(
        [sys.executable, "-P", str(Path(__file__).resolve()), "--worker", str(root),
         "--scenario", scenario, "--seconds", str(seconds)],
        capture_output=True, text=True, check=True, cwd=tempfile.gettempdir(),
    )  # fmt: skip
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def archive(ref: str, into: Path) -> Path:
    """``git archive ref`` of this repository, unpacked into ``into``."""
    into.mkdir(parents=True, exist_ok=True)
    tar = subprocess.run(
        ["git", "-C", str(REPO), "archive", ref, "harness"], capture_output=True, check=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=tar, check=True)
    return into


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline-ref", default="main")
    parser.add_argument("--baseline", type=Path, help="a checkout to compare with instead")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--seconds", type=float, default=2.0, help="timing per worker")
    parser.add_argument("--start-rounds", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="3 rounds of 0.5 s")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--scenario", default="drill", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        if args.scenario == "start":
            start_worker(args.worker)
        else:
            worker(args.worker, args.scenario, args.seconds)
        return 0
    if args.quick:
        args.rounds, args.seconds, args.start_rounds = 3, 0.5, 2
    print(machine())
    with tempfile.TemporaryDirectory(prefix="bench-judge-") as tmp:
        baseline = args.baseline or archive(args.baseline_ref, Path(tmp) / "baseline")
        label = str(args.baseline) if args.baseline else args.baseline_ref
        print(f"baseline: {label}; this: {REPO}; {args.rounds} rounds, {args.seconds} s each")
        for scenario in ("drill", "mixed"):
            this: list[float] = []
            base: list[float] = []
            ratios: list[float] = []
            for round_ in range(args.rounds):
                sides = [("this", REPO), ("base", baseline)]
                if round_ % 2:
                    sides.reverse()
                got = {name: run_worker(root, scenario, args.seconds) for name, root in sides}
                if got["this"]["harmful"] != got["base"]["harmful"]:
                    raise SystemExit(f"{scenario}: the two judges disagree: {got}")
                this.append(got["this"]["answers_per_s"])
                base.append(got["base"]["answers_per_s"])
                ratios.append(this[-1] / base[-1])
                print(f"  {scenario} round {round_ + 1}: this {this[-1]:,.0f}/s, "
                      f"baseline {base[-1]:,.0f}/s, ratio {ratios[-1]:.3f}")  # fmt: skip
            print(f"{scenario}: this {spread(this, fmt=',.0f')} answers/s")
            print(f"{scenario}: baseline {spread(base, fmt=',.0f')} answers/s")
            print(f"{scenario}: ratio this/baseline {spread(ratios)} (goal >= 1)")
        wild = [run_worker(REPO, "wildcard", args.seconds)["answers_per_s"] for _ in range(3)]
        print(f"wildcard (this only): {spread(wild, fmt=',.0f')} answers/s")
        starts: dict[str, list[float]] = {"this": [], "base": []}
        for round_ in range(args.start_rounds):
            sides = [("this", REPO), ("base", baseline)]
            for name, root in sides if round_ % 2 == 0 else reversed(sides):
                starts[name].append(run_start(root))
        print(f"load child start: this {spread(starts['this'])} s")
        print(f"load child start: baseline {spread(starts['base'])} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
