"""Coverage over a period: which control paths of each target and which rungs of each
ladder the included runs exercised, which they never did, and how each defect drill fares.

The target's control paths come from each run's own ``drill.yaml`` (the drill as run, its
target inline), so coverage is judged against what the evidence records, not against
today's target file. A path counts as exercised when a run issued a call on it: climbed as a
rung of a stop ladder, or called for a rollback, a resume or a complaint, or used by an
operator. Named in a ladder but never reached is not exercised.
"""

from __future__ import annotations

import enum
from collections import Counter
from dataclasses import dataclass

from harness.pack._collect import PackRun
from harness.spec.models import Action, RungOutcome, RunVerdict

__all__ = [
    "CoverageStatus",
    "DefectDrill",
    "DefectStatus",
    "LadderRung",
    "PathCoverage",
    "TargetCoverage",
    "coverage",
    "defect_drills",
]


class CoverageStatus(enum.StrEnum):
    """How far the period exercised one control path."""

    STOPPED = "stopped the service"
    CLIMBED = "climbed, never the rung that stopped it"
    USED = "used for other actions only"
    NOT_REACHED = "in a ladder, never reached"
    NEVER = "never exercised"

    @property
    def exercised(self) -> bool:
        """Whether a run issued a call on the path."""
        return self in (CoverageStatus.STOPPED, CoverageStatus.CLIMBED, CoverageStatus.USED)


@dataclass(frozen=True, slots=True)
class PathCoverage:
    """One control path of a target over the period (counts are runs)."""

    name: str
    description: str
    climbed: int
    stopped: int
    outcomes: tuple[str, ...]
    """The rung outcomes seen when it was climbed, sorted."""
    other_uses: tuple[tuple[str, int], ...]
    """(action, runs) for rollback, resume, contest and operator use."""
    not_reached: int

    @property
    def status(self) -> CoverageStatus:
        """The path's coverage in one word."""
        if self.stopped:
            return CoverageStatus.STOPPED
        if self.climbed:
            return CoverageStatus.CLIMBED
        if self.other_uses:
            return CoverageStatus.USED
        if self.not_reached:
            return CoverageStatus.NOT_REACHED
        return CoverageStatus.NEVER


@dataclass(frozen=True, slots=True)
class LadderRung:
    """One rung of one drill's stop ladder: in how many of its runs it was climbed."""

    drill: str
    position: int
    name: str
    runs: int
    climbed: int
    stopped: int


@dataclass(frozen=True, slots=True)
class TargetCoverage:
    """One target's control paths and its drills' ladders over the period."""

    target: str
    runs: int
    paths: tuple[PathCoverage, ...]
    rungs: tuple[LadderRung, ...]
    unknown_runs: tuple[str, ...]
    """Folders of runs whose drill.yaml did not load: their paths are not counted."""
    sandboxes: tuple[str, ...]
    """The sandboxes the runs used: a path of another kind could not be exercised."""

    @property
    def exercised(self) -> int:
        """How many of the target's paths were exercised."""
        return sum(1 for p in self.paths if p.status.exercised)


class DefectStatus(enum.StrEnum):
    """What the latest run of a drill against a known defect says."""

    CAUGHT = "caught: failed exactly as expected"
    NOT_AS_EXPECTED = "not as expected"
    MISSED = "missed: passed against a defective target"
    NO_EXPECTATION = "its latest run had no expect: block"


@dataclass(frozen=True, slots=True)
class DefectDrill:
    """A drill against a known-defective target, and its latest run's status."""

    drill: str
    defect: str
    runs: int
    caught: int
    latest: PackRun
    status: DefectStatus
    detail: str


def coverage(runs: tuple[PackRun, ...]) -> tuple[TargetCoverage, ...]:
    """Each target's coverage over ``runs``, targets and paths in name order."""
    by_target: dict[str, list[PackRun]] = {}
    for run in runs:
        by_target.setdefault(run.summary.target or "(unknown)", []).append(run)
    return tuple(_target(name, by_target[name]) for name in sorted(by_target))


