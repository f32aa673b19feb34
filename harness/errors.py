"""Every error govdrill raises on purpose, and the exit code each one maps to.

The tree::

    GovdrillError                 base; carries the process exit code
    ├── SpecError                 a drill, target or --set is wrong (exit 2); lists every Problem
    ├── HarnessError              the harness itself failed (exit 3)
    │   ├── SandboxError          a target could not be started, reached or torn down
    │   ├── LoadError             the load child could not start
    │   └── EvidenceError         results could not be written (full disk, unwritable dir)
    ├── SummaryError              a run folder's summary.json is missing or not a run's (exit 2)
    └── Interrupted               SIGINT/SIGTERM or `govdrill halt` during a run (exit 130/143)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = [
    "EXIT_BAD_INPUT",
    "EXIT_FAILED",
    "EXIT_HARNESS",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_UNSEALED",
    "EvidenceError",
    "GovdrillError",
    "HarnessError",
    "Interrupted",
    "LoadError",
    "Problem",
    "SandboxError",
    "SpecError",
    "SummaryError",
]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_HARNESS = 3
EXIT_INTERRUPTED = 130
EXIT_UNSEALED = 4
"""`govdrill verify` on a staging folder: a run never sealed (interrupted, or still running)."""


class GovdrillError(Exception):
    """Base of every deliberate govdrill error."""

    exit_code = EXIT_HARNESS


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with an input file, located to its line."""

    file: str
    line: int | None
    field: str
    message: str
    value: Any = None
    allowed: tuple[str, ...] = ()

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        field = f" {self.field}:" if self.field else ""
        return f"{where}:{field} {self.message}"


class SpecError(GovdrillError):
    """A drill, target or override is invalid; carries every problem found at once."""

    exit_code = EXIT_BAD_INPUT

    def __init__(self, problems: list[Problem] | tuple[Problem, ...]) -> None:
        self.problems = tuple(
            sorted(problems, key=lambda p: (p.file, p.line if p.line is not None else 0))
        )
        super().__init__("\n".join(str(p) for p in self.problems))


class HarnessError(GovdrillError):
    """The harness could not do its own job (not a finding about the target)."""

    exit_code = EXIT_HARNESS


class SandboxError(HarnessError):
    """A sandbox could not start, reach or tear down its target."""


class LoadError(HarnessError):
    """The load child could not start or died before it produced anything."""


class EvidenceError(HarnessError):
    """The run's evidence could not be written."""


class SummaryError(GovdrillError):
    """A run folder's summary.json is missing, not JSON, or not the shape a run writes."""

    exit_code = EXIT_BAD_INPUT


class Interrupted(GovdrillError):
    """The run was interrupted by a signal or a halt request."""

    exit_code = EXIT_INTERRUPTED

    def __init__(self, signum: int, reason: str = "") -> None:
        self.signum = signum
        self.exit_code = 128 + signum
        super().__init__(reason or f"interrupted by signal {signum}")
