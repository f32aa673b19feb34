"""A tiny model service whose release is whatever its release file says: ``v1`` answers
right, ``v2`` (a bad release) answers wrong; an admin API stops it. For drills whose incident
is staged by a command (``deploy_release.py``), not by the target's own API."""

from __future__ import annotations

import argparse
import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

STOPPED = False


def release(path: Path) -> str:
    """The release the file names (``v1`` when there is none yet)."""
    try:
        return path.read_text().strip() or "v1"
    except OSError:
        return "v1"


def main() -> None:
    """Serve on the fixed ``--port`` until killed."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--release-file", type=Path, required=True)
    args = parser.parse_args()

    class Handler(BaseHTTPRequestHandler):
        def _answer(self, status: int, body: dict[str, str], version: str = "") -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            if version:
                self.send_header("X-Model-Version", version)
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self._answer(200 if self.path == "/readyz" else 404, {"path": self.path})

        def do_POST(self) -> None:
            global STOPPED
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.path == "/admin/stop":
                STOPPED = True
                self._answer(200, {"stopped": "yes"})
            elif STOPPED:
                self._answer(503, {"error": "stopped"})
            else:
                version = release(args.release_file)
                output = "the sea is blue" if version == "v1" else "WRONG: the sea is plaid"
                self._answer(200, {"output": output}, version)

        def log_message(self, *_: object) -> None:
            pass

    ThreadingHTTPServer(("127.0.0.1", args.port), Handler).serve_forever()


if __name__ == "__main__":
    main()
