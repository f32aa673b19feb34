"""Gather a period's runs from a results folder: verify each, and sort them into the runs the
pack includes and the folders it lists as excluded, each with its reason.

Nothing in a results folder stops the pack: a folder that is not a run, a run that does not
verify, one never sealed, one unsigned, or one whose run id another folder also holds is
listed with why, never dropped and never fatal. A run's start is the instant in the name it
was sealed under (``<UTC stamp>-<run id>``, signed in its attestation); it is self-asserted
by the machine that ran it unless a verified RFC 3161 timestamp stands beside it.

Duplicates: when two or more folders that each verify carry one run id, every one of them is
excluded. The pack never picks a copy (a copy kept under the right name verifies as well as
the original); whoever prepares the pack removes the copies that should not count and packs
again. A folder that does not verify is excluded for its own reason and does not disqualify
the one intact run holding that id.
"""

from __future__ import annotations

import datetime as _dt
import enum
import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from harness.errors import EvidenceError, GovdrillError, SummaryError
from harness.integrity import (
    ENVELOPE,
    MANIFEST,
    TIMESTAMP_FILE,
    FindingKind,
    TrustedKey,
    VerifyReport,
    verify_run,
)
from harness.pack._period import Period, run_stamp
from harness.run_names import run_name_of
from harness.run_summary import RunSummary, read_summary
from harness.spec.models import Drill

__all__ = ["Collection", "Excluded", "ExclusionReason", "PackRun", "collect_period"]

_MAX_DEPTH = 3
"""results/<drill>/<run> is the layout; one more level allows a folder of results folders."""
_RUN_FILES = ("summary.json", MANIFEST)
_DETAILS_SHOWN = 3
CORROBORATION_WINDOW = _dt.timedelta(hours=1)
"""A timestamp corroborates a run's recorded start when it is no earlier than the start and
no more than this after it (a run is sealed, and so timestamped, when it ends)."""


class ExclusionReason(enum.StrEnum):
    """Why a folder in the period is not part of the pack."""

    TAMPERED = "tampered"
    """A file changed, added or removed since sealing, or the timeline's chain broke."""
    NOT_BOUND = "not bound to its folder"
    """Its name or run id is not the one it was sealed with (a copy under another name)."""
    SIGNATURE = "signature refused"
    UNTRUSTED_KEY = "key not trusted"
    """Signed by a key the trust file does not list, or not at the run's time."""
    TIMESTAMP = "timestamp refused"
    """Its RFC 3161 token does not hold, or the run claims a start after the TSA's time."""
    UNSIGNED = "unsigned"
    """Intact, but nothing proves who made it."""
    UNSEALED = "unsealed"
    """A staging folder: an interrupted run, or one still running."""
    DUPLICATED = "duplicated run id"
    UNREADABLE = "not a readable run"


@dataclass(frozen=True, slots=True)
class PackRun:
    """One verified run the pack includes."""

    folder: str
    """Its path under the results folder (POSIX)."""
    run_id: str
    started: _dt.datetime
    """The self-asserted start (the stamp of the name it was sealed under)."""
    timestamp: _dt.datetime | None
    """The verified RFC 3161 time over its attestation, if any."""
    summary: RunSummary
    drill: Drill | None
    """The drill as run (its ``drill.yaml``, target included), when it still loads."""
    drill_problem: str | None
    manifest_sha256: str
    attestation_sha256: str
    key_id: str
    key_checked_with: str
    """What the signature was checked against: the run's own stored key or a trusted one."""
    authorized_by: str | None

    @property
    def start_source(self) -> str:
        """Where the run's start comes from, and whether a verified timestamp bears it out."""
        if self.timestamp is None:
            return "self-asserted"
        lag = self.timestamp - self.started
        if _dt.timedelta(0) <= lag <= CORROBORATION_WINDOW:
            return "corroborated by its timestamp"
        when = "before" if lag < _dt.timedelta(0) else "after"
        return f"not corroborated: timestamped {_span(abs(lag))} {when} its recorded start"


def _span(delta: _dt.timedelta) -> str:
    days, rest = divmod(int(delta.total_seconds()), 86_400)
    return f"{days} d {rest // 3600} h" if days else f"{rest // 3600} h {rest % 3600 // 60} min"


@dataclass(frozen=True, slots=True)
class Excluded:
    """One folder of the period that the pack does not include, and why."""

    folder: str
    reason: ExclusionReason
    detail: str
    run_id: str | None
    drill: str | None
    started: _dt.datetime | None
    """None: the folder carries no readable start, so it is listed whatever the period."""


