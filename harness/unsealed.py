"""Runs left unsealed by a dead harness: found under a results folder, sealed as interrupted.

A harness killed mid-run (SIGKILL, out of memory, a power cut) or one that crashed before
its seal leaves ``results/<drill>/.<stamp>-<run-id>.partial/``. The next run, or ``govdrill
sweep``, seals every such folder whose harness is gone, with what it holds:

- the verdict is ``interrupted`` (``interrupted_by: harness_died``); a summary the dead
  harness had already written is kept as the base, its verdict moved to
  ``sealed_after_death.verdict_before_seal``, because nothing vouched for it;
- a timeline line cut off mid-write is moved to ``timeline.torn-tail.bin`` and the timeline
  truncated to its last whole line, so the hash chain stays checkable;
- one ``sealed_after_death`` event is chained onto the timeline, stamped with the last instant
  the dead harness recorded (its monotonic clock cannot be read any more) and the wall time;
- junit.xml and report.html are made when they can be (failures recorded, as for any run),
  then the manifest and attestation, then the rename to the final name.

A folder whose run lock is held (``evidence.run_is_live``) or whose run is in the registry of
running drills belongs to a live harness and is never touched.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import enum
import json
import os
import platform
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from harness import __version__
from harness.artefacts import ArtefactError, attempt
from harness.errors import EvidenceError, GovdrillError, SummaryError
from harness.evidence import RunLock, run_is_live, write_atomic, write_json
from harness.run_names import PARTIAL_SUFFIX, run_name_of
from harness.run_summary import (
    CLOCK,
    ArtefactFailure,
    JudgedDeadlines,
    MeasuredMetrics,
    RunSummary,
    SealedAfterDeath,
    Versions,
    read_summary,
)
from harness.spec.models import RunVerdict
from harness.timeline import GENESIS, read_json_lines, verify_chain

if TYPE_CHECKING:
    from harness.integrity import Signer

__all__ = [
    "PARTIAL_SUFFIX",
    "SweepOutcome",
    "SweptRun",
    "find_unsealed",
    "run_name_of",
    "seal_dead_runs",
    "seal_interrupted",
]

_CREATING_SUFFIX = ".creating"
_TIMELINE = "timeline.jsonl"
_TORN_TAIL = "timeline.torn-tail.bin"


class SweepOutcome(enum.StrEnum):
    """What a sweep did with one unsealed folder."""

    SEALED = "sealed"
    ALIVE = "still running"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class SweptRun:
    """One unsealed folder and what the sweep did with it."""

    staging: Path
    outcome: SweepOutcome
    sealed_as: Path | None = None
    detail: str = ""
    timestamp_error: str = ""
    """Sealed, but the TSA asked for gave no token (the run has no ``attestation.tsr``)."""

    def to_event(self) -> dict[str, Any]:
        """As the sweeping run's timeline records it."""
        return {
            "folder": self.staging.name,
            "outcome": self.outcome.value,
            "sealed_as": None if self.sealed_as is None else self.sealed_as.name,
            "detail": self.detail,
            **({"timestamp_missing": self.timestamp_error} if self.timestamp_error else {}),
        }


def find_unsealed(results: Path) -> list[Path]:
    """Every staging folder under ``results`` (``<drill>/.<stamp>-<id>.partial``), sorted."""
    if not results.is_dir():
        return []
    found = []
    for drill in sorted(results.iterdir()):
        if drill.is_symlink() or not drill.is_dir():
            continue
        for entry in sorted(drill.iterdir()):
            if run_name_of(entry) and not entry.is_symlink() and entry.is_dir():
                found.append(entry)
    return found


