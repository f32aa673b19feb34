"""HTTP plumbing and the inference routes: keep-alive HTTP/1.1, JSON in and out.

Responses are written with one ``sendall`` each (status line, headers and body together) on
sockets with ``TCP_NODELAY``: without it Nagle's algorithm and delayed ACKs add ~40 ms to
every keep-alive request.
"""

from __future__ import annotations

import contextlib
import http
import json
import os
import random
import socket
import sys
import time
import traceback
from collections.abc import Callable
from contextlib import AbstractContextManager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

from .admin import AdminApi
from .complaints import ComplaintDesk, DeskFull
from .model import ModelVersion
from .replies import BadRequest, Reply, parse_json_object
from .state import Gate, ServiceState, Snapshot
from .streaming import StreamPlan, head, write_stream
from .workpool import PriorityWorkerPool

__all__ = [
    "DEFAULT_MAX_TOKENS",
    "FEEDBACK_PATH",
    "MAX_FEEDBACK_BYTES",
    "MAX_TOKENS_CAP",
    "App",
    "ModelHTTPServer",
    "Role",
]

DEFAULT_MAX_TOKENS = 16
MAX_TOKENS_CAP = 256
MAX_BODY_BYTES = 1 << 20
DEFAULT_STREAM_TOKENS = 32
DEFAULT_TOKEN_DELAY_S = 0.02
MAX_FEEDBACK_BYTES = 16 << 10
"""A complaint is a short text; a larger body is refused (413) without being parsed."""
FEEDBACK_PATH = "/v1/feedback"


class Role:
    """Which routes a listening socket serves."""

    ALL = frozenset({"inference", "admin"})
    INFERENCE = frozenset({"inference"})
    ADMIN = frozenset({"admin"})


_NULL_SLOT = contextlib.nullcontext()


