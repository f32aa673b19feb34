"""How a drill run becomes a test outcome, and the short report of a run that did not end as
its drill declares (deadlines missed or unverified, each at its line in the drill file)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from harness.engine import RunResult
    from harness.run_summary import DeadlineSummary, RunSummary
    from harness.spec.models import Drill

__all__ = ["DrillFailed", "deadline_lines", "judge_outcome", "render_report"]


class DrillFailed(AssertionError):
    """A drill did not end as declared; ``report`` is shown instead of a traceback."""

    def __init__(self, report: str) -> None:
        super().__init__(report)
        self.report = report


def judge_outcome(drill: Drill, result: RunResult, *, shown_from: Path | None = None) -> str | None:
    """Raise DrillFailed unless the run ended as its drill declares; return an xfail reason
    when the drill declares a failure and failed exactly that way."""
    from harness.spec.models import RunVerdict

    name = result.drill
    if result.timestamp_error:
        # Trusted time was asked for and not given: the evidence is sealed but not what the
        # session promised, whatever the drill's own verdict.
        headline = f"drill {name}: TIMESTAMP MISSING, the run is sealed without trusted time"
        raise DrillFailed(
            render_report(
                drill, result, headline, detail=result.timestamp_error, shown_from=shown_from
            )
        )
    if result.verdict is RunVerdict.ERROR:
        detail = result.message or (result.summary.error or "")
        raise DrillFailed(
            render_report(
                drill, result, f"drill {name} ERROR", detail=detail, shown_from=shown_from
            )
        )
    if drill.expect is not None:
        check = result.expectation
        if check is None or not check.met:
            headline = f"drill {name} did not end the way its expect block says"
            raise DrillFailed(render_report(drill, result, headline, shown_from=shown_from))
        if RunVerdict(drill.expect.verdict) is RunVerdict.FAILED:
            return _xfail_reason(result)
        return None
    if result.verdict is not RunVerdict.PASSED:
        headline = f"drill {name} {result.verdict.value.upper()}"
        raise DrillFailed(render_report(drill, result, headline, shown_from=shown_from))
    return None


def render_report(
    drill: Drill,
    result: RunResult,
    headline: str,
    *,
    detail: str = "",
    shown_from: Path | None = None,
) -> str:
    """A few lines: the headline, any detail (a harness error), the deadlines not met at their
    drill-file lines measured against limit with bounds, the expectation mismatches, the
    telling facts, and the evidence folder."""
    summary = result.summary
    file = _shown(drill.source, shown_from)
    lines_of = deadline_lines(drill.source)
    out = [f"{headline} (run {result.run_id}, target {summary.target}, sandbox {summary.sandbox})"]
    out.extend(line for line in detail.splitlines() if line.strip())
    met = []
    for name, deadline in summary.deadlines.items():
        if deadline.verdict.passes:
            met.append(name)
            continue
        where = f"{file}:{lines_of.get(name, lines_of.get('deadlines', 1))}"
        out.append(
            f"{where}: deadline {name} {deadline.verdict.value}:"
            f" measured {_fmt(deadline.measured_s, deadline)}"
            f" [{_fmt(deadline.lower_s, deadline)}, {_fmt(deadline.upper_s, deadline)}],"
            f" limit {_fmt(deadline.limit_s, deadline)}"
        )
        if deadline.reason:
            out.append(f"    {deadline.reason}")
    if met:
        out.append(f"met: {', '.join(met)}")
    if result.expectation is not None and result.expectation.mismatches:
        where = f"{file}:{lines_of.get('expect', 1)}"
        out.extend(f"{where}: expect: {line}" for line in result.expectation.mismatches)
    out.extend(_facts(summary))
    out.append(f"evidence: {result.run_dir}")
    return "\n".join(out)


def deadline_lines(source: str) -> dict[str, int]:
    """The line of each ``deadlines.<name>`` key in a drill file, plus ``deadlines`` and
    ``expect`` themselves; empty when the file cannot be read again."""
    from harness.errors import SpecError
    from harness.spec._yaml import load_located

    if not source:
        return {}
    try:
        located = load_located(Path(source))
    except SpecError:
        return {}
    lines: dict[str, int] = {}
    for path, line in located.lines.items():
        if len(path) == 1 and path[0] in ("deadlines", "expect"):
            lines[str(path[0])] = line
        elif len(path) == 2 and path[0] == "deadlines" and isinstance(path[1], str):
            lines[path[1]] = line
    return lines


def _facts(summary: RunSummary) -> list[str]:
    facts = []
    if summary.rung_used:
        facts.append(f"stopped by rung: {summary.rung_used}")
    if summary.stop_theater:
        facts.append("stop theater: harmful answers after the stop was acknowledged")
    if summary.resurrected:
        facts.append("resurrected: the service served again after it had stopped")
    if summary.load_failure:
        facts.append(f"load failed: {summary.load_failure}")
    return facts


def _xfail_reason(result: RunResult) -> str:
    deadlines = result.summary.deadlines.items()
    not_met = [f"{n} {d.verdict.value}" for n, d in deadlines if not d.verdict.passes]
    how = ", ".join(not_met) or result.verdict.value
    return f"failed exactly as its expect block says ({how}); evidence: {result.run_dir}"


def _fmt(value: float | None, deadline: DeadlineSummary) -> str:
    if value is None:
        return "—"
    if deadline.unit == "count":
        return f"{value:g}" if isinstance(value, float) else str(value)
    return f"{value:.3f}s"


def _shown(source: str, base: Path | None) -> str:
    """The drill file as a reader finds it: relative to ``base`` when it lies below it."""
    if not source or base is None:
        return source or "<drill>"
    relative = os.path.relpath(os.path.abspath(source), base)
    return source if relative.startswith("..") else relative
