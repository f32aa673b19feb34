"""The short drill the evidence tests run, and what one invocation of five runs of it left."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
SHORT = HERE / "drills" / "short.yaml"


@dataclass(frozen=True)
class Runs:
    """Five sealed runs of the short drill and the exports the same invocation wrote."""

    results: Path
    runs: list[Path]
    private_key: Path
    public_key: Path
    junit: Path
    textfile: Path
    pushes: list[tuple[str, str, bytes]]
    stdout: str
