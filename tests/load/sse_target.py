"""A small scripted streaming server for load tests: every request gets the same script.

A script is a list of steps: ``bytes`` are written as one HTTP chunk (or raw, with
``raw=True``), a :class:`threading.Event` is waited for (the test decides when the stream
goes on), :data:`CLOSE` shuts the connection mid-stream, :data:`GARBAGE` writes bytes that
are not HTTP chunked framing. At the script's end the chunked body is finished.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Final

CLOSE: Final = "close"
GARBAGE: Final = "garbage"

Step = bytes | threading.Event | str


def chunk(content: str) -> bytes:
    """One OpenAI-style SSE event whose delta is ``content``."""
    doc = {
        "object": "chat.completion.chunk",
        "choices": [{"index": 0, "delta": {"content": content}}],
    }
    return b"data: " + json.dumps(doc).encode() + b"\n\n"


DONE: Final = b"data: [DONE]\n\n"


class SseTarget:
    """A threaded HTTP/1.1 server answering every request with ``script()`` as a stream."""

    def __init__(
        self,
        script: Callable[[], Iterable[Step]],
        *,
        content_type: str = "text/event-stream",
        status: int = 200,
    ) -> None:
        self.started = threading.Semaphore(0)
        """Released once per request whose headers were sent."""
        self.finished = threading.Semaphore(0)
        """Released once per request whose script ran to its end (or broke)."""
        target = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                sock = self.connection
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                try:
                    sock.sendall(
                        f"HTTP/1.1 {status} OK\r\nContent-Type: {content_type}\r\n"
                        "Transfer-Encoding: chunked\r\nX-Model-Version: v9\r\n\r\n".encode()
                    )
                    target.started.release()
                    for step in script():
                        if isinstance(step, threading.Event):
                            step.wait(30)
                        elif step == CLOSE:
                            sock.shutdown(socket.SHUT_RDWR)
                            self.close_connection = True
                            return
                        elif step == GARBAGE:
                            sock.sendall(b"zz-not-a-chunk-size\r\n")
                        elif isinstance(step, bytes):
                            sock.sendall(b"%x\r\n%s\r\n" % (len(step), step))
                    sock.sendall(b"0\r\n\r\n")
                except OSError:
                    self.close_connection = True
                finally:
                    target.finished.release()

            do_GET = do_POST

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop serving."""
        with contextlib.suppress(OSError):
            self._server.shutdown()
            self._server.server_close()
