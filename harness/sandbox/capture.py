"""Copy a target's output into the run folder, up to a cap, so a flood cannot fill the disk."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import BinaryIO

from harness.redact import NO_SECRETS, Redactor

__all__ = ["DEFAULT_CAP_BYTES", "OutputCapture"]

DEFAULT_CAP_BYTES = 20 * 1024 * 1024


class OutputCapture:
    """Drains one pipe on a thread; keeps the first ``cap_bytes``, counts the rest."""

    def __init__(
        self, path: Path, *, cap_bytes: int = DEFAULT_CAP_BYTES, redactor: Redactor = NO_SECRETS
    ) -> None:
        self.path = path
        self._redactor = redactor
        self.cap_bytes = cap_bytes
        self.written = 0
        self.dropped = 0
        self._read_fd, self.write_fd = os.pipe()
        self._thread = threading.Thread(
            target=self._drain, name=f"capture-{path.name}", daemon=True
        )

    def start(self) -> None:
        """Begin draining; call once the child holds its copy of ``write_fd``."""
        os.close(self.write_fd)
        self._thread.start()

    def _drain(self) -> None:
        # The run's secrets are redacted as the output arrives, so not even a run folder
        # left behind by a killed harness holds them.
        stream = self._redactor.stream()
        with open(self.path, "wb", buffering=0) as out:
            while chunk := os.read(self._read_fd, 65536):
                if self.written >= self.cap_bytes:
                    self.dropped += len(chunk)  # past the cap: nothing to redact, only count
                    continue
                self._keep(out, stream.feed(chunk))
            self._keep(out, stream.flush())
            if self.dropped:
                out.write(
                    f"\n[govdrill: {self.dropped} more bytes dropped beyond the"
                    f" {self.cap_bytes}-byte cap]\n".encode()
                )
        os.close(self._read_fd)

    def _keep(self, out: BinaryIO, chunk: bytes) -> None:
        room = self.cap_bytes - self.written
        if room > 0:
            out.write(chunk[:room])
            self.written += min(room, len(chunk))
        self.dropped += max(0, len(chunk) - max(room, 0))

    def close(self, timeout_s: float = 5.0) -> None:
        """Wait for the pipe to reach end of file (every writer gone)."""
        if self._thread.is_alive():
            self._thread.join(timeout_s)