def seal_dead_runs(
    results: Path, *, sealed_by: str, signer: Signer | None = None, tsa_url: str | None = None
) -> list[SweptRun]:
    """Seal every unsealed run under ``results`` whose harness is gone (timestamping each
    attestation at ``tsa_url`` when given); never raises for one folder (a failure is returned
    as such, and the folder stays unsealed for a later try)."""
    outcomes = []
    _remove_abandoned_creations(results)
    registered = _registered_run_ids()
    for staging in find_unsealed(results):
        name = run_name_of(staging)
        assert name is not None
        if name.rsplit("-", 1)[1] in registered or run_is_live(staging):
            outcomes.append(SweptRun(staging, SweepOutcome.ALIVE))
            continue
        try:
            final, missing = seal_interrupted(
                staging, sealed_by=sealed_by, signer=signer, tsa_url=tsa_url
            )
        except BlockingIOError:  # another sweeper took it first
            outcomes.append(SweptRun(staging, SweepOutcome.ALIVE, detail="being sealed"))
        except (OSError, GovdrillError) as exc:
            if not staging.exists():
                continue  # another sweeper sealed it between our look and our lock
            outcomes.append(SweptRun(staging, SweepOutcome.FAILED, detail=str(exc)))
        else:
            outcomes.append(
                SweptRun(staging, SweepOutcome.SEALED, sealed_as=final, timestamp_error=missing)
            )
    return outcomes


