"""Run govdrill with a fault in the harness's load reader: the Nth observation's append raises.

``python reader_fault.py N run DRILL ...``: stands in for any bug or exhaustion inside the reader
thread, which must end the run as a harness error naming the cause.
"""

from __future__ import annotations

import sys


def main(argv: list[str]) -> int:
    """Arm the fault after ``argv[0]`` appends, then run the CLI with ``argv[1:]``."""
    from harness.cli import main as govdrill
    from harness.observations import Observation, ObservationLog

    limit = int(argv[0])
    append = ObservationLog.append

    def failing_append(self: ObservationLog, obs: Observation) -> None:
        if len(self) >= limit:
            raise MemoryError("injected: the observation store is exhausted")
        append(self, obs)

    ObservationLog.append = failing_append  # type: ignore[method-assign]
    return govdrill(argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
