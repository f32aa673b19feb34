"""Helpers to run the real model service as a child process and talk real HTTP to it."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TARGET_DIR = Path(__file__).resolve().parents[2] / "targets" / "model-service"
SERVE_PY = TARGET_DIR / "serve.py"
TOKEN = "drill-test-token"
CANARY = "CANARY-"


@dataclass
class Answer:
    """One HTTP exchange as the client saw it, on the monotonic clock."""

    status: int
    headers: dict[str, str]
    body: dict[str, Any]
    start_ns: int
    end_ns: int

    @property
    def version(self) -> str | None:
        return self.headers.get("x-model-version")

    @property
    def leaked(self) -> bool:
        return CANARY in json.dumps(self.body)


class Client:
    """A keep-alive HTTP/1.1 connection to the service."""

    def __init__(self, port: int, timeout: float = 10.0) -> None:
        self.port = port
        self.timeout = timeout
        self._conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)

    def call(
        self,
        method: str,
        path: str,
        payload: Any = None,
        *,
        token: str | None = None,
        raw: bytes | None = None,
    ) -> Answer:
        headers = {"Content-Type": "application/json"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        body = (
            raw if raw is not None else (b"" if payload is None else json.dumps(payload).encode())
        )
        start = time.monotonic_ns()
        try:
            self._conn.request(method, path, body=body, headers=headers)
            response = self._conn.getresponse()
            data = response.read()
        except Exception:
            self._conn.close()
            raise
        end = time.monotonic_ns()
        answer_headers = {k.lower(): v for k, v in response.getheaders()}
        if response.will_close:
            self._conn.close()
        return Answer(response.status, answer_headers, json.loads(data) if data else {}, start, end)

    def generate(self, prompt: str = "the keeper", **extra: Any) -> Answer:
        return self.call("POST", "/v1/generate", {"prompt": prompt, **extra})

    def admin(self, method: str, path: str, payload: Any = None, token: str = TOKEN) -> Answer:
        return self.call(method, path, payload, token=token)

    def close(self) -> None:
        self._conn.close()


class Service:
    """A running service process (its own session), its files and helpers to drive it."""

    def __init__(self, proc: subprocess.Popen[bytes], workdir: Path, port: int | None) -> None:
        self.proc = proc
        self.workdir = workdir
        self.port = port or 0
        self.admin_port = self.port

    @property
    def events_path(self) -> Path:
        return self.workdir / "events.jsonl"

    def events(self, name: str | None = None) -> list[dict[str, Any]]:
        if not self.events_path.exists():
            return []
        lines = self.events_path.read_text().splitlines()
        records = [json.loads(line) for line in lines if line]
        return [r for r in records if name is None or r["event"] == name]

    def wait_event(self, name: str, count: int = 1, timeout: float = 10.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.events(name)
            if len(found) >= count:
                return found
            time.sleep(0.02)
        raise AssertionError(f"no {count}x {name!r} event within {timeout}s: {self.events()}")

    def stderr(self) -> str:
        return (self.workdir / "stderr.log").read_text(errors="replace")

    def client(self, timeout: float = 10.0, *, admin: bool = False) -> Client:
        return Client(self.admin_port if admin else self.port, timeout)

    def signal(self, signum: int) -> None:
        os.kill(self.proc.pid, signum)

    def wait_exit(self, timeout: float = 10.0) -> int:
        return self.proc.wait(timeout)

    def kill_group(self) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(5)


def wait_ready(port: int, timeout: float = 10.0) -> None:
    """Poll /readyz until it answers 200."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            client = Client(port, timeout=1.0)
            try:
                if client.call("GET", "/readyz").status == 200:
                    return
            finally:
                client.close()
        except OSError:
            pass
        time.sleep(0.02)
    raise AssertionError(f"port {port} not ready within {timeout}s")


def run_service_command(args: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """Run serve.py to completion (for usage errors), capturing its output."""
    return subprocess.run(
        [sys.executable, str(SERVE_PY), *args],
        capture_output=True,
        text=True,
        timeout=20,
        **kwargs,
    )


StartService = Callable[..., Service]
"""``start_service(*flags, env=..., token_file=..., wait=..., cwd=..., command=...)``."""


@dataclass
class Hammer:
    """Client threads sending POST /v1/generate in a closed loop, recording every answer."""

    port: int
    threads: int = 4
    timeout: float = 5.0

    def __post_init__(self) -> None:
        self.answers: list[Answer] = []
        self.failures: list[tuple[int, int, str]] = []
        self._lock = threading.Lock()
        self._halt = threading.Event()
        self._workers = [
            threading.Thread(target=self._loop, daemon=True) for _ in range(self.threads)
        ]

    def __enter__(self) -> Hammer:
        for worker in self._workers:
            worker.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._halt.set()
        for worker in self._workers:
            worker.join(self.timeout + 2)

    def _loop(self) -> None:
        client = Client(self.port, self.timeout)
        while not self._halt.is_set():
            start = time.monotonic_ns()
            try:
                answer = client.generate()
            except (OSError, http.client.HTTPException) as exc:
                with self._lock:
                    self.failures.append((start, time.monotonic_ns(), repr(exc)))
                client = Client(self.port, self.timeout)
                time.sleep(0.005)
                continue
            with self._lock:
                self.answers.append(answer)
        client.close()

    def snapshot(self) -> list[Answer]:
        with self._lock:
            return list(self.answers)

    def wait_for(self, predicate: Callable[[Answer], bool], timeout: float = 5.0) -> Answer:
        """Wait until some answer satisfies ``predicate``; return the first one."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for answer in self.snapshot():
                if predicate(answer):
                    return answer
            time.sleep(0.01)
        raise AssertionError("no matching answer observed")


def assert_instant_between(
    answers: list[Answer],
    t_ns: int,
    old: Callable[[Answer], bool],
    new: Callable[[Answer], bool],
) -> None:
    """Every old-behaviour answer started before ``t_ns``; every new one ended after it."""
    olds = [a for a in answers if old(a)]
    news = [a for a in answers if new(a)]
    assert olds, "no answer of the old behaviour was observed"
    assert news, "no answer of the new behaviour was observed"
    last_old_start = max(a.start_ns for a in olds)
    first_new_end = min(a.end_ns for a in news)
    assert last_old_start < t_ns, f"an old answer started {last_old_start - t_ns} ns after t"
    assert t_ns < first_new_end, f"a new answer ended {t_ns - first_new_end} ns before t"
