"""The run directory: written in a hidden staging folder, sealed by one atomic rename.

``results/<drill>/.<UTC-time>-<run-id>.partial/`` holds a run while it runs; only when every
file is written does it become ``results/<drill>/<UTC-time>-<run-id>/``. A harness killed
mid-run leaves a ``.partial`` folder that nothing presents as complete. Each file inside is
itself written atomically (temporary file, fsync, rename).
"""

from __future__ import annotations

import gzip
import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from harness.errors import EvidenceError
from harness.observations import ObservationLog

__all__ = ["RunDir", "write_atomic", "write_json"]


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that a reader sees the old file or the whole new one."""
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise EvidenceError(f"cannot write {path}: {exc.strerror or exc}") from exc


def write_json(path: Path, value: Any) -> None:
    """Write ``value`` as indented JSON, atomically."""
    write_atomic(path, (json.dumps(value, indent=2, sort_keys=False) + "\n").encode())


class RunDir:
    """One run's evidence folder, staged until sealed."""

    def __init__(self, results: Path, drill: str, stamp: str, run_id: str) -> None:
        self.name = f"{stamp}-{run_id}"
        self.parent = results / drill
        self.final = self.parent / self.name
        self.staging = self.parent / f".{self.name}.partial"
        self.sealed = False

    def create(self) -> Path:
        """Make the staging folder; raises EvidenceError when results/ is not writable."""
        try:
            self.parent.mkdir(parents=True, exist_ok=True)
            self.staging.mkdir()
        except OSError as exc:
            raise EvidenceError(
                f"cannot create the run folder under {self.parent}: {exc.strerror or exc}"
            ) from exc
        if not os.access(self.staging, os.W_OK):
            raise EvidenceError(f"run folder {self.staging} is not writable")
        return self.staging

    @property
    def path(self) -> Path:
        """Where the run's files are now (staging until sealed)."""
        return self.final if self.sealed else self.staging

    def write_observations(self, log: ObservationLog, zero_ns: int) -> Path:
        """Write every observation, compactly: gzip CSV, times in µs from the run's zero."""
        path = self.staging / "observations.csv.gz"
        start, end, status, state, harmful = log.columns()
        versions, version_index = log.versions()
        lines: list[str] = [
            "# times in microseconds since the run's zero (timeline.jsonl: zero_ns)\n",
            "start_us,end_us,status,state,harmful,version\n",
        ]
        append = lines.append
        for i in range(len(start)):
            append(
                f"{(start[i] - zero_ns) // 1000},{(end[i] - zero_ns) // 1000},{status[i]},"
                f"{state[i]},{harmful[i]},{versions[version_index[i]]}\n"
            )
        write_atomic(path, gzip.compress("".join(lines).encode(), compresslevel=3, mtime=0))
        return path

    def files(self) -> Iterable[Path]:
        """Every file in the run folder, sorted."""
        return sorted(p for p in self.path.rglob("*") if p.is_file())

    def seal(self) -> Path:
        """Make the run visible under its final name (one rename)."""
        try:
            dir_fd = os.open(self.staging, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
            os.replace(self.staging, self.final)
        except OSError as exc:
            raise EvidenceError(f"cannot seal {self.staging}: {exc.strerror or exc}") from exc
        self.sealed = True
        return self.final
