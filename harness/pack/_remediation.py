"""Failures and their fix: each failed run of a drill linked to the first later run of the
same drill that succeeded, and the time between them (the time to remediate).

A run succeeds as ``RunSummary.ok`` says: passed, or failed exactly as its ``expect:``
block says. Times are between the runs' recorded starts, so they are as trustworthy as those
starts (self-asserted unless timestamped).
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.pack._collect import PackRun

__all__ = ["Remediation", "format_span", "remediations"]


@dataclass(frozen=True, slots=True)
class Remediation:
    """One failed run and the first later success of its drill (None: not fixed in the
    period)."""

    failed: PackRun
    fixed_by: PackRun | None

    @property
    def seconds(self) -> float | None:
        """From the failed run's start to the fixing run's start."""
        if self.fixed_by is None:
            return None
        return (self.fixed_by.started - self.failed.started).total_seconds()


def remediations(runs: tuple[PackRun, ...]) -> tuple[Remediation, ...]:
    """Every failed run of ``runs`` (oldest first, as included) with its fix."""
    found = []
    for i, run in enumerate(runs):
        if run.summary.ok:
            continue
        fix = next(
            (
                later
                for later in runs[i + 1 :]
                if later.summary.drill == run.summary.drill and later.summary.ok
            ),
            None,
        )
        found.append(Remediation(run, fix))
    return tuple(found)


def format_span(seconds: float) -> str:
    """A time to remediate in the largest fitting units: ``13 d 2 h``, ``4 h 5 min``,
    ``3 min 20 s``."""
    whole = round(seconds)
    days, rest = divmod(whole, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min {secs} s"
    return f"{secs} s"
