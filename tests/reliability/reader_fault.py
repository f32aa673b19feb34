"""Run govdrill with a fault in the harness's load reader, standing in for any bug or exhaustion
inside the reader thread, which must end the run as a harness error naming the cause.

``python -m tests.reliability.reader_fault N run DRILL ...``: the Nth observation's append
raises, mid-run. ``... final run DRILL ...``: the child's final line (``#D``), which arrives
only while the harness stops its load, makes the reader raise.
"""

from __future__ import annotations

import sys


def main(argv: list[str]) -> int:
    """Arm the fault named by ``argv[0]``, then run the CLI with ``argv[1:]``."""
    from harness.cli import main as govdrill
    from harness.load.process import LoadProcess
    from harness.observations import Observation, ObservationLog

    if argv[0] == "final":
        control = LoadProcess._control

        def failing_control(self: LoadProcess, raw: bytes) -> None:
            if raw.startswith(b"#D"):
                raise MemoryError("injected: the final count could not be kept")
            control(self, raw)

        LoadProcess._control = failing_control  # type: ignore[method-assign]
    else:
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
