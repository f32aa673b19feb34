"""The period a pack covers: ``--since`` and ``--until``, both inclusive, in UTC.

A bare date means the whole day (``--until 2026-09-30`` takes runs started up to
23:59:59 that day); a date and time is taken to the second, UTC unless it names its offset.
Run start times have whole-second resolution (the ``<stamp>`` of a run folder's name), so an
inclusive second is exact.
"""

from __future__ import annotations

import datetime as _dt
import re
from dataclasses import dataclass

from harness.errors import Problem, SpecError

__all__ = ["Period", "format_utc", "parse_period", "run_stamp"]

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_STAMP = re.compile(r"(\d{8}T\d{6}Z)-([A-Za-z0-9][A-Za-z0-9_-]{0,63})")
"""A sealed run's name: ``<UTC stamp>-<run id>`` (harness.engine writes it)."""


@dataclass(frozen=True, slots=True)
class Period:
    """From ``since`` to ``until``, both inclusive, both aware UTC instants."""

    since: _dt.datetime
    until: _dt.datetime

    def contains(self, when: _dt.datetime) -> bool:
        """Whether the instant ``when`` lies in the period."""
        return self.since <= when <= self.until

    def document(self) -> dict[str, str]:
        """The period as the pack manifest records it."""
        return {"since": format_utc(self.since), "until": format_utc(self.until)}


def format_utc(when: _dt.datetime) -> str:
    """An instant as ``2026-07-01T00:00:00Z``."""
    return when.astimezone(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_period(since: str, until: str) -> Period:
    """The period from the two command-line values; SpecError (exit 2) naming the option."""
    problems: list[Problem] = []
    start = _instant(since, "--since", end_of_day=False, problems=problems)
    end = _instant(until, "--until", end_of_day=True, problems=problems)
    if start is not None and end is not None and start > end:
        problems.append(
            Problem("command line", None, "--since", f"{since!r} is after --until {until!r}")
        )
    if problems or start is None or end is None:
        raise SpecError(problems)
    return Period(start, end)


def _instant(
    text: str, option: str, *, end_of_day: bool, problems: list[Problem]
) -> _dt.datetime | None:
    text = text.strip()
    try:
        if _DATE.fullmatch(text):
            day = _dt.date.fromisoformat(text)
            clock = _dt.time(23, 59, 59) if end_of_day else _dt.time(0, 0, 0)
            return _dt.datetime.combine(day, clock, tzinfo=_dt.UTC)
        when = _dt.datetime.fromisoformat(text)
    except ValueError:
        problems.append(
            Problem(
                "command line", None, option,
                f"{text!r} is not a date (YYYY-MM-DD) or a date and time"
                " (YYYY-MM-DDTHH:MM:SS, UTC unless an offset is given)",
                value=text,
            )
        )  # fmt: skip
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=_dt.UTC)
    return when.astimezone(_dt.UTC).replace(microsecond=0)


def run_stamp(name: str) -> tuple[_dt.datetime, str] | None:
    """(start instant, run id) from a sealed run's name, or None when it is not one."""
    found = _STAMP.fullmatch(name)
    if found is None:
        return None
    try:
        when = _dt.datetime.strptime(found.group(1), "%Y%m%dT%H%M%SZ").replace(tzinfo=_dt.UTC)
    except ValueError:
        return None
    return when, found.group(2)
