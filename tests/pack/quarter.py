"""A quarter's worth of real drill runs (Q3 2026) for the pack tests, and what was done to
some of them afterwards.

Every run is a real short drill: the reference model service started, put under real load,
stopped through its admin API, and sealed and signed by the real seal code. Only the wall
clock the harness reads for a run's start (``harness.engine``'s stamp and the timeline's
``wall`` field) is moved, to the instant in ``SCHEDULE``, so the runs spread over a quarter
in a minute; the evidence is written and sealed after that, and verifies as any run does.
The monotonic clock, and so every measurement, is untouched.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import shutil
import types
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness.engine import run_drill
from harness.integrity import ENVELOPE, TIMESTAMP_FILE, Signer, load_signer, request_timestamp
from harness.spec.loader import load_drill
from tests.helpers import ROOT, small_drill

KILL = "pack-kill-switch"
ROLLBACK = "pack-rollback"
DEFECT = "defect-stop-theater"
DEFECT_DRILL = ROOT / "drills" / "defects" / "stop-theater.yaml"

SINCE, UNTIL = "2026-07-01", "2026-09-30"
APPROVER = "dana.ops@example.com (change CR-1207)"
"""Who approved the run that fixed the kill switch, signed into its statement."""
THEATER = "stop_theater"
"""The defect that makes the kill-switch drill fail: the stop is acknowledged, not done."""


def _rollback_drill(defect: str | None) -> str:
    """A drill with a two-rung ladder, a rollback and a resume: admin_api stops it, so
    sigkill stays a rung never reached."""
    args = f"[--defect, {defect}]" if defect else "[]"
    return f"""drill: {ROLLBACK}
target: model-service
target_args: {args}
warmup: 100ms
load:
  users: 4
  request: {{method: POST, path: /v1/generate, json: {{prompt: the sea, max_tokens: 4}}}}
harm:
  - json_path: $.output
    regex: "CANARY-[0-9a-f]{{8}}"
steps:
  - at: 200ms
    inject: bad_deploy
  - when: harm_detected
    stop: [admin_api, sigkill]
    grace: 1s
  - after: stopped
    rollback: {{via: admin_api, to: v1}}
  - after: rollback
    resume: admin_api
hold: 300ms
deadlines: {{stop: 1s, time_in_harm: 2s, rollback: 2s}}
"""


@dataclass(frozen=True)
class Planned:
    """One run of the quarter: when it claims to start, which drill, and how."""

    key: str
    when: str
    drill: str
    text: str | None
    """The drill's YAML (None: DEFECT_DRILL)."""
    signed: bool = True
    authorized_by: str | None = None


SCHEDULE = (
    Planned("before", "2026-06-24T10:00:00", KILL, small_drill(KILL)),
    Planned("kill-1", "2026-07-02T09:00:00", KILL, small_drill(KILL)),
    Planned("rollback-1", "2026-07-09T09:00:00", ROLLBACK, _rollback_drill(None)),
    Planned("kill-fail-1", "2026-07-16T09:00:00", KILL, small_drill(KILL, defect=THEATER)),
    Planned("kill-fail-2", "2026-07-23T09:30:00", KILL, small_drill(KILL, defect=THEATER)),
    Planned("kill-fix", "2026-07-30T09:00:00", KILL, small_drill(KILL), authorized_by=APPROVER),
    Planned("defect-1", "2026-08-06T09:00:00", DEFECT, None),
    Planned("rollback-fail", "2026-08-13T09:00:00", ROLLBACK, _rollback_drill("lying_rollback")),
    Planned("rollback-fix", "2026-08-20T11:00:00", ROLLBACK, _rollback_drill(None)),
    Planned("kill-tampered", "2026-08-27T09:00:00", KILL, small_drill(KILL)),
    Planned("rollback-unsigned", "2026-09-03T09:00:00", ROLLBACK, _rollback_drill(None), False),
    Planned("kill-duplicated", "2026-09-10T09:00:00", KILL, small_drill(KILL)),
    Planned("kill-fail-open", "2026-09-17T09:00:00", KILL, small_drill(KILL, defect=THEATER)),
    Planned("after", "2026-10-05T09:00:00", KILL, small_drill(KILL)),
)  # fmt: skip


