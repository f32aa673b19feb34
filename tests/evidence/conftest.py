"""Real short drill runs shared by the evidence tests: five signed runs in one invocation."""

from __future__ import annotations

import http.server
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.evidence.runs import SHORT, Runs
from tests.helpers import govdrill, serving


class _Recorder(http.server.BaseHTTPRequestHandler):
    """A loopback stand-in for a Pushgateway that keeps every request it gets."""

    pushes: list[tuple[str, str, bytes]] = []

    def _record(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.pushes.append((self.command, self.path, self.rfile.read(length)))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_PUT = do_POST = _record

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="session")
def pushgateway() -> Iterator[tuple[str, list[tuple[str, str, bytes]]]]:
    """A recording HTTP server on loopback; yields its URL and what it received."""
    pushes: list[tuple[str, str, bytes]] = []
    handler = type("Recorder", (_Recorder,), {"pushes": pushes})
    with serving(handler) as port:
        yield f"http://127.0.0.1:{port}", pushes


@pytest.fixture(scope="session")
def keypair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A key pair made by `govdrill keygen`."""
    folder = tmp_path_factory.mktemp("keys")
    done = govdrill("keygen", str(folder / "drill.key"))
    assert done.returncode == 0, done.stderr
    return folder / "drill.key", folder / "drill.key.pub"


@pytest.fixture(scope="session")
def five_runs(
    tmp_path_factory: pytest.TempPathFactory,
    keypair: tuple[Path, Path],
    pushgateway: tuple[str, list[tuple[str, str, bytes]]],
) -> Runs:
    """Five real runs of the short drill, signed, with JUnit, textfile and a push."""
    base = tmp_path_factory.mktemp("five")
    url, pushes = pushgateway
    done = govdrill(
        "run", *[str(SHORT)] * 5, "--results", str(base / "results"), "-q",
        "--sign-key", str(keypair[0]), "--junit", str(base / "out" / "junit.xml"),
        "--prometheus-textfile", str(base / "out" / "govdrill.prom"), "--pushgateway", url,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    runs = sorted(p for p in (base / "results" / "evidence-short").iterdir())
    assert len(runs) == 5 and not [p for p in runs if p.name.startswith(".")]
    return Runs(
        results=base / "results",
        runs=runs,
        private_key=keypair[0],
        public_key=keypair[1],
        junit=base / "out" / "junit.xml",
        textfile=base / "out" / "govdrill.prom",
        pushes=list(pushes),
        stdout=done.stdout,
    )


@pytest.fixture
def run_copy(five_runs: Runs, tmp_path: Path) -> Path:
    """A private copy of one sealed run, to tamper with."""
    source = five_runs.runs[0]
    target = tmp_path / source.name
    shutil.copytree(source, target)
    return target
