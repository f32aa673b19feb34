"""LitServe (``litserve.LitServer``) serving a versioned sentiment model on ``POST /predict``.

LitServe has no model repository: a release is a change of the release file (one line:
``v1``), which a deploy script writes (deploy.py) and the inference worker reads before each
prediction, loading the named version's weights when it changed. Every answer names the
version that produced it: ``{"label": "positive", "model_version": "v1"}``.

Its one admin call is LitServe's own shutdown API (``POST /shutdown``, bearer token from the
``LIT_SHUTDOWN_API_KEY`` environment variable): the server drains and exits.

The ground truth (``--events``): a ``version_switched`` line when the worker starts answering
with another version, stamped before the first answer of that version is returned.

Run with the target's venv: ``.venv/bin/python serve.py --port 8000 --release-file R``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from pathlib import Path
from typing import Any

import litserve as ls

WORD = re.compile(r"[a-z']+")
VERSION = re.compile(r"[A-Za-z0-9_.-]+")


class SentimentAPI(ls.LitAPI):  # type: ignore[misc]
    """A bag-of-words linear classifier, at whichever version the release file names."""

    def __init__(self, models: Path, release_file: Path, events: Path | None) -> None:
        super().__init__()
        self.models = models
        self.release_file = release_file
        self.events = events
        self.version: str | None = None
        self.weights: dict[str, float] = {}
        self.bias = 0.0

    def setup(self, device: str) -> None:
        self._follow_release()

    def _follow_release(self) -> None:
        version = self.release_file.read_text().strip()
        if version == self.version:
            return
        weights = self.models / f"{version}.json"
        if not VERSION.fullmatch(version) or not weights.is_file():
            # A release naming no model keeps the one in service, as a failed deploy would.
            return
        spec = json.loads(weights.read_text())
        self.weights = {str(k): float(v) for k, v in spec["weights"].items()}
        self.bias = float(spec["bias"])
        before, self.version = self.version, str(spec["version"])
        self._emit("version_switched", **{"from": before, "to": self.version})

    def _emit(self, event: str, **details: Any) -> None:
        if self.events is None:
            return
        record = {"t_ns": time.monotonic_ns(), "event": event, "pid": os.getpid(), **details}
        fd = os.open(self.events, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, (json.dumps(record) + "\n").encode())
        finally:
            os.close(fd)

    # LitServe types its endpoint from these two signatures: left bare, the body is JSON.
    def decode_request(self, request):  # type: ignore[no-untyped-def]
        return str(request["text"])

    def predict(self, text: str) -> dict[str, Any]:
        self._follow_release()
        score = self.bias + sum(self.weights.get(w, 0.0) for w in WORD.findall(text.lower()))
        label = "positive" if score > 0 else "negative"
        return {"label": label, "model_version": self.version}

    def encode_response(self, output):  # type: ignore[no-untyped-def]
        return output


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument(
        "--models", type=Path, default=Path(__file__).parent / "models" / "sentiment"
    )
    parser.add_argument(
        "--release-file",
        type=Path,
        required=True,
        help="the file naming the version to serve; written with --initial-version when absent",
    )
    parser.add_argument("--initial-version", default="v1")
    parser.add_argument("--events", type=Path, help="append ground-truth JSON lines here")
    options = parser.parse_args(argv)
    if not options.release_file.exists():
        options.release_file.write_text(options.initial_version + "\n")
    api = SentimentAPI(options.models, options.release_file, options.events)
    server = ls.LitServer(
        api,
        accelerator="cpu",
        workers_per_device=1,
        # Only with a key: LitServe would otherwise make one up and print it in its log.
        enable_shutdown_api=bool(os.environ.get("LIT_SHUTDOWN_API_KEY")),
    )
    server.run(
        host=options.host,
        port=options.port,
        num_api_servers=1,
        generate_client_file=False,
        log_level="warning",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
