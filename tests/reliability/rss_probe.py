"""Run govdrill in this process, then write its peak RSS and its children's as JSON.

``python rss_probe.py OUT.json run DRILL ...``: the arguments after OUT.json go to govdrill.
The children's figure is the largest peak of any child the harness waited for (its load child,
its target), so it bounds the load child's. The harness's own figure is ``VmHWM`` of this
process: Linux carries ``ru_maxrss`` across ``exec``, so under a large pytest that forked this
probe ``RUSAGE_SELF`` would report pytest's peak, not the harness's.
"""

from __future__ import annotations

import json
import resource
import sys
from pathlib import Path


def _own_peak_kib() -> int:
    """This process image's peak resident set (``VmHWM``, reset by ``exec``), in KiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError("no VmHWM in /proc/self/status")


def main(argv: list[str]) -> int:
    """Run the CLI with ``argv[1:]``; record the peaks in ``argv[0]``; return its exit code."""
    from harness.cli import main as govdrill

    code = govdrill(argv[1:])
    peaks = {
        "harness_mib": _own_peak_kib() / 1024,
        "children_mib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
    }
    Path(argv[0]).write_text(json.dumps(peaks))
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