def _target(name: str, runs: list[PackRun]) -> TargetCoverage:
    described: dict[str, str] = {}
    climbed: Counter[str] = Counter()
    stopped: Counter[str] = Counter()
    outcomes: dict[str, set[str]] = {}
    others: dict[str, Counter[str]] = {}
    not_reached: Counter[str] = Counter()
    ladders: dict[tuple[str, int, str], list[int]] = {}
    unknown = []
    for run in runs:
        drill = run.drill
        if drill is None:
            unknown.append(run.folder)
            continue
        for path, spec in drill.target.control_paths.items():
            described.setdefault(path, spec.description or "")
        climbed_here = {
            r.name
            for r in run.summary.rungs
            if r.outcome is not RungOutcome.NOT_REACHED and r.issued_t_s is not None
        }
        for name in climbed_here:
            climbed[name] += 1
        for climb in run.summary.rungs:
            if climb.name in climbed_here:
                outcomes.setdefault(climb.name, set()).add(climb.outcome.value)
        if run.summary.rung_used:
            stopped[run.summary.rung_used] += 1
        for action, path in _other_calls(run):
            others.setdefault(path, Counter())[action] += 1
        laddered = {rung for step in drill.steps for rung in step.ladder}
        for rung in laddered - climbed_here:
            not_reached[rung] += 1
        for step in drill.steps:
            for position, rung in enumerate(step.ladder, 1):
                seen = ladders.setdefault((run.summary.drill, position, rung), [0, 0, 0])
                seen[0] += 1
                seen[1] += rung in climbed_here
                seen[2] += rung == run.summary.rung_used
    names = sorted(set(described) | set(climbed) | set(others))
    paths = tuple(
        PathCoverage(
            name=path,
            description=described.get(path, ""),
            climbed=climbed[path],
            stopped=stopped[path],
            outcomes=tuple(sorted(outcomes.get(path, ()))),
            other_uses=tuple(sorted(others.get(path, Counter()).items())),
            not_reached=not_reached[path],
        )
        for path in names
    )
    rungs = tuple(
        LadderRung(drill, position, rung, *counts)
        for (drill, position, rung), counts in sorted(ladders.items())
    )
    sandboxes = tuple(sorted({r.summary.sandbox for r in runs if r.summary.sandbox}))
    return TargetCoverage(name, len(runs), paths, rungs, tuple(unknown), sandboxes)


def _other_calls(run: PackRun) -> list[tuple[str, str]]:
    """(action, control path) of each rollback, resume and complaint step that fired, and
    the path an operator used."""
    drill = run.drill
    assert drill is not None
    calls: list[tuple[str, str]] = []
    fired = run.summary.steps
    # The summary lists the drill's steps in the drill's order, one each.
    if len(fired) == len(drill.steps):
        for spec, step in zip(drill.steps, fired, strict=True):
            if step.fired_t_s is None:
                continue
            if step.action in (Action.ROLLBACK, Action.RESUME, Action.CONTEST):
                calls.extend((step.action.value, path) for path in spec.control_paths())
    clock = run.summary.human_clock
    if clock is not None and clock.via:
        calls.append(("operator", clock.via))
    return sorted(set(calls))


def defect_drills(runs: tuple[PackRun, ...]) -> tuple[DefectDrill, ...]:
    """Each defect drill (a drill with an ``expect:`` block: a regression drill against a
    known-defective target, which must keep failing exactly so), with the status of its
    latest run in the period."""
    by_drill: dict[str, list[PackRun]] = {}
    for run in runs:
        if run.summary.expectation is not None:
            by_drill.setdefault(run.summary.drill, []).append(run)
    found = []
    for drill in sorted(by_drill):
        history = by_drill[drill]
        latest = history[-1]
        status, detail = _defect_status(latest)
        caught = sum(1 for r in history if _defect_status(r)[0] is DefectStatus.CAUGHT)
        found.append(
            DefectDrill(drill, _defect(latest), len(history), caught, latest, status, detail)
        )
    return tuple(found)


def _defect(run: PackRun) -> str:
    """The defect the target was started with (``--defect NAME``), when its arguments say."""
    args = list(run.summary.target_args)
    for i, arg in enumerate(args):
        if arg == "--defect" and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith("--defect="):
            return arg.partition("=")[2]
    return "(not named in its target arguments)"


def _defect_status(run: PackRun) -> tuple[DefectStatus, str]:
    summary = run.summary
    if summary.expectation is not None:
        if summary.expectation.met:
            return DefectStatus.CAUGHT, f"verdict {summary.verdict.value}, as its expect: says"
        if summary.verdict is RunVerdict.PASSED:
            return DefectStatus.MISSED, "every deadline met against the defective target"
        return DefectStatus.NOT_AS_EXPECTED, "; ".join(summary.expectation.mismatches)
    return DefectStatus.NO_EXPECTATION, f"verdict {summary.verdict.value}"
