#!/usr/bin/env python3
"""A scripted on-call responder, so operator drills run without a person.

It listens on loopback for alerts (Alertmanager's v2 list, or any JSON webhook body), writes
its port to ``--port-file`` once listening, and after ``--delay`` seconds from the first alert
calls the real control path: ``POST <target>/admin/stop`` (``--path``) with the admin token
from ``--token-file`` (else ``$MODEL_SERVICE_ADMIN_TOKEN``) and ``X-Operator:
scripted-responder``. Just before sending it takes ``time.monotonic_ns()`` (the harness's
clock on the same Linux host) and appends one JSON line to ``--actions``:
``{"t_ns", "returned_ns", "status", "path", "target"}``, so a test can check that the
drill's bounds contain the responder's true action instant.

Where it acts: ``--target-url``, else the alert's ``generatorURL`` (Alertmanager) or a
``base_url`` key of a webhook body. Only loopback targets are called: the responder carries
the admin token, and an alert is a stranger's JSON. It acts ``--max-actions`` times (1),
answers every alert 200, refuses bodies over 64 KiB (413) and chunked ones (411), and exits
0 on SIGTERM or SIGINT. Standard library only.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import signal
import sys
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

MAX_ALERT_BYTES = 64 << 10
OPERATOR = "scripted-responder"
TOKEN_ENV = "MODEL_SERVICE_ADMIN_TOKEN"


def _say(message: str) -> None:
    print(f"responder[{os.getpid()}]: {message}", file=sys.stderr, flush=True)


def _loopback(url: str) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def target_of(alert: Any) -> str | None:
    """The target's base URL an alert names: Alertmanager's ``generatorURL`` or a webhook
    body's ``base_url``; None when it names none."""
    candidates: list[Any] = []
    if isinstance(alert, list):
        candidates = [a.get("generatorURL") for a in alert if isinstance(a, dict)]
    elif isinstance(alert, dict):
        candidates = [alert.get("base_url"), alert.get("generatorURL")]
    for url in candidates:
        if isinstance(url, str) and url.startswith(("http://", "https://")):
            parts = urlsplit(url)
            return f"{parts.scheme}://{parts.netloc}"
    return None


class Responder:
    """Hears alerts and, after the delay, presses the control path once per allowed action."""

    def __init__(self, args: argparse.Namespace) -> None:
        self._args = args
        self._halt = threading.Event()
        self._lock = threading.Lock()
        self._acted = 0
        self.alerts = 0

    def heard(self, body: bytes) -> None:
        """One alert arrived: schedule an action if any is left."""
        try:
            alert = json.loads(body)
        except ValueError:
            alert = None
        target = self._args.target_url or target_of(alert)
        with self._lock:
            self.alerts += 1
            if self._acted >= self._args.max_actions:
                return
            if target is None or not _loopback(target):
                _say(f"alert names no loopback target ({target!r}); not acting")
                return
            self._acted += 1
        _say(f"alert heard; acting on {target} in {self._args.delay:g}s")
        threading.Thread(target=self._act, args=(target,), daemon=True).start()

    def _act(self, target: str) -> None:
        if self._halt.wait(self._args.delay):
            return
        token = _token(self._args.token_file)
        request = urllib.request.Request(
            target.rstrip("/") + self._args.path,
            data=b"{}",
            method="POST",
            headers={
                "Authorization": f"Bearer {token}",
                "Content-Type": "application/json",
                "X-Operator": OPERATOR,
            },
        )
        t_ns = time.monotonic_ns()
        try:
            with urllib.request.urlopen(request, timeout=self._args.timeout) as answer:
                status: int | str = answer.status
        except urllib.error.HTTPError as exc:
            status = exc.code
        except OSError as exc:
            status = f"{type(exc).__name__}"
        returned_ns = time.monotonic_ns()
        record = {
            "t_ns": t_ns,
            "returned_ns": returned_ns,
            "status": status,
            "path": self._args.path,
            "target": target,
        }
        with open(self._args.actions, "a", encoding="utf-8") as actions:
            actions.write(json.dumps(record) + "\n")
        _say(f"called {self._args.path}: {status}")

    def stop(self) -> None:
        """Cancel an action still waiting for its delay."""
        self._halt.set()


def _token(path: str | None) -> str:
    if path:
        try:
            return Path(path).read_text(encoding="utf-8").strip()
        except OSError:
            return ""
    return os.environ.get(TOKEN_ENV, "").strip()


def _handler(responder: Responder) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        timeout = 10

        def do_POST(self) -> None:
            if self.headers.get("Transfer-Encoding"):
                self._answer(411, {"error": "length_required"})
                return
            try:
                length = int(self.headers.get("Content-Length", "0"))
            except ValueError:
                length = -1
            if not 0 <= length <= MAX_ALERT_BYTES:
                self._answer(413, {"error": "too_large", "limit": MAX_ALERT_BYTES})
                return
            body = self.rfile.read(length)
            responder.heard(body)
            self._answer(200, {"status": "success"})

        def do_GET(self) -> None:
            self._answer(200, {"alerts": responder.alerts})

        def _answer(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            if status >= 400:
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


def _seconds(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 24 * 3600:
        raise argparse.ArgumentTypeError(f"must be between 0 and 86400, got {text!r}")
    return value


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(prog="responder.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to listen on")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (default)")
    parser.add_argument("--port-file", required=True, help="write the bound port here")
    parser.add_argument("--delay", type=_seconds, default=1.0, help="seconds before acting")
    parser.add_argument("--actions", required=True, help="append each action's instant here")
    parser.add_argument("--token-file", help=f"the admin token (else ${TOKEN_ENV})")
    parser.add_argument("--target-url", help="act on this base URL (else the alert's)")
    parser.add_argument("--path", default="/admin/stop", help="the control call (POST)")
    parser.add_argument("--max-actions", type=int, default=1, help="act at most this often")
    parser.add_argument("--timeout", type=_seconds, default=5.0, help="control call timeout")
    args = parser.parse_args(argv)
    if not _loopback(f"http://{args.host}/") and args.host not in ("127.0.0.1", "::1"):
        parser.error("--host must be a loopback address")
    if args.target_url and not _loopback(args.target_url):
        parser.error("--target-url must be a loopback URL")
    return args


def main(argv: list[str] | None = None) -> int:
    """Serve until SIGTERM or SIGINT; return the exit code."""
    args = parse_args(argv)
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
    responder = Responder(args)
    server = ThreadingHTTPServer((args.host, args.port), _handler(responder))
    server.daemon_threads = True
    threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
    ).start()
    port = server.server_address[1]
    temporary = f"{args.port_file}.{os.getpid()}.tmp"
    Path(temporary).write_text(f"{port}\n", encoding="utf-8")
    os.replace(temporary, args.port_file)
    _say(f"listening on http://{args.host}:{port}/ (delay {args.delay:g}s)")
    signal.sigwait({signal.SIGTERM, signal.SIGINT})
    responder.stop()
    server.shutdown()
    server.server_close()
    _say("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
