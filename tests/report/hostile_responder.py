"""A purpose-built hostile operator: a loopback webhook receiver that answers the alert with
markup, then stops the service through the real admin path calling itself ``<script>``."""

from __future__ import annotations

import http.client
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

from tests.report.run_folder import IMG, SCRIPT


class HostileResponder:
    """Receives a JSON webhook whose body carries ``base`` (the target's URL) and stops that
    target as operator :data:`SCRIPT`; its answer to the webhook is markup."""

    def __init__(self) -> None:
        self.stopped = threading.Event()
        responder = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                """Quiet."""

            def do_POST(self) -> None:
                """Answer with markup, then act on a thread of its own."""
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                data = json.dumps({"ok": IMG}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                threading.Thread(target=responder.stop, args=(body["base"],), daemon=True).start()

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/hook"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def stop(self, base_url: str) -> None:
        """The operator's action: POST /admin/stop as ``<script>``."""
        url = urlsplit(base_url)
        conn = http.client.HTTPConnection(url.hostname or "", url.port, timeout=5)
        conn.request("POST", "/admin/stop", headers={"X-Operator": SCRIPT})
        conn.getresponse().read()
        conn.close()
        self.stopped.set()

    def __enter__(self) -> HostileResponder:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
