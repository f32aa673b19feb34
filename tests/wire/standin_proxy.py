"""A stand-in fault proxy with the issue-16 contract's interface, over a tiny threaded relay.

TEMPORARY: the wiring around the proxy (spec, engine, evidence) is built and tested against
this until the real ``harness.proxy.FaultProxy`` merges; the engine prefers the real one.
It keeps the contract's promises that the wiring relies on: loopback only, the target's
503s, refusals and resets passed through (rules touch only 2xx answers), an events log of
``rule_on`` / ``rule_off`` / ``rule_count`` on the given clock, ``for:`` switching a rule off
by itself, and a json_path that selects nothing counted as unmatched, never a crash.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import random
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from harness.jsonpath import MISSING, parse_json_path, resolve_one
from harness.spec.proxy import ProxyRule

__all__ = ["FaultProxy", "RuleCount"]

_HOP = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade",
     "proxy-connection", "content-length", "host"}
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class RuleCount:
    """How many answers (or calls) a rule saw while on, touched, and could not apply to."""

    touched: int
    seen: int
    unmatched: int


class _QuietServer(ThreadingHTTPServer):
    """A relay whose clients hang up mid-answer: not an error worth a traceback."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        return


class _Rule:
    def __init__(self, rule: ProxyRule) -> None:
        self.rule = rule
        self.touched = self.seen = self.unmatched = 0
        self.off = threading.Event()
        self.timer: threading.Timer | None = None


