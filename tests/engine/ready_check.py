"""A readiness command: exit 0 when ``GET <base_url>/readyz`` answers 200, else say why."""

from __future__ import annotations

import sys
import urllib.request


def main() -> int:
    """Probe once, within two seconds."""
    try:
        with urllib.request.urlopen(sys.argv[1] + "/readyz", timeout=2) as answer:
            return 0 if answer.status == 200 else 1
    except OSError as exc:
        print(f"not ready: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
