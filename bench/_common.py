"""Shared helpers for the benchmarks: drills built in code, spread statistics, machine facts."""

from __future__ import annotations

import datetime as _dt
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

TARGETS = REPO / "targets"
SERVE_PY = TARGETS / "model-service" / "serve.py"

CANARY = {"json_path": "$.output", "regex": "CANARY-[0-9a-f]{8}"}


def use_this_checkout() -> None:
    """Run from this checkout, so every child process runs its code too.

    The load child is started as ``python -m harness.load.child``, and ``-m`` puts the
    current directory first on the child's path, ahead of the PYTHONPATH the harness sets:
    started from another checkout, the child would run that checkout's code.
    """
    os.chdir(REPO)


def commit() -> str:
    """The code under test: the checkout's commit (``+dirty`` with local changes), or the
    ``COMMIT`` file of an exported snapshot (``git archive HEAD``)."""
    try:
        head = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no", "harness"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        return head + ("+dirty harness/" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        marker = REPO / "COMMIT"
        return marker.read_text().strip() if marker.exists() else "unknown"


def machine() -> str:
    """One line naming the code, the machine, the date and the load when the benchmark started."""
    load1, load5, _ = os.getloadavg()
    now = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        f"govdrill {commit()} at {REPO}; {now}; {os.cpu_count()} CPUs; {platform.platform()}; "
        f"Python {platform.python_version()}; load average {load1:.2f} (1 min) {load5:.2f} (5 min)"
    )


def govdrill_command() -> list[str]:
    """``govdrill`` from this checkout (not whatever is installed): ``python -m harness``."""
    return [sys.executable, "-m", "harness"]


def govdrill_env() -> dict[str, str]:
    """The environment for :func:`govdrill_command`: this checkout first on the path."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    return env


def build_drill(data: dict[str, Any], workdir: Path, name: str | None = None) -> Any:
    """Write ``data`` as a drill file in ``workdir`` and load it as the CLI would."""
    from harness.spec import load_drill

    path = workdir / f"{name or data['drill']}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return load_drill(path, targets_dirs=[TARGETS])


def workdir(prefix: str) -> tempfile.TemporaryDirectory[str]:
    """A scratch folder under /tmp for one benchmark run."""
    return tempfile.TemporaryDirectory(prefix=f"govdrill-{prefix}-")


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q`` quantile (0..1) by nearest rank: a value that was really measured."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    rank = max(1, math.ceil(q * len(ordered)))
    return ordered[rank - 1]


def spread(values: Sequence[float], scale: float = 1.0, fmt: str = ".3f") -> str:
    """``median (min-max, p95) n=N`` of the values times ``scale``."""
    if not values:
        return "n=0"
    v = [x * scale for x in values]
    return (
        f"median {statistics.median(v):{fmt}} (min {min(v):{fmt}}, "
        f"p95 {percentile(v, 0.95):{fmt}}, max {max(v):{fmt}}) n={len(v)}"
    )
