"""Fixtures of the pack tests: a real local TSA, a quarter of real runs signed and built once
per session, and the pack of that quarter made by the real command."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness.integrity import generate_keypair
from tests.helpers import govdrill_in_process
from tests.pack.pdf import has_chromium
from tests.pack.quarter import SINCE, UNTIL, Quarter, build_quarter
from tests.tsa.local_tsa import LocalTsa, start_local_tsa


@dataclass(frozen=True)
class QuarterPack:
    """The quarter's pack: its folder and how the command ended."""

    quarter: Quarter
    out: Path
    done: subprocess.CompletedProcess[str]
    tsa: LocalTsa


@pytest.fixture(scope="session")
def pack_tsa(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalTsa]:
    """A real local TSA (openssl ts on loopback) for the whole session."""
    tsa = start_local_tsa(tmp_path_factory.mktemp("pack-tsa"))
    try:
        yield tsa
    finally:
        tsa.stop()


@pytest.fixture(scope="session")
def quarter(tmp_path_factory: pytest.TempPathFactory, pack_tsa: LocalTsa) -> Quarter:
    """Q3 2026's runs (see tests/pack/quarter.py), with the key pair that signed them."""
    base = tmp_path_factory.mktemp("quarter")
    private, public = generate_keypair(base / "drill.key")
    return build_quarter(base, private, public, pack_tsa.url)


@pytest.fixture(scope="session")
def quarter_pack(
    quarter: Quarter, pack_tsa: LocalTsa, tmp_path_factory: pytest.TempPathFactory
) -> QuarterPack:
    """``govdrill pack`` over the quarter, signed, timestamped by the local TSA, with the
    TSA's CA to check the runs' timestamps against."""
    out = tmp_path_factory.mktemp("quarter-pack") / "pack"
    no_pdf = [] if has_chromium() else ["--no-pdf"]
    done = govdrill_in_process(
        "pack", str(quarter.results), "--since", SINCE, "--until", UNTIL, "--out", str(out),
        "--sign-key", str(quarter.private_key), "--tsa", pack_tsa.url,
        "--tsa-cert", str(pack_tsa.ca_cert_path), *no_pdf,
    )  # fmt: skip
    return QuarterPack(quarter, out, done, pack_tsa)
