"""Deploy a release of ``release_target.py`` by writing its release file: what an operator's
deploy script does. It needs its token from the environment (``DEPLOY_TOKEN``), never argv."""

from __future__ import annotations

import os
import sys


def main() -> int:
    """Write ``argv[1]`` to ``$RELEASE_FILE``; exit 3 without a token."""
    if len(os.environ.get("DEPLOY_TOKEN", "")) < 8:
        print("no DEPLOY_TOKEN in the environment", file=sys.stderr)
        return 3
    if any(os.environ["DEPLOY_TOKEN"] in arg for arg in sys.argv):
        print("the token is in argv", file=sys.stderr)
        return 4
    with open(os.environ["RELEASE_FILE"], "w") as file:
        file.write(sys.argv[1])
    print(f"deployed {sys.argv[1]} with token {os.environ['DEPLOY_TOKEN']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
