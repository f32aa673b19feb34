"""The names of run folders: ``<stamp>-<run-id>`` when sealed, ``.<stamp>-<run-id>.partial``
while a harness (or a sweeper) still holds the run."""

from __future__ import annotations

from pathlib import Path

__all__ = ["PARTIAL_SUFFIX", "run_name_of"]

PARTIAL_SUFFIX = ".partial"


def run_name_of(folder: Path) -> str | None:
    """``<stamp>-<run-id>`` of a staging folder ``.<stamp>-<run-id>.partial``, else None."""
    name = folder.name
    if not (name.startswith(".") and name.endswith(PARTIAL_SUFFIX)):
        return None
    inner = name[1 : -len(PARTIAL_SUFFIX)]
    return inner if "-" in inner and "/" not in inner else None
