"""Entry point: parse the command line, then run the server or its resurrecting supervisor."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from .cli import ConfigError, load_token, parse_args
from .defects import Defect
from .lifecycle import EXIT_USAGE, run
from .supervisor import run_supervisor

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the service with ``argv`` (default ``sys.argv[1:]``); return the exit code."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    config = parse_args(arguments)
    try:
        token = load_token(config)
        if not config.corpus.is_file():
            raise ConfigError(f"--corpus {config.corpus} is not a readable file")
        if config.events is not None:
            os.close(os.open(config.events, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644))
    except ConfigError as exc:
        print(f"model-service: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        print(
            f"model-service: error: cannot open --events {config.events}: {exc.strerror}",
            file=sys.stderr,
        )
        return EXIT_USAGE
    if Defect.RESURRECT in config.defects and not config.supervised_child:
        return run_supervisor(config, arguments)
    return run(config, token)


if __name__ == "__main__":
    sys.exit(main())
