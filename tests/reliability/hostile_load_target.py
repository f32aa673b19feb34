"""A purpose-built hostile target: a tiny HTTP server that tries to exhaust the harness.

Run as a script (``python hostile_load_target.py --mode MODE --port-file F --events E``):

``versions``
    Every answer names a model version never seen before (``X-Model-Version: v<n>``).
``big-body``
    Every answer is a generated body of ``--body-bytes`` bytes (default 1 GiB), streamed in
    64 KiB chunks with a Content-Length, so the server itself stays small. With
    ``--canary-at N`` the text ``CANARY-0123abcd`` starts at byte N of it.
``flood-events``
    At start, the target writes an event log of ``--events-bytes`` bytes (default 209 MB) of
    well-formed lines, then serves small, honest answers.

Every mode answers ``/readyz`` with 200 and logs ``started`` and ``ready`` events; SIGTERM ends
it at once (the drill's stop), so the load then sees refused connections.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import signal
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

_CHUNK = 64 * 1024


def _event_line(event: str, **fields: Any) -> bytes:
    return (json.dumps({"t_ns": time.monotonic_ns(), "event": event, **fields}) + "\n").encode()


def _flood_events(path: Path, size: int) -> None:
    """Write ``size`` bytes of plausible event lines, a block at a time."""
    line = _event_line("noise", pad="x" * 180)
    block = line * (_CHUNK // len(line) + 1)
    with open(path, "ab") as out:
        written = 0
        while written < size:
            out.write(block)
            written += len(block)


def main(argv: list[str]) -> int:
    """Serve until SIGTERM; see the module docstring for the modes."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", choices=("versions", "big-body", "flood-events"), required=True)
    parser.add_argument("--port-file", type=Path, required=True)
    parser.add_argument("--events", type=Path, required=True)
    parser.add_argument("--body-bytes", type=int, default=1 << 30)
    parser.add_argument("--events-bytes", type=int, default=209_000_000)
    parser.add_argument("--canary-at", type=int, default=None)
    args = parser.parse_args(argv)
    # SIGTERM keeps its default action: the kernel ends us at once, whatever thread is busy.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    counter = itertools.count(1)
    body_block = b"x" * _CHUNK

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self) -> None:
            super().setup()
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def do_GET(self) -> None:
            self._small(b"{}", "v1")

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            if args.mode == "versions":
                self._small(b'{"output": "fine"}', f"v{next(counter)}")
            elif args.mode == "big-body":
                self._huge()
            else:
                self._small(b'{"output": "fine"}', "v1")

        def _small(self, body: bytes, version: str) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("X-Model-Version", version)
            self.end_headers()
            self.wfile.write(body)

        def _huge(self) -> None:
            size = args.body_bytes
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(size))
            self.send_header("X-Model-Version", "v1")
            self.end_headers()
            head = b'{"output": "'
            if args.canary_at is not None:
                head = head.ljust(args.canary_at, b"x") + b"CANARY-0123abcd"
            head = head[:size]
            self.wfile.write(head)
            left = size - len(head)
            try:
                while left > 0:
                    piece = body_block if left >= _CHUNK else body_block[:left]
                    self.wfile.write(piece)
                    left -= len(piece)
            except OSError:
                self.close_connection = True  # the client stopped reading: fine

        def log_message(self, format: str, *args: Any) -> None:
            pass

    with open(args.events, "ab") as events:
        events.write(_event_line("started", pid=os.getpid()))
    if args.mode == "flood-events":
        _flood_events(args.events, args.events_bytes)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    with open(args.events, "ab") as events:
        events.write(_event_line("ready"))
    tmp = args.port_file.with_suffix(".tmp")
    tmp.write_text(str(server.server_address[1]))
    tmp.rename(args.port_file)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    threading.Event().wait()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