@dataclass(frozen=True)
class Quarter:
    """The results folder, each planned run's folder by key, the signing key, and the
    folders made by hand (the duplicate, the staging folder, the broken ones)."""

    results: Path
    runs: dict[str, Path]
    private_key: Path
    public_key: Path
    duplicate: Path
    staging: Path
    junk: Path
    hostile: Path

    def run_id(self, key: str) -> str:
        """The run id of the planned run ``key``."""
        return self.runs[key].name.rsplit("-", 1)[1]

    def folder(self, path: Path) -> str:
        """``path`` as the pack names it: relative to the results folder."""
        return path.relative_to(self.results).as_posix()


@contextlib.contextmanager
def wall_clock_at(when: _dt.datetime) -> Iterator[None]:
    """The harness's wall clock (the run's stamp and the timeline's ``wall``) reads ``when``
    plus the real time passed since entering; the monotonic clock is untouched."""
    offset = when - _dt.datetime.now(_dt.UTC)

    class Shifted(_dt.datetime):
        @classmethod
        def now(cls, tz: _dt.tzinfo | None = None) -> _dt.datetime:  # type: ignore[override]
            return _dt.datetime.now(tz) + offset

    shifted = types.SimpleNamespace(datetime=Shifted, UTC=_dt.UTC)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("harness.engine._dt", shifted)
        patch.setattr("harness.timeline._dt", shifted)
        yield


def run_at(planned: Planned, results: Path, workdir: Path, signer: Signer | None) -> Path:
    """Run ``planned`` for real with the wall clock at its instant; its sealed folder."""
    if planned.text is None:
        drill_file = DEFECT_DRILL
    else:
        drill_file = workdir / f"{planned.key}.yaml"
        drill_file.write_text(planned.text)
    drill = load_drill(drill_file)
    when = _dt.datetime.fromisoformat(planned.when).replace(tzinfo=_dt.UTC)
    with wall_clock_at(when):
        result = run_drill(
            drill, results=results, signer=signer, authorized_by=planned.authorized_by
        )
    folder = Path(result.run_dir)
    assert folder.is_dir() and folder.name.startswith(when.strftime("%Y%m%dT%H%M")), folder
    return folder


def build_quarter(base: Path, private_key: Path, public_key: Path, tsa_url: str) -> Quarter:
    """Run the schedule, then timestamp one run's attestation today (as ``run --tsa`` would
    have, had it run today: its recorded July start is not borne out), tamper with one run,
    copy another, leave a staging folder and two folders that are no runs."""
    results = base / "results"
    workdir = base / "drills"
    workdir.mkdir(parents=True)
    signer = load_signer(str(private_key))
    runs = {p.key: run_at(p, results, workdir, signer if p.signed else None) for p in SCHEDULE}
    attestation = runs["kill-1"] / ENVELOPE
    (runs["kill-1"] / TIMESTAMP_FILE).write_bytes(
        request_timestamp(attestation.read_bytes(), tsa_url)
    )
    tampered = runs["kill-tampered"] / "summary.json"
    summary = json.loads(tampered.read_text())
    summary["verdict"] = "passed" if summary["verdict"] != "passed" else "failed"
    tampered.write_text(json.dumps(summary, indent=2))
    original = runs["kill-duplicated"]
    duplicate = results / "archive" / KILL / original.name
    shutil.copytree(original, duplicate)
    # A staging folder as a harness killed mid-run leaves it (no sweep sealed it yet).
    stamp, run_id = "20260812T090000Z", "0badf00d"
    staging = results / KILL / f".{stamp}-{run_id}.partial"
    shutil.copytree(runs["kill-1"], staging)
    junk = results / "junk" / "20260815T120000Z-junk0001"
    junk.mkdir(parents=True)
    (junk / "summary.json").write_text("{not json")
    hostile = results / "evil<b>drill" / "20260816T120000Z-evil0001"
    hostile.mkdir(parents=True)
    (hostile / "summary.json").write_text(json.dumps({"drill": "<script>alert(1)</script>"}))
    return Quarter(results, runs, private_key, public_key, duplicate, staging, junk, hostile)
