"""Drills run as pytest items with trusted time and a named approver: `--drill-tsa` stamps
each run's attestation at a real local TSA (openssl ts on loopback) and `--drill-authorized-by`
signs who ordered them; a TSA that gives no token fails the item, the evidence kept."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Iterator

import pytest

from tests.helpers import govdrill, small_drill
from tests.plugin.test_running import runs_under
from tests.tsa.local_tsa import LocalTsa, start_local_tsa
from tests.tsa.tsa_server import TsaBehaviour

pytestmark = pytest.mark.slow


@pytest.fixture
def tsa(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalTsa]:
    """A running local TSA, stopped after the test."""
    local = start_local_tsa(tmp_path_factory.mktemp("tsa"))
    try:
        yield local
    finally:
        local.stop()


def test_a_session_stamps_its_runs_and_names_who_ordered_them(
    pytester: pytest.Pytester, drill_args: list[str], tsa: LocalTsa
) -> None:
    """The drill passes; its run carries a token the TSA's CA verifies against its own
    attestation, and who ordered it is in the summary, verify's output and the JUnit
    properties."""
    pytester.makefile(".yaml", ok=small_drill("ok"))
    result = pytester.runpytest(
        *drill_args, f"--drill-tsa={tsa.url}", "--drill-authorized-by=SRE on-call #7",
        "--junitxml=junit.xml",
    )  # fmt: skip
    result.assert_outcomes(passed=1)
    (run,) = runs_under(pytester.path / "results")
    assert (run / "attestation.tsr").is_file()
    assert json.loads((run / "summary.json").read_text())["authorized_by"] == "SRE on-call #7"
    done = govdrill("verify", str(run), "--tsa-cert", str(tsa.ca_cert_path))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "RFC 3161 timestamp" in done.stdout and "authorized by: SRE on-call #7" in done.stdout
    case = ET.parse(pytester.path / "junit.xml").getroot().find(".//testcase")
    assert case is not None
    props = {p.get("name"): p.get("value") for p in case.iter("property")}
    assert props["authorized_by"] == "SRE on-call #7"
    assert "timestamp_missing" not in props


def test_a_tsa_that_gives_no_token_fails_the_item(
    pytester: pytest.Pytester, drill_args: list[str], tsa: LocalTsa
) -> None:
    """The TSA answers 500: the drill itself passed, but the session asked for trusted time,
    so the item fails saying so; the run is sealed and kept, without a token."""
    tsa.server.behaviour = TsaBehaviour.ERROR_500
    pytester.makefile(".yaml", ok=small_drill("ok"))
    result = pytester.runpytest(*drill_args, f"--drill-tsa={tsa.url}")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*TIMESTAMP MISSING, the run is sealed without trusted time*"])
    (run,) = runs_under(pytester.path / "results")
    assert not (run / "attestation.tsr").exists()
    assert govdrill("verify", str(run)).returncode == 0


def test_bad_approver_or_tsa_address_fails_before_the_drill_runs(
    pytester: pytest.Pytester, drill_args: list[str]
) -> None:
    """A name with a control character, or a TSA address that is not http(s), fails the item
    before anything runs: no run folder."""
    pytester.makefile(".yaml", ok=small_drill("ok"))
    result = pytester.runpytest(*drill_args, "--drill-authorized-by=Jane\x1bRoe")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*authorized_by*control or invisible*"])
    result = pytester.runpytest(*drill_args, "--drill-tsa=ftp://tsa.example")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*not an http:// or https:// address*"])
    assert runs_under(pytester.path / "results") == []
