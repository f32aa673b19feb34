"""Nothing after the verdict (report, JUnit, exports) can unseal or change a run."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.engine import run_drill
from harness.integrity import verify_run
from harness.report import render_report
from harness.report._data import read_run
from harness.report._html import render
from harness.run_summary import RunSummary
from harness.spec import load_drill
from tests.evidence.runs import SHORT
from tests.helpers import govdrill, only_run, summary_of

pytestmark = pytest.mark.slow

ACK_GAP = Path(__file__).resolve().parent / "drills" / "ack-gap.yaml"


@pytest.fixture(scope="module")
def ack_gap_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    """One real run whose harmful_after_ack has no upper bound; its folder and exit code."""
    results = tmp_path_factory.mktemp("ack-gap") / "results"
    done = govdrill("run", str(ACK_GAP), "--results", str(results), "-q")
    assert "Traceback" not in done.stderr, done.stderr
    return only_run(results), done.returncode


def test_count_without_upper_bound_is_sealed_with_its_verdict(
    ack_gap_run: tuple[Path, int],
) -> None:
    """A count metric with ``upper: null`` gives a sealed, verifiable run and the drill's exit
    code (1: stop theater misses its deadlines), never a crash left as ``.partial``."""
    run, code = ack_gap_run
    summary = summary_of(run)
    after_ack = summary["metrics"]["harmful_after_ack"]
    assert after_ack["upper"] is None and after_ack["lower"] > 0, after_ack
    assert summary["verdict"] == "failed" and code == 1
    assert "artefact_errors" not in summary
    assert verify_run(run).intact
    html = (run / "report.html").read_text()
    assert f"{after_ack['value']} [{after_ack['lower']}, —]" in html


def test_report_command_on_null_bounds(ack_gap_run: tuple[Path, int], tmp_path: Path) -> None:
    """`govdrill report` on a run with null bounds writes the page (exit 0)."""
    run, _ = ack_gap_run
    done = govdrill("report", str(run), "--out", str(tmp_path / "r.html"))
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "r.html").read_bytes() == (run / "report.html").read_bytes()


def test_failing_artefacts_are_recorded_and_the_run_still_sealed(
    results: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A report and a JUnit file that raise are recorded in summary.json and on the timeline;
    the run is sealed, verifies, and keeps the drill's verdict and exit code."""
    import harness.engine as engine

    def broken_report(*_a: Any, **_k: Any) -> Path:
        raise TypeError("unsupported format string passed to NoneType.__format__")

    def broken_junit(*_a: Any, **_k: Any) -> bytes:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(engine, "write_report", broken_report)
    monkeypatch.setattr(engine, "junit_xml", broken_junit)
    result = run_drill(load_drill(SHORT), results=results)
    assert result.verdict.value == "passed" and result.exit_code == 0
    run = result.run_dir
    assert not run.name.startswith(".") and run.is_dir()
    errors = summary_of(run)["artefact_errors"]
    assert [e["artefact"] for e in errors] == ["junit.xml", "report.html"]
    assert "NoneType.__format__" in errors[1]["error"]
    events = [json.loads(line) for line in (run / "timeline.jsonl").read_text().splitlines()]
    failed = [e for e in events if e["event"] == "artefact_failed"]
    assert [e["artefact"] for e in failed] == ["junit.xml", "report.html"]
    assert [e["event"] for e in events].index("verdict") < [e["event"] for e in events].index(
        "artefact_failed"
    )
    assert not (run / "report.html").exists() and not (run / "junit.xml").exists()
    assert verify_run(run).intact


_NULLABLE = ("value", "lower", "upper")
_DEADLINE_NULLABLE = ("measured_s", "lower_s", "upper_s")  # a limit is never null


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_any_null_side_renders(ack_gap_run: tuple[Path, int], data: st.DataObject) -> None:
    """Every metric and bound formatter accepts None on any side (and ints where floats are
    usual): the page renders for any mix of nulls in metrics, deadlines, rungs and truth."""
    run, _ = ack_gap_run
    base = _base_run(run)
    summary = base.summary.document()
    for m in summary["metrics"].values():
        for key in _NULLABLE:
            m[key] = data.draw(st.sampled_from([m[key], None, 0, 1.5]))
    for d in summary["deadlines"].values():
        for key in _DEADLINE_NULLABLE:
            d[key] = data.draw(st.sampled_from([d.get(key), None, 2]))
    for rung in summary.get("rungs", []):
        rung["issued_t_s"] = data.draw(st.sampled_from([rung["issued_t_s"], None]))
    if data.draw(st.booleans()):
        summary["ground_truth"] = {
            "stop_claimed_ns": data.draw(st.sampled_from([None, summary["zero_ns"] + 10**9])),
            "stop_within_bounds": data.draw(st.sampled_from([None, True, False])),
            "stop_error_s": data.draw(st.sampled_from([None, 0.01])),
            "rollback_claimed_ns": None,
            "rollback_within_bounds": None,
            "rollback_error_s": None,
            "log_trustworthy": data.draw(st.booleans()),
            "reasons": [],
        }
    rendered = copy.copy(base)
    rendered.summary = RunSummary.model_validate(summary)
    assert "<html" in render(rendered)


_BASE: dict[Path, Any] = {}


def _base_run(run: Path) -> Any:
    if run not in _BASE:
        _BASE[run] = read_run(run)
    return _BASE[run]


def test_renderer_accepts_a_summary_with_every_bound_null(ack_gap_run: tuple[Path, int]) -> None:
    """The worst case spelt out: every value and bound null (a limit is never null: the
    summary's model refuses one, so no such summary reaches the page)."""
    run, _ = ack_gap_run
    base = _base_run(run)
    summary = base.summary.document()
    for m in summary["metrics"].values():
        m.update(value=None, lower=None, upper=None)
    for d in summary["deadlines"].values():
        d.update(measured_s=None, lower_s=None, upper_s=None)
    rendered = copy.copy(base)
    rendered.summary = RunSummary.model_validate(summary)
    assert "<html" in render(rendered)
    assert "<html" in render_report(run)


def test_failing_exports_keep_the_drills_exit_code(tmp_path: Path) -> None:
    """--junit into an impossible path and an unreachable Pushgateway are warnings: the run
    is sealed and the exit code is the drill's (0), not 3."""
    blocker = tmp_path / "blocker"
    blocker.write_text("a file, not a folder")
    results = tmp_path / "results"
    done = govdrill(
        "run", str(SHORT), "--results", str(results), "-q",
        "--junit", str(blocker / "junit.xml"), "--pushgateway", "http://127.0.0.1:9",
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stderr.count("govdrill: warning: could not write") == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert verify_run(only_run(results)).intact
