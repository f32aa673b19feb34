"""A small hostile model service for drills: each flag switches on one way of misbehaving.

``--stop partial`` refuses every other request after a stop while the rest keep leaking;
``--inject-status 403`` refuses to inject any incident; ``--no-version`` sends no model
version header; ``--rollback bad`` answers a rollback with 200 and keeps the bad model.
SIGTERM ends it at once (the default disposition), so a signal-only ladder can stop it.
"""

from __future__ import annotations

import argparse
import itertools
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


class _State:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.stopped = False
        self.harmful = False
        self.version = "v1"
        self.counter = itertools.count()


def _handler(args: argparse.Namespace, state: _State) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *a: object) -> None:
            """Quiet: the harness keeps its own record."""

        def _send(self, status: int, body: dict[str, object], version: str | None = None) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            if version is not None and not args.no_version:
                self.send_header("X-Model-Version", version)
            self.end_headers()
            self.wfile.write(data)

        def _drain(self) -> dict[str, object]:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw or b"{}")
            except ValueError:
                return {}
            return body if isinstance(body, dict) else {}

        def do_GET(self) -> None:
            if self.path == "/readyz":
                self._send(200, {"ready": True})
            else:
                self._send(404, {})

        def do_DELETE(self) -> None:
            self._drain()
            with state.lock:
                state.harmful = False
            self._send(200, {"incident": "off"})

        def do_POST(self) -> None:
            body = self._drain()
            path = self.path
            if path == "/v1/generate":
                with state.lock:
                    stopped, harmful, version = state.stopped, state.harmful, state.version
                    n = next(state.counter)
                if stopped and (args.stop == "full" or n % 2 == 0):
                    self._send(503, {"error": "stopped"})
                    return
                output = "the sea CANARY-0badc0de" if harmful else "the sea is calm"
                self._send(200, {"output": output}, version)
            elif path.startswith("/admin/incidents/"):
                if args.inject_status != 200:
                    self._send(args.inject_status, {"error": "forbidden"})
                    return
                with state.lock:
                    state.harmful = True
                    state.version = "v2"
                self._send(200, {"incident": "on"})
            elif path == "/admin/stop":
                with state.lock:
                    state.stopped = True
                self._send(200, {"state": "stopped"})
            elif path == "/admin/resume":
                with state.lock:
                    state.stopped = False
                self._send(200, {"state": "serving"})
            elif path == "/admin/rollback":
                if args.rollback == "good":
                    with state.lock:
                        state.version = str(body.get("version") or "v1")
                        state.harmful = False
                self._send(200, {"model_version": body.get("version")})
            else:
                self._send(404, {})

    return Handler


def main() -> None:
    """Serve until killed."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--port-file", required=True)
    parser.add_argument("--stop", choices=("full", "partial"), default="full")
    parser.add_argument("--inject-status", type=int, default=200)
    parser.add_argument("--no-version", action="store_true")
    parser.add_argument("--rollback", choices=("good", "bad"), default="good")
    args = parser.parse_args()
    state = _State()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(args, state))
    server.daemon_threads = True
    port_file = Path(args.port_file)
    tmp = port_file.with_suffix(".tmp")
    tmp.write_text(str(server.server_address[1]))
    tmp.rename(port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()