class App:
    """Maps a parsed request to a :class:`Reply`; shared by every listening socket."""

    def __init__(
        self,
        *,
        state: ServiceState,
        admin: AdminApi,
        pool: PriorityWorkerPool | None,
        desk: ComplaintDesk,
        stream_tokens: int = DEFAULT_STREAM_TOKENS,
        token_delay_s: float = DEFAULT_TOKEN_DELAY_S,
        drain_streams: bool = False,
    ) -> None:
        self.state = state
        self._stream_tokens = stream_tokens
        self._token_delay_s = token_delay_s
        self._drain_streams = drain_streams
        self._admin = admin
        self._desk = desk
        self._pool = pool
        self._counter = 0
        self._id_prefix = f"{os.getpid():x}-{os.urandom(3).hex()}"
        self._inference_routes: dict[str, Callable[[bytes, Snapshot], Reply]] = {
            "/v1/generate": self._generate,
            "/v1/chat/completions": self._chat,
        }

    def route(
        self,
        method: str,
        path: str,
        body: bytes,
        authorization: str | None,
        role: frozenset[str],
        operator: str | None = None,
    ) -> Reply:
        """Answer one request arriving on a socket serving ``role``; ``operator`` is the
        ``X-Operator`` header (who an admin call says made it)."""
        if "inference" in role and path == FEEDBACK_PATH:
            if method != "POST":
                return Reply(405, {"error": "method_not_allowed", "path": path})
            return self._feedback(body)
        if "inference" in role:
            build = self._inference_routes.get(path)
            if build is not None:
                if method != "POST":
                    return Reply(405, {"error": "method_not_allowed", "path": path})
                return self._infer(body, build)
        if path == "/healthz":
            return Reply(200, {"status": "alive", "pid": os.getpid()})
        if "inference" in role and path == "/readyz":
            return self._readiness()
        if "admin" in role and (path == "/admin" or path.startswith("/admin/")):
            with self._slot(admin=True):
                return self._admin.handle(method, path, body, authorization, operator)
        return Reply(404, {"error": "not_found", "path": path})

    def _feedback(self, body: bytes) -> Reply:
        """The user-facing complaint form: unauthenticated, answered whatever the gate."""
        if len(body) > MAX_FEEDBACK_BYTES:
            return Reply(413, {"error": "payload_too_large", "limit": MAX_FEEDBACK_BYTES})
        try:
            complaint_id = self._desk.file(parse_json_object(body, empty_ok=True))
        except BadRequest as exc:
            return Reply(400, {"error": "bad_request", "detail": str(exc)})
        except DeskFull:
            return Reply(429, {"error": "too_many_complaints"})
        return Reply(202, {"complaint_id": complaint_id, "status": "received"})

    def _slot(self, *, admin: bool) -> AbstractContextManager[None]:
        if self._pool is None:
            return _NULL_SLOT
        return self._pool.slot(admin=admin)

    def _readiness(self) -> Reply:
        gate = self.state.reported_gate()
        if self.state.ready and gate is Gate.SERVING:
            return Reply(200, {"status": "ready"})
        return Reply(503, {"status": gate.value if self.state.ready else "starting"})

    def _infer(self, body: bytes, build: Callable[[bytes, Snapshot], Reply]) -> Reply:
        streaming = False
        with self._slot(admin=False):
            snapshot = self.state.admit()
            if snapshot.gate is Gate.STOPPED:
                return Reply(
                    503, {"error": "stopped", "reason": snapshot.stop_reason}, snapshot.model.name
                )
            if snapshot.gate is Gate.DRAINING:
                return Reply(
                    503,
                    {"error": "draining", "reason": "the process is shutting down"},
                    snapshot.model.name,
                    close=True,
                )
            try:
                if snapshot.latency_ms or snapshot.jitter_ms:
                    delay = snapshot.latency_ms + random.uniform(
                        -snapshot.jitter_ms, snapshot.jitter_ms
                    )
                    time.sleep(max(0.0, delay) / 1000.0)
                if snapshot.error_rate and random.random() < snapshot.error_rate:
                    return Reply(
                        snapshot.error_status,
                        {"error": "injected_error", "incident": "errors"},
                        snapshot.model.name,
                    )
                try:
                    reply = build(body, snapshot)
                except BadRequest as exc:
                    return Reply(
                        400, {"error": "bad_request", "detail": str(exc)}, snapshot.model.name
                    )
                # A stream stays in flight until sent: the handler counts it out.
                streaming = reply.stream is not None
                return reply
            finally:
                if not streaming:
                    self.state.finish()

    def _request_id(self) -> str:
        # A lost update under a thread race only repeats a number; the prefix keeps ids unique
        # across processes and restarts.
        self._counter += 1
        return f"req-{self._id_prefix}-{self._counter:x}"

    def _generate(self, body: bytes, snapshot: Snapshot) -> Reply:
        request = parse_json_object(body)
        prompt = request.get("prompt")
        if not isinstance(prompt, str):
            raise BadRequest("prompt: must be a string")
        max_tokens = _max_tokens(request)
        output = snapshot.model.complete(prompt, max_tokens, snapshot.leak_rate)
        model = snapshot.model.name
        return Reply(
            200,
            {"output": output, "model_version": model, "request_id": self._request_id()},
            model,
        )

    def _chat(self, body: bytes, snapshot: Snapshot) -> Reply:
        request = parse_json_object(body)
        messages = request.get("messages")
        if not isinstance(messages, list) or not messages:
            raise BadRequest("messages: must be a non-empty list")
        texts: list[str] = []
        for index, message in enumerate(messages):
            if not isinstance(message, dict) or not isinstance(message.get("content"), str):
                raise BadRequest(f"messages[{index}]: must be an object with string content")
            texts.append(message["content"])
        model: ModelVersion = snapshot.model
        stream = request.get("stream", False)
        if not isinstance(stream, bool):
            raise BadRequest("stream: must be a boolean")
        if stream:
            count = (
                _max_tokens(request)
                if request.get("max_tokens") is not None
                else self._stream_tokens
            )
            plan = StreamPlan(
                id=f"chatcmpl-{self._request_id()}",
                model=model.name,
                created=int(time.time()),
                tokens=tuple(model.stream_tokens(texts[-1], count, snapshot.leak_rate)),
                delay_s=self._token_delay_s,
                drain=self._drain_streams,
            )
            return Reply(200, {}, model.name, stream=plan)
        max_tokens = _max_tokens(request)
        content = model.complete(texts[-1], max_tokens, snapshot.leak_rate)
        prompt_tokens = sum(len(text.split()) for text in texts)
        completion_tokens = len(content.split())
        return Reply(
            200,
            {
                "id": f"chatcmpl-{self._request_id()}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": model.name,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": completion_tokens,
                    "total_tokens": prompt_tokens + completion_tokens,
                },
            },
            model.name,
        )


def _max_tokens(request: dict[str, Any]) -> int:
    value = request.get("max_tokens", DEFAULT_MAX_TOKENS)
    if value is None:
        return DEFAULT_MAX_TOKENS
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise BadRequest("max_tokens: must be a positive integer")
    return min(value, MAX_TOKENS_CAP)