@dataclass(frozen=True, slots=True)
class Collection:
    """The runs of one period: included (oldest first), excluded (by folder), and how many
    runs lay outside the period."""

    included: tuple[PackRun, ...]
    excluded: tuple[Excluded, ...]
    outside: int


@dataclass(frozen=True, slots=True)
class _Options:
    trust: tuple[TrustedKey, ...] | None
    tsa_cert: Path | None


def collect_period(
    results: Path,
    period: Period,
    *,
    trust: tuple[TrustedKey, ...] | None = None,
    tsa_cert: Path | None = None,
) -> Collection:
    """Every run under ``results`` that started in ``period``, verified (signers judged by
    ``trust`` when given, timestamps checked against ``tsa_cert`` when given) and sorted."""
    if not results.is_dir():
        raise EvidenceError(f"{results} is not a results folder")
    options = _Options(trust, tsa_cert)
    kept: list[PackRun] = []
    excluded: list[Excluded] = []
    outside = 0
    for folder in _run_folders(results, results, 0):
        rel = folder.relative_to(results).as_posix()
        started = _claimed_start(folder)
        if started is not None and not period.contains(started):
            outside += 1
            continue
        judged = _judge(folder, rel, started, options)
        if isinstance(judged, PackRun):
            kept.append(judged)
        else:
            excluded.append(judged)
    included, duplicates = _without_duplicates(kept)
    excluded.extend(duplicates)
    included.sort(key=lambda r: (r.started, r.folder))
    excluded.sort(key=lambda e: (e.folder, e.reason.value))
    return Collection(tuple(included), tuple(excluded), outside)


def _run_folders(results: Path, folder: Path, depth: int) -> Iterator[Path]:
    """Run folders (sealed, staging or broken) under ``folder``, in name order; never into a
    run, never through a link (a linked run is a candidate itself: verify follows it once)."""
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError:
        return
    for entry in entries:
        path = Path(entry.path)
        try:
            is_dir = entry.is_dir(follow_symlinks=True)
        except OSError:
            is_dir = False
        if not is_dir:
            continue
        if _looks_like_run(path) or entry.is_symlink():
            if _looks_like_run(path):
                yield path
            continue
        if depth + 1 < _MAX_DEPTH:
            yield from _run_folders(results, path, depth + 1)


def _looks_like_run(path: Path) -> bool:
    if run_stamp(path.name) is not None or run_name_of(path) is not None:
        return True
    return any((path / name).is_file() for name in _RUN_FILES)


def _claimed_start(folder: Path) -> _dt.datetime | None:
    """The start the run claims: the stamp of the name its manifest says it was sealed under,
    else of its folder's own name (staging folders included)."""
    name = run_name_of(folder) or folder.name
    try:
        manifest = json.loads((folder / MANIFEST).read_bytes())
        if isinstance(manifest, dict) and isinstance(manifest.get("run"), str):
            name = manifest["run"]
    except (OSError, ValueError):
        pass
    stamp = run_stamp(name)
    return None if stamp is None else stamp[0]


def _judge(
    folder: Path, rel: str, started: _dt.datetime | None, options: _Options
) -> PackRun | Excluded:
    """The folder verified: the run to include, or why it is excluded."""

    def excluded(
        reason: ExclusionReason, detail: str, summary: RunSummary | None = None
    ) -> Excluded:
        for where in (str(folder.resolve()), str(folder)):
            detail = detail.replace(where, rel)  # the pack names folders as the results do
        return Excluded(
            rel, reason, detail,
            None if summary is None else summary.run_id,
            None if summary is None else summary.drill,
            started,
        )  # fmt: skip

    try:
        report = _verify(folder, options)
    except GovdrillError as exc:
        return excluded(ExclusionReason.UNREADABLE, str(exc))
    except Exception as exc:  # a hostile manifest that trips the checker must not stop the pack
        return excluded(
            ExclusionReason.UNREADABLE, f"verification could not read it: {type(exc).__name__}"
        )
    if report.unsealed is not None:
        return excluded(ExclusionReason.UNSEALED, f"never sealed: {report.unsealed.value}")
    try:
        summary: RunSummary | None = read_summary(folder)
    except SummaryError as exc:
        summary, problem = None, str(exc)
    if report.findings:
        return excluded(_reason(report), _details(report), summary)
    if summary is None:
        return excluded(ExclusionReason.UNREADABLE, problem)
    if started is None:
        return excluded(ExclusionReason.UNREADABLE, "its name carries no start time", summary)
    if not report.signed or report.key_id is None:
        return excluded(
            ExclusionReason.UNSIGNED,
            "intact, but unsigned: nothing proves who made it",
            summary,
        )
    drill, drill_problem = _drill_as_run(folder)
    return PackRun(
        folder=rel,
        run_id=summary.run_id,
        started=started,
        timestamp=None if report.timestamp is None else report.timestamp.astimezone(_dt.UTC),
        summary=summary,
        drill=drill,
        drill_problem=drill_problem,
        manifest_sha256=_sha256(folder / MANIFEST),
        attestation_sha256=_sha256(folder / ENVELOPE),
        key_id=report.key_id,
        key_checked_with=_key_checked_with(report),
        authorized_by=report.authorized_by,
    )


