"""A hostile test target that echoes every secret it is given, in every encoding it can.

Each answer (to the load, to the admin API, in error answers and on stdout/stderr) repeats
every request header, the request body, the secret it got as an environment variable and the
secret it got as a file: raw, JSON-escaped, URL-encoded (both ways) and base64. The load sees
``X-Model-Version: v2 <the X-Api-Key header>`` while harm is on. ``--report PATH`` receives
the SHA-256 of the environment secret and the target's own command line, so a test can check
that the secret arrived through the environment and never through argv.

Admin calls need ``Authorization: Bearer <env secret>`` and ``X-File-Token: <file secret>``:
a target that did not receive its secrets cannot be stopped.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote, quote_plus

ENV_NAME = "ECHO_ADMIN_TOKEN"
PAD = 138
"""Answers to a stop start with this much padding, so that the secret in the Authorization
header straddles the 200th character of the detail ``HTTP 200 <answer>``."""


def forms(value: str) -> dict[str, str]:
    """The encodings of ``value`` a careless service would echo."""
    return {
        "raw": value,
        "json": json.dumps(value)[1:-1],
        "url": quote(value, safe=""),
        "url_plus": quote_plus(value),
        "base64": base64.b64encode(value.encode()).decode(),
        "basic": base64.b64encode(b"admin:" + value.encode()).decode(),
    }


class State:
    """What the target is doing: serving, harmful, stopped, and which version."""

    def __init__(self, env_secret: str, file_secret: str) -> None:
        self.lock = threading.Lock()
        self.harm = False
        self.stopped = False
        self.version = "v1"
        self.env_secret = env_secret
        self.file_secret = file_secret
        self.load_echoes = 0


def build_handler(state: State) -> type[BaseHTTPRequestHandler]:
    """A handler class bound to ``state``."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: the echoes below are what this target logs."""

        def _echo(self, body: bytes) -> dict[str, dict[str, str]]:
            # The secrets first, so that they fall within the first 200 characters.
            first = ("Authorization", "X-File-Token", "X-Api-Key")
            seen = {f"header {k}": self.headers[k] for k in first if k in self.headers}
            seen["env " + ENV_NAME] = state.env_secret
            seen["file file_token"] = state.file_secret
            seen["body"] = body.decode("latin-1")
            seen.update({f"header {k}": v for k, v in self.headers.items() if k not in first})
            return {name: forms(value) for name, value in seen.items()}

        def _text(self, echo: dict[str, dict[str, str]]) -> str:
            return "\n".join(
                f"{name} {form}: {text}" for name, all_forms in echo.items()
                for form, text in all_forms.items()
            )  # fmt: skip

        def _send(self, status: int, text: str, headers: dict[str, str] | None = None) -> None:
            data = text.encode()
            self.send_response(status)
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _log(self, text: str) -> None:
            print(text, flush=True)
            print(text, file=sys.stderr, flush=True)

        def _body(self) -> bytes:
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def do_GET(self) -> None:
            """Readiness, and the admin status (JSON, snapshotted before a rollback)."""
            if self.path == "/readyz":
                self._send(200, "ok")
                return
            echo = self._echo(b"")
            self._log(self._text(echo))
            if not self._authorized():
                self._send(401, "unauthorized\n" + self._text(echo))
                return
            status = {"version": state.version, "stopped": state.stopped, "echo": echo}
            self._send(200, json.dumps(status))

        def do_POST(self) -> None:
            """The load's requests and the admin calls."""
            body = self._body()
            echo = self._echo(body)
            text = self._text(echo)
            if self.path == "/v1/generate":
                self._generate(text)
                return
            self._log(text)
            if not self._authorized():
                self._send(401, "unauthorized\n" + text)
                return
            with state.lock:
                if self.path == "/admin/harm":
                    state.harm = True
                elif self.path == "/admin/stop":
                    state.stopped = True
                    text = "." * PAD + text
                elif self.path == "/admin/rollback":
                    state.harm, state.stopped, state.version = False, False, "v1"
                elif self.path == "/admin/fail":
                    self._send(500, "internal error while stopping:\n" + text)
                    return
                else:
                    self._send(404, "no such path\n" + text)
                    return
            self._send(200, text)

        def _generate(self, text: str) -> None:
            with state.lock:
                stopped, harm = state.stopped, state.harm
                state.load_echoes += 1
                first = state.load_echoes <= 5
            if first:
                self._log(text)
            if stopped:
                self._send(503, "stopped\n" + text)
                return
            key = self.headers.get("X-Api-Key", "")
            version = f"v2 {key}" if harm else state.version
            headers = {"X-Model-Version": version, "X-Harm": "yes" if harm else "no"}
            self._send(200, text, headers)

        def _authorized(self) -> bool:
            return (
                self.headers.get("Authorization") == f"Bearer {state.env_secret}"
                and self.headers.get("X-File-Token") == state.file_secret
            )

    return Handler


def main() -> None:
    """Serve on a free loopback port, written to ``--port-file``."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--port-file", required=True)
    parser.add_argument("--secrets-dir", required=True)
    parser.add_argument("--report", required=True)
    args = parser.parse_args()
    env_secret = os.environ.get(ENV_NAME, "")
    file_secret = (Path(args.secrets_dir) / "file_token").read_text()
    cmdline = Path("/proc/self/cmdline").read_bytes().decode(errors="replace")
    Path(args.report).write_text(
        json.dumps(
            {
                "env_sha256": hashlib.sha256(env_secret.encode()).hexdigest(),
                "file_sha256": hashlib.sha256(file_secret.encode()).hexdigest(),
                "argv": cmdline.split("\0"),
            }
        )
    )
    server = ThreadingHTTPServer(("127.0.0.1", 0), build_handler(State(env_secret, file_secret)))
    server.daemon_threads = True
    Path(args.port_file).write_text(str(server.server_address[1]))
    server.serve_forever()


if __name__ == "__main__":
    main()
