"""A stand-in load child for bench_memory: the load child's wire protocol, rows made up at speed.

Run as ``python -m bench.wire_child`` by a real :class:`harness.load.process.LoadProcess`
(bench_memory swaps the module it spawns). It reads the config line like the real child,
announces ``#H`` and ``#R``, writes ``GOVDRILL_BENCH_ROWS`` observation lines in the real
wire form, ``#D <rows>``, and exits. The rows describe one drill at 8,000 requests/s from
``GOVDRILL_BENCH_T0`` (see :func:`phases`): no HTTP, so ten million rows take seconds, not
the 21 minutes a real load at that rate would.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass

STEP_NS = 125_000
"""One request started every 125 µs: 8,000 requests/s."""


@dataclass(frozen=True, slots=True)
class Phases:
    """The drill the rows describe, as instants on the monotonic clock."""

    t0: int
    incident: int
    stop_issued: int
    stop_effective: int
    rollback_issued: int
    resume: int
    end: int


def phases(t0: int, rows: int) -> Phases:
    """Harm from 30 %, stop issued at 50 % (effective 300 ms later), rollback to v1 issued
    at 70 % and serving resumed at 75 % of the rows' span."""
    span = rows * STEP_NS
    issued = t0 + span // 2
    return Phases(
        t0=t0,
        incident=t0 + span * 3 // 10,
        stop_issued=issued,
        stop_effective=issued + 300_000_000,
        rollback_issued=t0 + span * 7 // 10,
        resume=t0 + span * 3 // 4,
        end=t0 + span + 10_000_000,
    )


def _lines(p: Phases, first: int, last: int) -> bytes:
    out = []
    for i in range(first, last):
        start = p.t0 + i * STEP_NS
        # 2.5 to 3.5 ms each: ends overlap a little across blocks, as real ones do.
        end = start + 2_500_000 + (i * 7919 % 1000) * 1000
        handled = (start + end) // 2
        if handled < p.stop_effective:
            harmful = int(handled >= p.incident)
            out.append(f"{start},{end},200,0,{harmful},0,v2\n")
        elif handled < p.resume:
            out.append(f"{start},{end},503,1,0,0,\n")
        else:
            out.append(f"{start},{end},200,0,0,0,v1\n")
    return "".join(out).encode()


def main() -> int:
    """Write the rows, then the clean end."""
    sys.stdin.buffer.readline()  # the config line, as the real child reads it first
    rows = int(os.environ["GOVDRILL_BENCH_ROWS"])
    p = phases(int(os.environ["GOVDRILL_BENCH_T0"]), rows)
    out = sys.stdout.buffer
    out.write(f"#H {time.monotonic_ns()}\n#R 1\n".encode())
    batch = 16_384
    for first in range(0, rows, batch):
        out.write(_lines(p, first, min(rows, first + batch)))
        if first // batch % 64 == 0:
            out.write(f"#H {time.monotonic_ns()}\n".encode())
    out.write(f"#D {rows}\n".encode())
    out.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
