"""A switchable HTTP/1.1 test target for real loads: a test changes how it answers."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Behaviour:
    """How the target answers every request until switched."""

    status: int = 200
    output: str = "a harmless answer"
    version: str = "v1"
    delay_s: float = 0.0
    close: bool = False
    """Close the connection without answering."""
    headers: dict[str, str] = field(default_factory=dict)


class DrillTarget:
    """A stdlib threaded HTTP/1.1 server (keep-alive, TCP_NODELAY) whose answers a test switches."""

    def __init__(self) -> None:
        self.behaviour = Behaviour()
        self.connections_accepted = 0
        self.requests_answered = 0
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        target = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                with target._lock:
                    target.connections_accepted += 1
                    target._open.add(self.connection)

            def finish(self) -> None:
                with target._lock:
                    target._open.discard(self.connection)
                super().finish()

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                b = target.behaviour
                if b.delay_s:
                    time.sleep(b.delay_s)
                if b.close:
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                body = json.dumps({"output": b.output}).encode()
                self.send_response(b.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("X-Model-Version", b.version)
                for name, value in b.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)
                with target._lock:
                    target.requests_answered += 1

            do_GET = _answer
            do_POST = _answer

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        self._closed = False

    def switch(self, **changes: Any) -> None:
        """Change how every following request is answered."""
        self.behaviour = replace(self.behaviour, **changes)

    def close_listener(self) -> None:
        """Stop listening and cut every open connection: new connects are refused."""
        if self._closed:
            return
        self._closed = True
        self._server.shutdown()
        self._server.server_close()
        with self._lock:
            open_sockets = list(self._open)
        for sock in open_sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
