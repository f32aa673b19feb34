"""A purpose-built hostile target for the containment tests, one misbehaviour per mode.

    serve PORT_FILE            a well-behaved server (ready, answers 200): a squatter's stand-in
    claim PORT_FILE PORT       write someone else's PORT as its own, then just sleep
    trickle PORT_FILE MARKER   /readyz trickles header bytes, one every 0.3 s, forever
    daemonize PORT_FILE PIDS   serve, and leave a double-forked, setsid, env-cleared daemon
    linger PORT_FILE MARKER    serve; SIGUSR1 stops it (503), SIGTERM is slow to take effect

Every file it is told to write is written atomically, so a test can wait for it to appear.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

STOPPED = threading.Event()


def write_atomic(path: str, text: str) -> None:
    """Write ``text`` to ``path`` so that a reader never sees half of it."""
    tmp = f"{path}.tmp{os.getpid()}"
    Path(tmp).write_text(text)
    os.replace(tmp, path)


class Handler(BaseHTTPRequestHandler):
    """Ready at once; 200 to everything, or 503 once stopped."""

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        status = 503 if STOPPED.is_set() and self.path != "/readyz" else 200
        body = b'{"output": "fine"}'
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = _answer
    do_POST = _answer

    def log_message(self, format: str, *args: object) -> None:
        """Stay quiet."""


def serve(port_file: str) -> ThreadingHTTPServer:
    """Start serving on a port of the kernel's choice and publish it in ``port_file``."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    write_atomic(port_file, str(server.server_address[1]))
    return server


def trickle(port_file: str, marker: str) -> None:
    """Answer every connection with a status line and headers that never end."""
    listener = socket.create_server(("127.0.0.1", 0))
    write_atomic(port_file, str(listener.getsockname()[1]))

    def one(conn: socket.socket) -> None:
        with conn:
            conn.recv(4096)
            if not os.path.exists(marker):
                write_atomic(marker, "probed")
            try:
                conn.sendall(b"HTTP/1.1 200 OK\r\n")
                while True:
                    conn.sendall(b"X")
                    time.sleep(0.3)
            except OSError:
                return

    while True:
        conn, _ = listener.accept()
        threading.Thread(target=one, args=(conn,), daemon=True).start()


def daemonize(pid_file: str) -> None:
    """Double fork, leave the session and clear the environment: what a real daemon does."""
    if os.fork() != 0:
        return
    os.setsid()
    if os.fork() != 0:
        os._exit(0)
    write_atomic(pid_file, str(os.getpid()))
    code = "import time\nwhile True: time.sleep(1)"
    os.execve(sys.executable, [sys.executable, "-c", code], {})


def main() -> None:
    """Run the mode named on the command line."""
    mode, port_file, *rest = sys.argv[1:]
    if mode == "serve":
        serve(port_file)
    elif mode == "claim":
        write_atomic(port_file, rest[0])
    elif mode == "trickle":
        trickle(port_file, rest[0])
    elif mode == "daemonize":
        daemonize(rest[0])
        serve(port_file)
    elif mode == "linger":
        marker = rest[0]
        signal.signal(signal.SIGUSR1, lambda *_: STOPPED.set())

        def slow_exit(*_: object) -> None:
            write_atomic(marker, "sigterm")
            time.sleep(1.5)
            os._exit(0)

        signal.signal(signal.SIGTERM, slow_exit)
        serve(port_file)
    else:
        raise SystemExit(f"unknown mode {mode}")
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