def _key_checked_with(report: VerifyReport) -> str:
    """What vouched for the run's signing key."""
    key = report.trusted_key
    if key is None:
        return "the key stored in the run"
    return f"the trust file's {key.label()}, valid {key.window()}"


def _verify(folder: Path, options: _Options) -> VerifyReport:
    """``verify_run`` with the pack's trust settings. A run with no timestamp token is not
    refused for it (its start stays self-asserted, and the pack says so); a token there is
    checked against ``tsa_cert``."""
    token = os.path.lexists(folder / TIMESTAMP_FILE)
    return verify_run(folder, trust=options.trust, tsa_cert=options.tsa_cert if token else None)


_PRECEDENCE = (
    (FindingKind.BINDING, ExclusionReason.NOT_BOUND),
    (FindingKind.TIMESTAMP, ExclusionReason.TIMESTAMP),
    (FindingKind.SIGNATURE, ExclusionReason.SIGNATURE),
    (FindingKind.UNTRUSTED_KEY, ExclusionReason.UNTRUSTED_KEY),
)
_NOT_TAMPERING = {kind for kind, _ in _PRECEDENCE}


def _reason(report: VerifyReport) -> ExclusionReason:
    """The one reason a run with findings is excluded: a folder with no manifest is no run;
    else tampering first, as it is the gravest, then a run not bound to its folder, its
    timestamp, its signature, its key."""
    if any(f.kind is FindingKind.MISSING and f.path == MANIFEST for f in report.findings):
        return ExclusionReason.UNREADABLE  # never sealed as a run: not "tampered"
    kinds = {f.kind for f in report.findings}
    if kinds - _NOT_TAMPERING:
        return ExclusionReason.TAMPERED
    for kind, reason in _PRECEDENCE:
        if kind in kinds:
            return reason
    return ExclusionReason.TAMPERED


def _details(report: VerifyReport) -> str:
    shown = [str(f) for f in report.findings[:_DETAILS_SHOWN]]
    more = len(report.findings) - len(shown)
    return "; ".join(shown) + (f" (and {more} more)" if more > 0 else "")


def _drill_as_run(folder: Path) -> tuple[Drill | None, str | None]:
    """The run's ``drill.yaml`` loaded as a drill (its target inline); a problem otherwise.
    The file is covered by the run's manifest, but it stays input to check like any other."""
    from harness.spec.loader import load_drill

    try:
        return load_drill(folder / "drill.yaml"), None
    except GovdrillError as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return None, f"its drill.yaml does not load: {first.replace(str(folder) + '/', '')}"
    except (OSError, ValueError) as exc:
        return None, f"its drill.yaml does not load: {type(exc).__name__}"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _without_duplicates(runs: list[PackRun]) -> tuple[list[PackRun], list[Excluded]]:
    by_id: dict[str, list[PackRun]] = {}
    for run in runs:
        by_id.setdefault(run.run_id, []).append(run)
    included: list[PackRun] = []
    duplicates: list[Excluded] = []
    for run_id, copies in by_id.items():
        if len(copies) == 1:
            included.extend(copies)
            continue
        same = len({c.manifest_sha256 for c in copies}) == 1
        kind = "identical evidence" if same else "different evidence"
        for copy in copies:
            others = ", ".join(sorted(c.folder for c in copies if c is not copy))
            duplicates.append(
                Excluded(
                    copy.folder, ExclusionReason.DUPLICATED,
                    f"run id {run_id} is also held by {others} ({kind}); the pack does not"
                    " choose a copy: remove the ones that should not count and pack again",
                    run_id, copy.summary.drill, copy.started,
                )
            )  # fmt: skip
    return included, duplicates
