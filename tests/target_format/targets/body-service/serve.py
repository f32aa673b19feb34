"""A small model server that names its version only in the JSON body, and whose unload
answers 404 with the model server's own "not found" body.

Every path it does not know answers 404 ``{"detail": "Not Found"}``, as web frameworks do.
``--stop route`` is the defect: the unload tears the route down instead, so the load's path
then gets that framework 404, which is not the declared safe state.
"""

from __future__ import annotations

import argparse
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

NOT_FOUND = {"detail": "Not Found"}
"""What a missing route answers."""


class _Model:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.loaded = True
        self.version = "v1"


def _handler(args: argparse.Namespace, model: _Model) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *a: object) -> None:
            """Quiet: the harness keeps its own record."""

        def _send(self, status: int, body: dict[str, object]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()  # no version header: the version is in the body only
            self.wfile.write(data)

        def _read(self) -> dict[str, object]:
            length = int(self.headers.get("Content-Length") or 0)
            try:
                body = json.loads(self.rfile.read(length) or b"{}") if length else {}
            except ValueError:
                return {}
            return body if isinstance(body, dict) else {}

        def do_GET(self) -> None:
            self._send(200, {"ready": True} if self.path == "/readyz" else NOT_FOUND)

        def do_POST(self) -> None:
            body = self._read()
            with model.lock:
                if self.path == "/v1/generate":
                    if not model.loaded:
                        gone = {"error": "model 'm' not found"}
                        self._send(404, NOT_FOUND if args.stop == "route" else gone)
                        return
                    harmful = model.version == "v2"
                    output = "the sea CANARY-0badc0de" if harmful else "the sea is calm"
                    self._send(200, {"output": output, "model_version": model.version})
                elif self.path == "/admin/unload":
                    model.loaded = False
                    self._send(200, {"unloaded": "m"})
                elif self.path == "/admin/load":
                    model.loaded = True
                    self._send(200, {"loaded": "m"})
                elif self.path == "/admin/release":  # the bad release: version v2
                    model.version = "v2"
                    self._send(200, {"model_version": model.version})
                elif self.path == "/admin/rollback":
                    model.version = str(body.get("version") or "v1")
                    self._send(200, {"model_version": model.version})
                else:
                    self._send(404, NOT_FOUND)

    return Handler


def main() -> None:
    """Serve until killed."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--port-file", required=True)
    parser.add_argument("--stop", choices=("unload", "route"), default="unload")
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(args, _Model()))
    server.daemon_threads = True
    port_file = Path(args.port_file)
    tmp = port_file.with_suffix(".tmp")
    tmp.write_text(str(server.server_address[1]))
    tmp.rename(port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()
