"""A test-only LitServe server speaking the OpenAI chat completions API
(``litserve.OpenAISpec``), whose one admin call is LitServe's own ``POST /shutdown`` (bearer
key from ``LIT_SHUTDOWN_API_KEY``, which must be set: LitServe would otherwise make a key up
and print it in its log).

Run with the LitServe target's venv: ``.venv/bin/python litserve_openai.py --port 8000``.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator
from typing import Any

import litserve as ls


class EchoChatAPI(ls.LitAPI):  # type: ignore[misc]
    """Answers every chat with one fixed word: what is drilled is the server, not a model."""

    def setup(self, device: str) -> None:
        """Nothing to load."""

    # OpenAISpec hands predict the request's messages and wants a generator of text chunks.
    def predict(self, messages: Any) -> Iterator[str]:
        yield "hello"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    options = parser.parse_args(argv)
    if not os.environ.get("LIT_SHUTDOWN_API_KEY"):
        parser.error("LIT_SHUTDOWN_API_KEY must be set (the shutdown API's bearer key)")
    server = ls.LitServer(
        EchoChatAPI(spec=ls.OpenAISpec()),
        accelerator="cpu",
        workers_per_device=1,
        enable_shutdown_api=True,
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
