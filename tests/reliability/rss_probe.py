"""Run govdrill in this process, then write its peak RSS and its children's as JSON.

``python rss_probe.py OUT.json run DRILL ...``: the arguments after OUT.json go to govdrill.
The children's figure is the largest peak of any child the harness waited for (its load child,
its target), so it bounds the load child's.
"""

from __future__ import annotations

import json
import resource
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    """Run the CLI with ``argv[1:]``; record the peaks in ``argv[0]``; return its exit code."""
    from harness.cli import main as govdrill

    code = govdrill(argv[1:])
    peaks = {
        "harness_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "children_mib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
    }
    Path(argv[0]).write_text(json.dumps(peaks))
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
