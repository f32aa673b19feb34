"""The ``govdrill init`` command line: one flag for every question init may ask. Kept to
argparse alone, so building the CLI's parser imports nothing heavy."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

__all__ = ["QUESTION_FLAGS", "add_init_parser"]

QUESTION_FLAGS = (
    "--model",
    "--path",
    "--method",
    "--json",
    "--ready-path",
    "--stop-call",
    "--resume-call",
)
"""The flags that answer init's questions (each is asked only on a terminal)."""


def add_init_parser(sub: Any) -> argparse.ArgumentParser:
    """Add ``init`` to the CLI's subcommands."""
    init = sub.add_parser(
        "init",
        help="probe a running service and write a target file and a drill for it",
        description="Probe a service already running at URL (the V2 inference protocol, an"
        " OpenAI-compatible API, or plain HTTP) and write targets/NAME/target.yaml and"
        " drills/NAME-stop.yaml under --out, attached through the external sandbox."
        " A question is asked only when stdin is a terminal; otherwise its flag is needed.",
    )
    init.add_argument(
        "url", metavar="URL", help="the service's base URL, e.g. http://127.0.0.1:8080"
    )
    init.add_argument("--kind", choices=["v2", "openai", "plain"], help="skip recognition")
    init.add_argument("--name", help="the target's name (default: from the model or the URL)")
    init.add_argument("--out", type=Path, default=Path("."), metavar="DIR", help="default: .")
    init.add_argument("--force", action="store_true", help="replace files that exist")
    init.add_argument(
        "-y", "--yes", action="store_true", help="accept the default answer of every question"
    )
    init.add_argument(
        "--allow-remote", action="store_true", help="allow a URL that is not on this machine"
    )
    init.add_argument(
        "--timeout", type=float, default=5.0, metavar="SECONDS", help="per probe request (5)"
    )
    init.add_argument("--model", help="the model to drill, when the service lists several")
    init.add_argument("--path", help="plain HTTP: the path the load calls")
    init.add_argument("--method", help="plain HTTP: the load's method (default POST)")
    init.add_argument("--json", help="the load request's JSON body")
    init.add_argument("--ready-path", help="plain HTTP: a path that answers 2xx when ready")
    init.add_argument("--stop-call", metavar="'METHOD /path'", help="the HTTP call that stops")
    init.add_argument(
        "--resume-call", metavar="'METHOD /path'", help="the HTTP call that resumes (or none)"
    )
    init.add_argument(
        "--control-header",
        action="append",
        metavar="'NAME: VALUE'",
        help="a header of every control call (repeatable); the value may use ${SECRET}",
    )
    init.add_argument(
        "--secret",
        action="append",
        metavar="NAME=SOURCE",
        help="a secret the headers use: NAME=env:VAR, NAME=file:PATH or NAME=generate"
        " (repeatable; written as the target's secrets:, never its value)",
    )
    return init  # type: ignore[no-any-return]
