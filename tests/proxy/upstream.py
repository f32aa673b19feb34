"""Small purpose-built upstreams for the proxy tests: a well-behaved one and a hostile one."""

from __future__ import annotations

import json
import socket
import struct
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

BIG_OUTPUT = "x" * 5000
"""The ``/big`` answer's output: larger than the tests' rewrite cap."""


class Upstream(ThreadingHTTPServer):
    """A threaded HTTP/1.1 server on loopback with one route per behaviour a test needs."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.sse_release = threading.Event()
        """Set by the test once the client holds the first event: the last is sent then."""
        self.requests = 0
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        """Its base URL."""
        return f"http://127.0.0.1:{self.server_address[1]}"

    def close(self) -> None:
        """Stop serving and close the listener (connects are refused afterwards)."""
        self.shutdown()
        self.server_close()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Upstream

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, body: bytes, ctype: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        self.do_GET()

    def do_GET(self) -> None:
        self.server.requests += 1
        route: Callable[[], None] | None = getattr(self, "_r_" + self.path.strip("/"), None)
        if route is None:
            self._send(404, b"{}")
        else:
            route()

    def _r_json(self) -> None:
        self._send(200, json.dumps({"output": "hello", "n": 1}).encode())

    def _r_text(self) -> None:
        self._send(200, b"plain words", "text/plain")

    def _r_stopped(self) -> None:
        self._send(503, b'{"status": "stopped"}')

    def _r_big(self) -> None:
        self._send(200, json.dumps({"output": BIG_OUTPUT}).encode())

    def _r_reset(self) -> None:
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True

    def _r_close(self) -> None:
        self.close_connection = True

    def _r_sse(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self._chunk(b"data: first\n\n")
        self.server.sse_release.wait(30)
        self._chunk(b"data: last\n\n")
        self.wfile.write(b"0\r\n\r\n")

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()


class HostileUpstream:
    """Reads a request, answers ``payload`` raw, then closes: garbage, giant heads, cut heads."""

    def __init__(self, payload: bytes) -> None:
        self.payload = payload
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        """Its base URL."""
        return f"http://127.0.0.1:{self._sock.getsockname()[1]}"

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            with conn:
                try:
                    conn.recv(65536)
                    conn.sendall(self.payload)
                except OSError:
                    pass

    def close(self) -> None:
        """Stop accepting."""
        self._sock.close()
