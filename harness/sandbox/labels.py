"""The labels on every container, network and image the harness makes: one place, so the
sandboxes, the sweep and the tests agree on them.

An owner label, the run id, and the owning harness's pid, its start time and host: a recycled
pid is not mistaken for a live owner, and another machine's resources are never touched.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping

from harness.sandbox import reaper

__all__ = [
    "LABEL_OWNER",
    "LABEL_OWNER_HOST",
    "LABEL_OWNER_PID",
    "LABEL_OWNER_START",
    "LABEL_RUN",
    "LABEL_TARGET",
    "LABEL_VERSION",
    "OWNER",
    "owner_is_gone",
    "run_labels",
]

OWNER = "govdrill"
LABEL_OWNER = "org.govdrill.owner"
LABEL_RUN = "org.govdrill.run-id"
LABEL_OWNER_PID = "org.govdrill.owner-pid"
LABEL_OWNER_START = "org.govdrill.owner-start"
LABEL_OWNER_HOST = "org.govdrill.owner-host"
LABEL_TARGET = "org.govdrill.target"
"""On images: the target they were built for."""
LABEL_VERSION = "org.govdrill.version"
"""On containers: the model version whose image it runs."""


def run_labels(run_id: str) -> dict[str, str]:
    """The labels of every resource the harness makes for ``run_id``."""
    me = os.getpid()
    return {
        LABEL_OWNER: OWNER,
        LABEL_RUN: run_id,
        LABEL_OWNER_PID: str(me),
        LABEL_OWNER_START: reaper.process_start_time(me) or "",
        LABEL_OWNER_HOST: socket.gethostname(),
    }


def owner_is_gone(labels: Mapping[str, str]) -> bool:
    """Whether the harness that labelled a resource no longer runs on this host."""
    if labels.get(LABEL_OWNER_HOST) != socket.gethostname():
        return False  # another machine's harness: not ours to judge
    try:
        pid = int(labels.get(LABEL_OWNER_PID, "0"))
    except ValueError:
        return True
    return pid <= 0 or reaper.process_start_time(pid) != labels.get(LABEL_OWNER_START)
