"""Small purpose-built services for `govdrill init` to recognise, served on loopback from a
thread: a V2 inference server (KServe-like), an OpenAI-compatible one, a plain HTTP one with
its own ops API, and a hostile one. Each keeps a stopped/unloaded state its control calls
change, so a drill run against it sees a real stop."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import unquote

__all__ = ["hostile_handler", "openai_handler", "plain_handler", "v2_handler"]


class _Base(BaseHTTPRequestHandler):
    """JSON in and out, quiet logs."""

    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _read_json(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            return json.loads(raw) if raw else None
        except ValueError:
            return None

    def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)


def v2_handler(
    models: list[str], *, with_index: bool = True, datatype: str = "BYTES"
) -> type[BaseHTTPRequestHandler]:
    """A V2 inference server serving ``models``, with the repository extension (index
    optional) and KServe's answer for a model it does not serve."""
    loaded = set(models)
    lock = threading.Lock()

    class V2(_Base):
        def do_GET(self) -> None:
            path = self.path
            if path == "/v2/health/ready":
                self._send(200, {"ready": True})
            elif path == "/v2":
                self._send(200, {"name": "fake-v2", "version": "0.1", "extensions": []})
            elif path == "/v1/models":
                self._send(200, {"models": sorted(loaded)})
            elif path.startswith("/v2/models/"):
                rest = path[len("/v2/models/") :]
                name, _, tail = rest.partition("/")
                name = unquote(name)
                with lock:
                    here = name in loaded
                if not here:
                    self._missing(name)
                elif tail == "ready":
                    self._send(200, {"name": name, "ready": True})
                elif tail == "":
                    self._send(200, {
                        "name": name, "versions": ["1"], "platform": "test",
                        "inputs": [{"name": "input-0", "datatype": datatype, "shape": [-1]}],
                        "outputs": [{"name": "output-0", "datatype": "BYTES", "shape": [-1]}],
                    })  # fmt: skip
                else:
                    self._send(404, {"error": "no such route"})
            else:
                self._send(404, {"detail": "Not Found"})

        def do_POST(self) -> None:
            body = self._read_json()
            path = self.path
            if path == "/v2/repository/index" and with_index:
                with lock:
                    self._send(200, [{"name": m, "version": "1", "state": "READY"} for m in models])
            elif path.startswith("/v2/repository/models/"):
                name, _, action = path[len("/v2/repository/models/") :].partition("/")
                name = unquote(name)
                with lock:
                    if action == "unload":
                        loaded.discard(name)
                    elif action == "load" and name in models:
                        loaded.add(name)
                self._send(200, {"name": name, action: True})
            elif path.startswith("/v2/models/") and path.endswith("/infer"):
                name = unquote(path[len("/v2/models/") : -len("/infer")])
                with lock:
                    here = name in loaded
                if not here:
                    self._missing(name)
                elif not isinstance(body, dict) or not isinstance(body.get("inputs"), list):
                    self._send(400, {"error": "bad request"})
                else:
                    self._send(200, {
                        "model_name": name, "model_version": "1", "id": "x",
                        "outputs": [{"name": "output-0", "datatype": "BYTES", "shape": [1],
                                     "data": ["ok"]}],
                    })  # fmt: skip
            else:
                self._send(404, {"detail": "Not Found"})

        def _missing(self, name: str) -> None:
            self._send(404, {"error": f"Model with name {name} does not exist."})

    return V2


def openai_handler(models: list[str], *, list_models: bool = True) -> type[BaseHTTPRequestHandler]:
    """An OpenAI-compatible chat API with an ops API of its own (``/admin/stop``,
    ``/admin/resume``); ``list_models=False`` leaves out ``/v1/models`` (LitServe's shape)."""
    stopped = threading.Event()

    class OpenAI(_Base):
        def do_GET(self) -> None:
            if self.path == "/v1/models" and list_models:
                listed = [{"id": m, "object": "model"} for m in models]
                self._send(200, {"object": "list", "data": listed})
            elif self.path == "/health":
                self._send(200, {"ok": True})
            else:
                self._send(404, {"detail": "Not Found"})

        def do_POST(self) -> None:
            body = self._read_json()
            if self.path == "/admin/stop":
                stopped.set()
                self._send(200, {"stopped": True})
            elif self.path == "/admin/resume":
                stopped.clear()
                self._send(200, {"stopped": False})
            elif self.path == "/v1/chat/completions":
                if stopped.is_set():
                    self._send(503, {"error": "stopped"})
                    return
                model = body.get("model") if isinstance(body, dict) else None
                self._send(200, {
                    "id": "c1", "object": "chat.completion", "model": model or "m",
                    "choices": [{"index": 0, "finish_reason": "stop",
                                 "message": {"role": "assistant", "content": "hello"}}],
                })  # fmt: skip
            else:
                self._send(404, {"detail": "Not Found"})

    return OpenAI


def plain_handler() -> type[BaseHTTPRequestHandler]:
    """A service of its own making: ``POST /predict``, ``GET /healthz``, and an ops API."""
    stopped = threading.Event()

    class Plain(_Base):
        def do_GET(self) -> None:
            if self.path == "/healthz":
                self._send(200, {"ok": True})
            else:
                self._send(404, {"detail": "Not Found"})

        def do_POST(self) -> None:
            self._read_json()
            if self.path == "/ops/stop":
                stopped.set()
                self._send(200, {})
            elif self.path == "/ops/start":
                stopped.clear()
                self._send(200, {})
            elif self.path == "/predict":
                if stopped.is_set():
                    self._send(503, {"error": "stopped"})
                else:
                    self._send(200, {"output": "ok"}, {"X-Model-Version": "v1"})
            else:
                self._send(404, {"detail": "Not Found"})

    return Plain


def hostile_handler(mode: str) -> type[BaseHTTPRequestHandler]:
    """A service that answers every request badly: ``huge`` (an endless body), ``drip``
    (one byte at a time, forever) or ``garbage`` (not HTTP)."""

    class Hostile(_Base):
        def _answer(self) -> None:
            if mode == "garbage":
                self.wfile.write(b"\x00\xffnot http at all\r\n\r\n")
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            try:
                if mode == "huge":
                    self.wfile.write(b'{"data": [' + b'{"id": "m"},' * 1_000_000)
                else:
                    for _ in range(100_000):
                        self.wfile.write(b" ")
                        self.wfile.flush()
                        time.sleep(0.05)
            except OSError:
                pass  # the prober hung up, as it should

        do_GET = _answer
        do_POST = _answer

    return Hostile
