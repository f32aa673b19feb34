"""The private files a sandbox hands its target: secrets only the target's user can read,
and folders the target may write its event log into."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

__all__ = ["owned_folder", "write_secrets"]


def owned_folder(path: Path, uid: int | None = None, gid: int | None = None) -> Path:
    """Make ``path`` (mode 0700), owned by ``uid:gid`` when given."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if uid is not None and gid is not None:
        os.chown(path, uid, gid)
    return path


def write_secrets(
    folder: Path,
    secrets: Mapping[str, str],
    *,
    mode: int,
    uid: int | None = None,
    gid: int | None = None,
) -> None:
    """Write each secret to ``folder/<name>`` with ``mode``, created that way (never readable
    by others, not even for an instant), owned by ``uid:gid`` when given."""
    owned_folder(folder)
    for name, value in secrets.items():
        path = folder / name
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        with os.fdopen(fd, "w") as f:
            f.write(value)
        if uid is not None and gid is not None:
            os.chown(path, uid, gid)