class FaultProxy:
    """A relay in front of ``upstream`` that applies the rules switched on."""

    def __init__(
        self, upstream: str, events_path: Path, name: str, clock: Callable[[], int]
    ) -> None:
        parts = urlsplit(upstream)
        self._host = parts.hostname or "127.0.0.1"
        self._port = parts.port or 80
        self._prefix = parts.path.rstrip("/")
        self.name = name
        self._clock = clock
        self._lock = threading.Lock()
        self._on: dict[str, _Rule] = {}
        self._counts: dict[str, RuleCount] = {}
        self._closing = threading.Event()
        self._log = open(events_path, "a", encoding="utf-8")  # noqa: SIM115 (closed in close)
        self._server = _QuietServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, name=f"standin-proxy-{name}", daemon=True
        )

    @classmethod
    def start(
        cls,
        *,
        upstream: str,
        events_path: Path,
        name: str,
        run_id: str,
        clock: Callable[[], int] = time.monotonic_ns,
        timeout_s: float = 10.0,
    ) -> FaultProxy:
        """Start a proxy in front of ``upstream`` (a base URL); return once it listens."""
        del run_id, timeout_s  # in-process threads: nothing to label, listening at once
        proxy = cls(upstream, events_path, name, clock)
        proxy._thread.start()
        return proxy

    # ------------------------------------------------------------------ contract

    def enable(self, name: str, rule: ProxyRule) -> int:
        """Switch ``rule`` on under ``name``; the instant the proxy stamped."""
        state = _Rule(rule)
        with self._lock:
            self._on[name] = state
            t_ns = self._clock()
            self._write({"t_ns": t_ns, "event": "rule_on", "rule": name, "kind": rule.kind})
        if rule.for_ is not None:
            state.timer = threading.Timer(rule.for_, self._expire, args=(name, state))
            state.timer.daemon = True
            state.timer.start()
        return t_ns

    def disable(self, name: str) -> int:
        """Switch the rule ``name`` off (a no-op when it is off); the instant stamped."""
        with self._lock:
            return self._off(name, None)

    def counts(self) -> dict[str, RuleCount]:
        """Every rule's counts, those on now included."""
        with self._lock:
            now = {n: RuleCount(r.touched, r.seen, r.unmatched) for n, r in self._on.items()}
            return {**self._counts, **now}

    def close(self) -> None:
        """Switch every rule off, stop relaying, flush the log."""
        with self._lock:
            for name in list(self._on):
                self._off(name, None)
        self._closing.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5.0)
        with self._lock:
            self._log.close()

    # ------------------------------------------------------------------ rules

    def _expire(self, name: str, state: _Rule) -> None:
        with self._lock:
            self._off(name, state)

    def _off(self, name: str, only: _Rule | None) -> int:
        t_ns = self._clock()
        state = self._on.get(name)
        if state is None or (only is not None and state is not only):
            return t_ns
        del self._on[name]
        state.off.set()
        if state.timer is not None:
            state.timer.cancel()
        count = RuleCount(state.touched, state.seen, state.unmatched)
        self._counts[name] = count
        self._write({"t_ns": t_ns, "event": "rule_off", "rule": name})
        self._write(
            {"t_ns": t_ns, "event": "rule_count", "rule": name, "touched": count.touched,
             "seen": count.seen, "unmatched": count.unmatched}
        )  # fmt: skip
        return t_ns

    def _write(self, event: dict[str, Any]) -> None:
        if not self._log.closed:
            self._log.write(json.dumps(event) + "\n")
            self._log.flush()

    def _picked(self) -> list[_Rule]:
        """The rules on now that touch this request (each by its rate), counted as seen."""
        picked = []
        with self._lock:
            for state in self._on.values():
                state.seen += 1
                if random.random() < state.rule.rate:
                    picked.append(state)
        return picked

    # ------------------------------------------------------------------ relay

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Relay(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def _any(self) -> None:
                proxy._relay(self)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _any

        return Relay

    def _relay(self, req: BaseHTTPRequestHandler) -> None:
        length = int(req.headers.get("Content-Length") or 0)
        body = req.rfile.read(length) if length else b""
        rules = self._picked()
        for state in rules:
            kind = state.rule.kind
            if kind == "latency" and state.rule.latency is not None:
                self._touch(state)
                mean, jitter = state.rule.latency.mean, state.rule.latency.jitter
                time.sleep(max(0.0, random.uniform(mean - jitter, mean + jitter)))
            elif kind == "refuse":
                self._touch(state)
                return _reset(req)
            elif kind == "drop" and state.rule.control is not None:
                self._touch(state)
                return self._hold(req, state)
            elif kind == "lie" and state.rule.lie is not None:
                self._touch(state)
                payload = json.dumps(state.rule.lie.body).encode()
                return _answer(
                    req, state.rule.lie.status, [("Content-Type", "application/json")], payload
                )
        headers = {k: v for k, v in req.headers.items() if k.lower() not in _HOP}
        conn = http.client.HTTPConnection(self._host, self._port, timeout=30)
        try:
            conn.request(req.command, self._prefix + req.path, body=body or None, headers=headers)
            answer = conn.getresponse()
            status, kept = answer.status, answer.getheaders()
            payload = answer.read()
        except OSError:
            return _reset(req)  # the target refused or reset: so does the proxy, unchanged
        finally:
            conn.close()
        kept = [(k, v) for k, v in kept if k.lower() not in _HOP]
        if 200 <= status < 300:
            for state in rules:
                rule = state.rule
                if rule.kind == "rewrite" and rule.rewrite is not None:
                    rewritten = _rewrite(payload, rule)
                    if rewritten is None:
                        with self._lock:
                            state.unmatched += 1
                        continue
                    self._touch(state)
                    payload = rewritten
                elif rule.kind == "error" and rule.error is not None:
                    self._touch(state)
                    status, kept, payload = rule.error.status, [], b'{"error": "injected"}'
                elif rule.kind == "reset":
                    self._touch(state)
                    return _reset(req)
                elif rule.kind == "drop":
                    self._touch(state)
                    return self._hold(req, state)
        _answer(req, status, kept, payload)

    def _touch(self, state: _Rule) -> None:
        with self._lock:
            state.touched += 1

    def _hold(self, req: BaseHTTPRequestHandler, state: _Rule) -> None:
        """Never answer while the rule is on (or the proxy runs), then close."""
        while not state.off.wait(0.05) and not self._closing.is_set():
            pass
        req.close_connection = True


def _rewrite(payload: bytes, rule: ProxyRule) -> bytes | None:
    """The answer with the rule's change made; None when the path selects nothing."""
    assert rule.rewrite is not None
    try:
        doc = json.loads(payload)
    except ValueError:
        return None
    path = parse_json_path(rule.rewrite.json_path)
    if not path.steps or not path.single:
        return None
    parent = resolve_one(doc, path.steps[:-1])
    last = path.steps[-1]
    if parent is MISSING or resolve_one(parent, [last]) is MISSING:
        return None
    if rule.rewrite.append is not None:
        value = parent[last]
        if not isinstance(value, str):
            return None
        parent[last] = value + rule.rewrite.append
    else:
        parent[last] = rule.rewrite.set_
    return json.dumps(doc).encode()


def _answer(
    req: BaseHTTPRequestHandler, status: int, headers: list[tuple[str, str]], payload: bytes
) -> None:
    req.send_response(status)
    for key, value in headers:
        req.send_header(key, value)
    req.send_header("Content-Length", str(len(payload)))
    req.end_headers()
    if req.command != "HEAD":
        req.wfile.write(payload)


def _reset(req: BaseHTTPRequestHandler) -> None:
    """Close the client's connection with a reset (RST), as a refusing or dying peer does."""
    with contextlib.suppress(OSError):
        req.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    req.close_connection = True
    with contextlib.suppress(OSError):
        req.connection.close()
