"""Artefacts made after the verdict (report.html, junit.xml), written so they cannot fail a run.

The verdict is final once the timeline records it. A renderer bug, a full disk or any other
failure while making an artefact from the run's files is caught here and returned as an
``ArtefactError``: the engine records it in ``summary.json`` (``artefact_errors``) and on the
timeline (``artefact_failed``), then seals the run and exits with the drill's own code.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ArtefactError", "attempt"]


@dataclass(frozen=True, slots=True)
class ArtefactError:
    """One artefact that could not be made, and why."""

    artefact: str
    error: str
    where: str
    """The source line that raised (``harness/report/_texts.py:88``), to report the bug."""

    def to_summary(self) -> dict[str, str]:
        """As summary.json keeps it."""
        return {"artefact": self.artefact, "error": self.error, "where": self.where}


def attempt(artefact: str, make: Callable[[], object]) -> ArtefactError | None:
    """Run ``make``; None when it worked, else what went wrong (never raises an Exception)."""
    try:
        make()
    except Exception as exc:  # any failure of a post-verdict artefact is recorded, not raised
        return ArtefactError(artefact, f"{type(exc).__name__}: {exc}", _where(exc))
    return None


def _where(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return ""
    last = frames[-1]
    parts = Path(last.filename).parts
    if "harness" in parts:  # relative to the package, not this machine's checkout
        parts = parts[len(parts) - 1 - parts[::-1].index("harness") :]
    return f"{Path(*parts).as_posix()}:{last.lineno}"