def seal_interrupted(
    staging: Path, *, sealed_by: str, signer: Signer | None = None, tsa_url: str | None = None
) -> tuple[Path, str]:
    """Seal the dead run in ``staging`` as interrupted (holding its lock throughout) and, with
    ``tsa_url``, timestamp its attestation before the rename, as a live run's is; returns the
    sealed folder and why it has no token ("" when it has one or none was asked for). Raises
    BlockingIOError when someone holds the lock."""
    from harness.export import RunRecord, junit_xml
    from harness.integrity import seal_run, stamp_attestation
    from harness.report import REPORT, write_report

    name = run_name_of(staging)
    if name is None:
        raise EvidenceError(f"{staging} is not a run's staging folder")
    final = staging.parent / name
    lock = RunLock.take(staging)
    try:
        if final.exists():
            raise EvidenceError(f"{final} already exists; {staging.name} left as it is")
        torn = _cut_torn_tail(staging)
        events = read_json_lines(staging / _TIMELINE)
        summary = _summary(staging, name, events, sealed_by=sealed_by, torn_bytes=torn)
        last = events[-1] if events else {}
        # The dead harness's monotonic clock cannot be read any more: the event carries the
        # last instant it recorded (when there is one) and the wall time of the seal.
        stamp = {k: last[k] for k in ("t_ns", "t_s") if last.get(k) is not None}
        _append_event(
            staging / _TIMELINE,
            {
                **stamp,
                "wall": _now(),
                "event": "sealed_after_death",
                "sealed_by": sealed_by,
                "last_event": last.get("event"),
                "torn_tail_bytes": torn,
                "note": "t_ns/t_s: the last instant the dead harness recorded",
            },
        )
        write_json(staging / "summary.json", summary.document())
        failures: list[ArtefactError] = [
            f
            for f in (
                attempt(
                    "junit.xml",
                    lambda: write_atomic(
                        staging / "junit.xml", junit_xml([RunRecord.read(staging, name)])
                    ),
                ),
                attempt(REPORT, lambda: write_report(staging)),
            )
            if f is not None
        ]
        if failures:
            summary = summary.with_changes(
                artefact_errors=[
                    ArtefactFailure(artefact=f.artefact, error=f.error, where=f.where)
                    for f in failures
                ]
            )
            write_json(staging / "summary.json", summary.document())
        seal_run(staging, run_name=name, signer=signer)
        missing = ""
        if tsa_url is not None:
            try:
                stamp_attestation(staging, tsa_url)
            except EvidenceError as exc:
                missing = str(exc)
        dir_fd = os.open(staging, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
        os.rename(staging, final)
    finally:
        lock.release()
    return final, missing


def _registered_run_ids() -> set[str]:
    """Run ids the registry of running drills lists as alive (a second opinion to the lock,
    for harnesses that predate it)."""
    from harness import runs
    from harness.errors import HarnessError

    try:
        return {r.run_id for r in runs.running()}
    except (OSError, HarnessError):  # an unsafe registry is no second opinion
        return set()


def _remove_abandoned_creations(results: Path) -> None:
    """Remove empty ``.creating`` folders of harnesses that died before their run began."""
    if not results.is_dir():
        return
    for drill in results.iterdir():
        if drill.is_symlink() or not drill.is_dir():
            continue
        for entry in drill.glob(f".*{_CREATING_SUFFIX}"):
            if entry.is_symlink() or not entry.is_dir() or run_is_live(entry):
                continue
            with contextlib.suppress(OSError):
                entry.rmdir()  # only ever empty; a folder with content is left alone


def _cut_torn_tail(staging: Path) -> int:
    """Move a last timeline line cut off mid-write aside; returns its length in bytes."""
    path = staging / _TIMELINE
    if not path.is_file():
        return 0
    data = path.read_bytes()
    if not data or data.endswith(b"\n"):
        return 0
    keep = data.rfind(b"\n") + 1
    write_atomic(staging / _TORN_TAIL, data[keep:])
    os.truncate(path, keep)
    return len(data) - keep


def _append_event(path: Path, event: dict[str, Any]) -> None:
    """Chain one line onto the journal at ``path`` (made when missing)."""
    head = verify_chain(path).head if path.is_file() else GENESIS
    line = json.dumps({**event, "prev_sha256": head}, default=str)
    with path.open("a", encoding="utf-8") as f:
        f.write(line + "\n")
        f.flush()
        os.fsync(f.fileno())


def _summary(
    staging: Path, name: str, events: list[dict[str, Any]], *, sealed_by: str, torn_bytes: int
) -> RunSummary:
    """What the dead run holds, as a summary with the verdict ``interrupted``."""
    try:
        before: RunSummary | None = read_summary(staging)
    except SummaryError:  # none written, torn, or not a run's: nothing vouched for it anyway
        before = None
    started = next((e for e in events if e.get("event") == "run_started"), {})
    drill_doc = _read_yaml(staging / "drill.yaml")
    run_id = name.rsplit("-", 1)[1]
    target = drill_doc.get("target")
    summary = RunSummary(
        drill=_text(drill_doc.get("drill")) or staging.parent.name,
        run_id=run_id,
        target=_text(started.get("target"))
        or _text(target.get("target") if isinstance(target, dict) else target),
        sandbox=_text(started.get("sandbox")) or _text(drill_doc.get("sandbox")),
        verdict=RunVerdict.INTERRUPTED,
        deadlines=JudgedDeadlines(),
        metrics=MeasuredMetrics(),
        rung_used=None,
        resurrected=None,
        ground_truth=None,
        versions=Versions(
            govdrill=_text(started.get("govdrill")),
            python=_text(started.get("python")),
            platform=platform.platform(),
        ),
        clock=CLOCK,
        zero_ns=_integer(started.get("zero_ns")),
        observations=None,
    )
    if before is not None:
        kept = {k: getattr(before, k) for k in before.model_fields_set - {"sealed_after_death"}}
        summary = summary.with_changes(**kept)
    last = events[-1] if events else {}
    previous = None if before is None else before.sealed_after_death
    return summary.with_changes(
        run_id=run_id,
        verdict=RunVerdict.INTERRUPTED,
        interrupted_by="harness_died",
        sealed_after_death=previous
        or SealedAfterDeath(
            sealed_by=sealed_by,
            at=_now(),
            govdrill=__version__,
            python=sys.version.split()[0],
            last_event=_text(last.get("event")),
            last_t_s=_number(last.get("t_s")),
            verdict_before_seal=None if before is None else before.verdict,
            torn_tail_bytes=torn_bytes,
            observations_file=(staging / "observations.csv.gz").is_file(),
        ),
    )


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _integer(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        value = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return {}
    return value if isinstance(value, dict) else {}


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="milliseconds")
