"""run --junit, --prometheus-textfile and --pushgateway write what CI and Prometheus read."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.evidence.runs import Runs

pytestmark = pytest.mark.slow


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_junit_has_one_passing_case_per_run(five_runs: Runs) -> None:
    """The JUnit file has a testcase per run, none failed, each naming its run id."""
    suite = ET.parse(five_runs.junit).getroot()
    assert suite.tag == "testsuite" and suite.get("tests") == "5" and suite.get("failures") == "0"
    cases = suite.findall("testcase")
    ids = {run.name.split("-")[1] for run in five_runs.runs}
    assert {c.find("properties/property[@name='run_id']").get("value") for c in cases} == ids  # type: ignore[union-attr]
    assert not suite.findall("testcase/failure")
    inside = ET.parse(five_runs.runs[0] / "junit.xml").getroot()
    assert inside.get("tests") == "1"


def test_textfile_carries_the_last_run(five_runs: Runs) -> None:
    """The textfile holds the last run's success, bounds and deadline verdicts."""
    last = json.loads((five_runs.runs[-1] / "summary.json").read_text())
    samples = _samples(five_runs.textfile.read_text())
    drill = ("drill", "evidence-short")
    assert samples[("govdrill_run_success", (drill,))] == 1.0
    stop = last["metrics"]["time_to_stop"]
    key = (("bound", "upper"), drill, ("metric", "time_to_stop"))
    assert samples[("govdrill_metric_seconds", key)] == pytest.approx(stop["upper"])
    met = (("deadline", "stop"), drill, ("verdict", "met"))
    assert samples[("govdrill_deadline_verdict", met)] == 1.0
    info = [k for k in samples if k[0] == "govdrill_run_info"]
    assert ("run_id", last["run_id"]) in info[0][1]


def test_pushgateway_received_the_drill(five_runs: Runs) -> None:
    """The loopback Pushgateway got the drill's metrics under job govdrill, grouped by drill."""
    pushes = [p for p in five_runs.pushes if p[1] == "/metrics/job/govdrill/drill/evidence-short"]
    assert pushes and pushes[-1][0] == "PUT"
    samples = _samples(pushes[-1][2].decode())
    assert samples[("govdrill_run_success", (("drill", "evidence-short"),))] == 1.0