def _reason_phrase(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "Error"


class _Handler(BaseHTTPRequestHandler):
    """One connection: reads requests in a loop (keep-alive) and hands them to the app."""

    protocol_version = "HTTP/1.1"
    server_version = "model-service"
    # Idle keep-alive connections are dropped after this long so threads do not pile up.
    timeout = 120
    app: ClassVar[App]
    role: ClassVar[frozenset[str]]
    log_requests: ClassVar[bool] = False
    split_writes: ClassVar[bool] = False

    def do_GET(self) -> None:
        self._dispatch()

    do_POST = do_DELETE = do_PUT = do_PATCH = do_HEAD = do_GET

    def _dispatch(self) -> None:
        body = self._read_body()
        if body is None:
            return
        path = self.path.split("?", 1)[0]
        try:
            reply = self.app.route(
                self.command,
                path,
                body,
                self.headers.get("Authorization"),
                self.role,
                self.headers.get("X-Operator"),
            )
        except Exception:
            # A bug in a route: say so in JSON and on stderr, keep serving other requests.
            traceback.print_exc()
            reply = Reply(500, {"error": "internal_error"}, close=True)
        if reply.stream is not None:
            self._send_stream(reply)
        else:
            self._write(reply)

    def _send_stream(self, reply: Reply) -> None:
        state = self.app.state
        try:
            self.wfile.flush()
            sock = self.connection
            sock.sendall(head(reply.version or reply.stream.model))
            if not write_stream(sock, reply.stream, state, state.events):
                self.close_connection = True
        except OSError:
            self.close_connection = True
        finally:
            state.finish()
        if self.log_requests:
            self.log_request(200, "-")

    def _read_body(self) -> bytes | None:
        if self.headers.get("Transfer-Encoding"):
            self._write(Reply(411, {"error": "length_required"}, close=True))
            return None
        length_header = self.headers.get("Content-Length")
        if length_header is None:
            return b""
        try:
            length = int(length_header)
        except ValueError:
            length = -1
        if length < 0:
            self._write(
                Reply(400, {"error": "bad_request", "detail": "bad Content-Length"}, close=True)
            )
            return None
        if length > MAX_BODY_BYTES:
            self._write(Reply(413, {"error": "payload_too_large"}, close=True))
            return None
        return self.rfile.read(length) if length else b""

    def _write(self, reply: Reply) -> None:
        body = json.dumps(reply.payload).encode("utf-8")
        version = reply.version or self.app.state.snapshot.model.name
        head = (
            f"HTTP/1.1 {reply.status} {_reason_phrase(reply.status)}\r\n"
            f"Content-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n"
            f"X-Model-Version: {version}\r\n"
        )
        if reply.close:
            head += "Connection: close\r\n"
            self.close_connection = True
        payload = b"" if self.command == "HEAD" else body
        if self.split_writes:
            # How a naive handler answers (headers, then body): with Nagle on, the second
            # small write waits for the client's delayed ACK.
            self.wfile.write(head.encode("latin-1") + b"\r\n")
            self.wfile.write(payload)
        else:
            self.wfile.write(head.encode("latin-1") + b"\r\n" + payload)
        if self.log_requests:
            self.log_request(reply.status, len(body))

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Answer protocol errors (bad request line, unknown method) in JSON too."""
        self._write(Reply(code, {"error": message or _reason_phrase(code)}, close=True))

    def log_message(self, format: str, *args: Any) -> None:
        if self.log_requests:
            sys.stderr.write(f"{self.address_string()} - {format % args}\n")


class ModelHTTPServer(ThreadingHTTPServer):
    """A threading HTTP server that turns off Nagle on every accepted connection."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(
        self,
        address: tuple[str, int],
        *,
        app: App,
        role: frozenset[str],
        nodelay: bool = True,
        log_requests: bool = False,
        split_writes: bool = False,
    ) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        handler = type(
            "Handler",
            (_Handler,),
            {"app": app, "role": role, "log_requests": log_requests, "split_writes": split_writes},
        )
        self._nodelay = nodelay
        super().__init__(address, handler)

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, address = super().get_request()
        if self._nodelay:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock, address

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client hanging up mid-answer is ordinary under load and during drains.
        exc = sys.exc_info()[1]
        if isinstance(exc, ConnectionError | TimeoutError):
            return
        super().handle_error(request, client_address)
