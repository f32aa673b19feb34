"""Starting one of the harness's own child programs (the load, the fault proxy): this checkout's
package first on the path, the run's labels in its environment, its own process group, stdin
and stdout as pipes and stderr appended to a file."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Final

__all__ = ["spawn_harness_child"]

_PACKAGE_ROOT: Final = str(Path(__file__).resolve().parents[1])


def spawn_harness_child(
    module: str,
    *,
    labels: Mapping[str, str],
    stderr_path: Path | None,
    extra_env: Mapping[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    """Run ``python -P -m module`` as a child of this harness.

    The labels go into its environment so a sweep after a SIGKILLed harness finds it too; its
    own process group means a group kill aimed at it never hits the harness. ``stderr_path``
    None: stderr is a pipe too (for a child started before its run folder exists).
    """
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (_PACKAGE_ROOT, env.get("PYTHONPATH", "")) if p)
    env.update(extra_env or {})
    env.update(labels)
    if stderr_path is None:
        return _popen(module, env, subprocess.PIPE)
    stderr_path.parent.mkdir(parents=True, exist_ok=True)
    with open(stderr_path, "ab") as stderr:
        return _popen(module, env, stderr)


def _popen(module: str, env: dict[str, str], stderr: IO[bytes] | int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        # -P: the current directory must not shadow this harness's own package.
        [sys.executable, "-P", "-m", module],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=stderr,
        env=env,
        close_fds=True,
        process_group=0,
    )
