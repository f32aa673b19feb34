"""A stand-in harness for registry and sweep tests: it registers a run, optionally starts a
labelled child and a work folder with a secret in it, says ``ready``, and waits for SIGTERM.

Run as ``python -m tests.reliability.registrant RUN_ID [--child] [--work-folder]
[--owner-pid N]``. It uses only what every version of ``harness.runs`` and
``harness.sandbox.reaper`` offers, so a test can be run against the code before a fix.
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from harness import runs
from harness.sandbox import reaper


def main() -> int:
    """Register, start what was asked, print ``ready``, and exit 143 on SIGTERM."""
    parser = argparse.ArgumentParser()
    parser.add_argument("run_id")
    parser.add_argument("--child", action="store_true", help="a labelled child, same group")
    parser.add_argument("--work-folder", action="store_true", help="a work folder with a secret")
    parser.add_argument("--owner-pid", help="put this owner pid in the child's labels")
    args = parser.parse_args()
    terminated = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: terminated.set())
    with runs.register(args.run_id, "registrant", Path(tempfile.gettempdir())):
        child = None
        if args.child:
            labels = reaper.labels(args.run_id)
            if args.owner_pid:
                labels[reaper.OWNER_PID] = args.owner_pid
            # Like the old load child: no session or group of its own, and no death signal.
            child = subprocess.Popen(
                [sys.executable, "-c", "import time\nwhile True: time.sleep(60)"],
                env={**labels, "PATH": "/usr/bin:/bin"},
            )
        folder = None
        if args.work_folder:
            folder = Path(tempfile.mkdtemp(prefix=f"govdrill-{args.run_id}-"))
            (folder / "secrets").mkdir(mode=0o700)
            (folder / "secrets" / "admin-token").write_text("s3cret-token\n")
        print(f"ready {folder or ''} {child.pid if child else ''}", flush=True)
        terminated.wait()
        if child is not None:
            child.kill()
            child.wait()
    print("terminated", flush=True)
    return 143


if __name__ == "__main__":
    sys.exit(main())
