"""A small service with its own ops API, started by a test as a plain process the harness never
started: the external sandbox must attach to it, stop and resume it through HTTP, and leave it
alive.

``POST /admin/stop`` makes ``/v1/generate`` answer 503, ``POST /admin/resume`` undoes it
(``--resume-fails`` makes it answer 500 and change nothing); ``POST``/``DELETE
/admin/incidents/leak`` switch a canary leak on and off; ``GET /admin/state`` says both.
"""

from __future__ import annotations

import argparse
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


class _State:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.stopped = False
        self.leak = False


def _handler(args: argparse.Namespace, state: _State) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *a: object) -> None:
            """Quiet: the test reads the state, not a log."""

        def _send(self, status: int, body: dict[str, object]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("X-Model-Version", "v1")
            self.end_headers()
            self.wfile.write(data)

        def _drain(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(min(length, 65536))

        def do_GET(self) -> None:
            if self.path == "/readyz":
                self._send(200, {"ready": True})
            elif self.path == "/admin/state":
                with state.lock:
                    self._send(200, {"stopped": state.stopped, "leak": state.leak})
            else:
                self._send(404, {"error": "not found"})

        def do_POST(self) -> None:
            self._drain()
            with state.lock:
                if self.path == "/v1/generate":
                    if state.stopped:
                        self._send(503, {"error": "stopped"})
                    else:
                        self._send(200, {"output": "CANARY-0badf00d" if state.leak else "calm"})
                elif self.path == "/admin/stop":
                    state.stopped = True
                    self._send(200, {"stopped": True})
                elif self.path == "/admin/resume":
                    if args.resume_fails:
                        self._send(500, {"error": "resume is broken"})
                    else:
                        state.stopped = False
                        self._send(200, {"stopped": False})
                elif self.path == "/admin/incidents/leak":
                    state.leak = True
                    self._send(200, {"leak": True})
                else:
                    self._send(404, {"error": "not found"})

        def do_DELETE(self) -> None:
            self._drain()
            with state.lock:
                if self.path == "/admin/incidents/leak":
                    state.leak = False
                    self._send(200, {"leak": False})
                else:
                    self._send(404, {"error": "not found"})

    return Handler


def main() -> None:
    """Serve on a free loopback port, written to ``--port-file`` once listening."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--port-file", type=Path, required=True)
    parser.add_argument("--resume-fails", action="store_true")
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(args, _State()))
    server.daemon_threads = True
    tmp = args.port_file.with_suffix(".tmp")
    tmp.write_text(str(server.server_address[1]))
    tmp.rename(args.port_file)  # whole or absent: the test never reads half a port
    server.serve_forever()


if __name__ == "__main__":
    main()
