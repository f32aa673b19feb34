"""A real local TSA for any test to start, without pytest fixtures: ``start_local_tsa``.

The pack tests import this; the tsa tests get it through their ``local_tsa`` fixture.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tests.tsa.tsa_server import TsaBehaviour, TsaServer, make_tsa_files

__all__ = ["LocalTsa", "TsaBehaviour", "start_local_tsa"]


@dataclass(frozen=True)
class LocalTsa:
    """A running local TSA: where to ask it, the CA to check its tokens against (what
    ``--tsa-cert`` takes), its own signing certificate, and the server to steer or stop."""

    url: str
    ca_cert_path: Path
    tsa_cert_path: Path
    server: TsaServer

    def stop(self) -> None:
        """Stop the server."""
        self.server.stop()


def start_local_tsa(tmp_path: Path, *, name: str = "govdrill test TSA") -> LocalTsa:
    """Make a CA and a TSA certificate under ``tmp_path`` and serve ``openssl ts -reply`` on
    loopback; the caller stops it."""
    files = make_tsa_files(tmp_path / f"tsa-{name.replace(' ', '-')}", name=name)
    server = TsaServer(files)
    return LocalTsa(
        url=server.url, ca_cert_path=files.ca_cert, tsa_cert_path=files.tsa_cert, server=server
    )
