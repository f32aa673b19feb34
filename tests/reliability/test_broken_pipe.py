"""Output piped into a reader that goes away (`govdrill validate ... | head -1`) ends the
command quietly with 141, as a shell reports SIGPIPE, never with a harness traceback."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.helpers import ROOT


def test_a_reader_that_went_away_is_not_a_harness_failure() -> None:
    """stdout is a pipe nobody reads: the first write fails with EPIPE."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "harness",
                "validate",
                str(ROOT / "drills" / "kill-switch-under-load.yaml"),
            ],
            stdout=write_end,
            stderr=subprocess.PIPE,
            cwd=ROOT,
            timeout=60,
            check=False,
        )
    finally:
        os.close(write_end)
    stderr = done.stderr.decode()
    assert "Traceback" not in stderr and "harness itself failed" not in stderr, stderr
    assert done.returncode == 141, (done.returncode, stderr)
