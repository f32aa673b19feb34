"""A model service that puts markup in everything it says, to test the report's escaping.

Every answer body, every header (its version header too), every control-call answer, every
line it logs and every event of its own event log carries a ``<script>`` and an
``<img onerror>`` payload. It otherwise behaves: it leaks a canary once the incident is on,
refuses once stopped and rolls back, so a whole drill runs through every part of the report.
With ``--plain`` it says plain words in the same places: the benign twin to compare with.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"
PAYLOAD = f'{SCRIPT}{IMG}"\'><a href="javascript:alert(1)">x</a>'


class _State:
    def __init__(self, events: Path) -> None:
        self.lock = threading.Lock()
        self.stopped = False
        self.harmful = False
        self.version = f"v1{SCRIPT}"
        self.events = events

    def event(self, name: str) -> None:
        """One line of the target's own log, payloads in its name and its fields."""
        line = {"t_ns": time.monotonic_ns(), "event": name, "note": PAYLOAD, PAYLOAD: IMG}
        with self.events.open("a", encoding="utf-8") as out:
            out.write(json.dumps(line) + "\n")
        print(f"event {name} {PAYLOAD}", flush=True)
        print(f"stderr {PAYLOAD}", file=sys.stderr, flush=True)


def _handler(state: _State) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *a: object) -> None:
            """Every request logged with a payload, on stderr."""
            print(f"{PAYLOAD} {format % a}", file=sys.stderr, flush=True)

        def _send(self, status: int, body: dict[str, object], version: str | None = None) -> None:
            data = json.dumps({**body, "note": PAYLOAD}).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("X-Note", PAYLOAD)
            self.send_header("X-Model-Version", version or state.version)
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
            elif self.path == "/admin/status":
                with state.lock:
                    self._send(200, {"state": PAYLOAD, "model_version": state.version})
            else:
                self._send(404, {"error": PAYLOAD})

        def do_POST(self) -> None:
            body = self._drain()
            path = self.path
            if path == "/v1/generate":
                with state.lock:
                    stopped, harmful, version = state.stopped, state.harmful, state.version
                if stopped:
                    self._send(503, {"error": PAYLOAD})
                    return
                output = f"the sea CANARY-0badc0de {PAYLOAD}" if harmful else f"calm {PAYLOAD}"
                self._send(200, {"output": output}, version)
            elif path.startswith("/admin/incidents/"):
                with state.lock:
                    state.harmful = True
                    state.version = f"v2{IMG}"
                state.event("incident_on")
                self._send(200, {"incident": PAYLOAD})
            elif path == "/admin/stop":
                with state.lock:
                    state.stopped = True
                state.event("stop_effective")
                state.event(PAYLOAD)
                self._send(200, {"state": PAYLOAD})
            elif path == "/admin/resume":
                with state.lock:
                    state.stopped = False
                self._send(200, {"state": PAYLOAD})
            elif path == "/admin/rollback":
                with state.lock:
                    state.version = str(body.get("version") or "v1")
                    state.harmful = False
                state.event("rollback_effective")
                self._send(200, {"model_version": PAYLOAD})
            else:
                self._send(404, {"error": PAYLOAD})

    return Handler


def main() -> None:
    """Serve until killed (``--plain``: the same service saying plain words instead)."""
    global PAYLOAD, SCRIPT, IMG
    parser = argparse.ArgumentParser()
    parser.add_argument("--port-file", required=True)
    parser.add_argument("--events", required=True)
    parser.add_argument("--plain", action="store_true")
    args = parser.parse_args()
    if args.plain:
        PAYLOAD, SCRIPT, IMG = "plain", "-plain", "+plain"
    state = _State(Path(args.events))
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    server.daemon_threads = True
    state.event("started")
    port_file = Path(args.port_file)
    tmp = port_file.with_suffix(".tmp")
    tmp.write_text(str(server.server_address[1]))
    tmp.rename(port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()
