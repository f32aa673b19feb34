"""summary.json as one typed model: recorded summaries round-trip byte for byte, readers get
typed fields, and a summary that is not a run's is refused as bad input (exit 2)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import jsonschema
import pytest

from harness.cli import main
from harness.control import CallOutcome
from harness.errors import SummaryError
from harness.expect import check_expectation
from harness.history import collect
from harness.metrics import DeadlineResult, DeadlineVerdict, Metric, Unit, decide_verdict
from harness.run_summary import RunSummary, read_summary
from harness.spec.models import Expect, RungOutcome, RunVerdict

HERE = Path(__file__).parent
RECORDED = sorted((HERE / "summaries").glob("*.json"))
"""main-v1-failed.json: written by the harness before schema_version existed (a real run);
sealed-after-death.json and died-before-summary.json: the two shapes a sweep writes."""
SCHEMA = HERE.parent.parent / "docs" / "schema" / "summary.schema.json"


def _run_folder(tmp_path: Path, recorded: Path, name: str = "run") -> Path:
    folder = tmp_path / name
    folder.mkdir(parents=True)
    shutil.copyfile(recorded, folder / "summary.json")
    return folder


@pytest.mark.parametrize("recorded", RECORDED, ids=lambda p: p.stem)
def test_recorded_summaries_round_trip_byte_for_byte(tmp_path: Path, recorded: Path) -> None:
    """Read and written back, a recorded summary is the same document (keys, ints and
    floats), and one without schema_version reads as version 1 without gaining the key. The
    bytes are the same too, key order included, except where a sweep appended
    artefact_errors after sealed_after_death: the model writes it beside the expectation."""
    summary = read_summary(_run_folder(tmp_path, recorded))
    written = json.dumps(summary.document(), indent=2) + "\n"
    assert json.loads(written) == json.loads(recorded.read_text())
    if "artefact_errors" not in summary.model_fields_set:
        assert written == recorded.read_text()
    assert summary.schema_version == 1
    assert RunSummary.model_validate_json(recorded.read_bytes()) == summary


@pytest.mark.parametrize("recorded", RECORDED, ids=lambda p: p.stem)
def test_published_summary_schema_accepts_recorded_summaries(recorded: Path) -> None:
    """docs/schema/summary.schema.json accepts every recorded shape of summary.json."""
    jsonschema.validate(json.loads(recorded.read_text()), json.loads(SCHEMA.read_text()))


def test_readers_get_typed_fields(tmp_path: Path) -> None:
    """Metrics, deadlines and rungs are typed: bounds are numbers, verdicts enums."""
    summary = read_summary(_run_folder(tmp_path, HERE / "summaries" / "main-v1-failed.json"))
    stop = summary.metrics.time_to_stop
    assert stop is not None and stop.lower is not None and stop.upper is not None
    assert stop.lower <= stop.value <= stop.upper if stop.value is not None else False
    assert summary.metrics.harmful_total is not None
    assert isinstance(summary.metrics.harmful_total.value, int)  # a count stays an int
    judged = summary.deadlines.harmful_after_ack
    assert judged is not None and judged.verdict is DeadlineVerdict.UNVERIFIED
    assert [name for name, _ in summary.deadlines.items()] == [
        "detect", "ack", "stop", "time_in_harm", "harmful_after_ack", "rollback",
    ]  # fmt: skip
    assert summary.rungs[0].outcome is RungOutcome.ACKED
    assert summary.verdict is RunVerdict.FAILED and not summary.ok


def test_recorded_verdicts_replay_through_decide_verdict() -> None:
    """The verdict function, given the recorded deadlines, gives the verdict each run
    recorded: the analysis's verdict did not move when it left the serializer."""
    for recorded in RECORDED:
        summary = RunSummary.model_validate_json(recorded.read_bytes())
        before = summary.sealed_after_death
        verdict = before.verdict_before_seal if before is not None else summary.verdict
        if verdict not in (RunVerdict.PASSED, RunVerdict.FAILED):
            continue
        deadlines = tuple(
            DeadlineResult(
                name,
                d.limit_s,
                Metric(name, d.measured_s, d.lower_s, d.upper_s, Unit(d.unit)),
                d.verdict,
                d.reason,
            )
            for name, d in summary.deadlines.items()
        )
        decision = decide_verdict(deadlines, measured=True)
        assert decision.verdict is verdict, recorded.name
        assert any("harmful_after_ack unverified" in r for r in decision.reasons)


def test_decide_verdict_orders_interrupted_error_deadlines() -> None:
    """Interrupted beats an error, an error beats the deadlines, nothing measured is an error."""
    assert decide_verdict((), measured=True, interrupted_by_signal=2, error="x").verdict is (
        RunVerdict.INTERRUPTED
    )
    assert decide_verdict((), measured=True, error="boom").verdict is RunVerdict.ERROR
    assert decide_verdict((), measured=False).verdict is RunVerdict.ERROR
    passed = decide_verdict((), measured=True, load_failure="dead: exit 9")
    assert passed.verdict is RunVerdict.PASSED
    assert passed.reasons[-1].startswith("the load failed (dead: exit 9)")


def test_expectation_reads_typed_fields_and_one_rung_vocabulary(tmp_path: Path) -> None:
    """check_expectation compares typed fields; a rung never climbed is not_reached, and a
    drill's old 'skipped' loads as pending, the one name the summary writes."""
    summary = read_summary(_run_folder(tmp_path, HERE / "summaries" / "main-v1-failed.json"))
    expect = Expect.model_validate(
        {
            "verdict": "failed",
            "unverified": ["harmful_after_ack"],
            "met": ["stop"],
            "rung_used": "admin_api",
            "rungs": {"admin_api": "acked", "sigkill": "not_reached"},
            "metrics": {"time_to_stop": {"max": 2.0}},
        }
    )
    assert check_expectation(expect, summary).mismatches == ()
    wrong = Expect.model_validate({"verdict": "passed", "rungs": {"admin_api": "skipped"}})
    assert wrong.rungs["admin_api"] is RungOutcome.PENDING
    assert check_expectation(wrong, summary).mismatches == (
        "verdict is failed, expected passed",
        "rung admin_api acked, expected pending",
    )
    assert {o.value for o in CallOutcome} <= {o.value for o in RungOutcome}


@pytest.mark.parametrize(
    ("content", "said"),
    [
        (b"{not json", "summary.json: not a govdrill run summary"),
        (b'{"drill": 3}', "drill: Input should be a valid string"),
        (b'{"schema_version": 2}', "schema_version 2 is not one this govdrill reads"),
    ],
)
def test_a_summary_that_is_not_a_runs_is_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes, said: str
) -> None:
    """`govdrill report` on a folder whose summary.json is not a run's exits 2 naming the
    file and the field, with no traceback."""
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "summary.json").write_bytes(content)
    with pytest.raises(SummaryError, match=r"summary\.json"):
        read_summary(folder)
    assert main(["report", str(folder)]) == 2
    err = capsys.readouterr().err
    assert said in err and str(folder / "summary.json") in err
    assert "Traceback" not in err and not (folder / "report.html").exists()


def test_history_skips_a_summary_that_is_not_a_runs(tmp_path: Path) -> None:
    """History counts an invalid summary as skipped instead of failing on it."""
    good = HERE / "summaries" / "main-v1-failed.json"
    _run_folder(tmp_path, good, "kill-switch-under-load/20261201T092505Z-de9e1440")
    bad = tmp_path / "kill-switch-under-load" / "20261201T092600Z-0badf00d"
    bad.mkdir()
    (bad / "summary.json").write_text('{"drill": "kill-switch-under-load", "verdict": "odd"}')
    points, skipped = collect(tmp_path)
    assert [p.run_id for p in points] == ["de9e1440"] and skipped == 1
    assert points[0].values["time_to_stop"][2] == pytest.approx(0.002829208)


def test_the_rarer_fields_round_trip(tmp_path: Path) -> None:
    """An interrupted run halted by `govdrill halt`, with leftovers swept and a load that
    failed: every such field reads back typed and is written back unchanged."""
    document = json.loads((HERE / "summaries" / "main-v1-failed.json").read_text())
    document.update(
        verdict="interrupted",
        error="the load reader failed: boom",
        interrupted_by_signal=15,
        halted_by={"by_pid": 4242, "by_user": "ops", "reason": "overran", "at": "2026-12-01"},
        load_failure="dead: exit code -9",
        swept_leftovers=[
            {"kind": "process", "pid": 77, "run_id": "0badf00d", "cmdline": "python serve.py"},
            {"kind": "work_folder", "name": "/tmp/govdrill-0badf00d-x", "run_id": "0badf00d"},
            {"kind": "container", "name": "govdrill-0badf00d", "run_id": "0badf00d"},
        ],
    )
    path = _run_folder(tmp_path, HERE / "summaries" / "main-v1-failed.json")
    (path / "summary.json").write_text(json.dumps(document, indent=2) + "\n")
    summary = read_summary(path)
    assert summary.halted_by is not None and summary.halted_by.reason == "overran"
    assert [type(s).__name__ for s in summary.swept_leftovers] == [
        "SweptProcess", "SweptResource", "SweptResource",
    ]  # fmt: skip
    assert summary.document() == document
    jsonschema.validate(document, json.loads(SCHEMA.read_text()))
