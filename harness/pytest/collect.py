"""A drill file collected as one test item, loaded and checked at collection time."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from harness.pytest.settings import settings_of

if TYPE_CHECKING:
    from _pytest._code.code import TerminalRepr, TracebackStyle

    from harness.spec.models import Drill

__all__ = ["DrillFile", "DrillItem", "is_drill_file"]

_DRILL_KEY = re.compile(r"""^["']?drill["']?[ \t]*:""", re.MULTILINE)


def is_drill_file(path: Path) -> bool:
    """Whether a YAML file is a drill: its top-level mapping has a ``drill:`` key. A file that
    does not parse counts when a line starts with ``drill:``, so a broken drill still fails
    loudly at collection instead of being silently skipped."""
    from harness.errors import SpecError
    from harness.spec._yaml import load_located

    try:
        data = load_located(path).data
    except SpecError:
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return False
        return _DRILL_KEY.search(text) is not None
    return isinstance(data, dict) and "drill" in data


class DrillFile(pytest.File):
    """One drill file; a drill that does not load is a collection error naming file:line."""

    def collect(self) -> Iterator[DrillItem]:
        """Load the drill with the session's overrides and yield its one item."""
        from harness.errors import SpecError
        from harness.spec import load_drill

        settings = settings_of(self.config)
        try:
            drill = load_drill(
                self.path, overrides=settings.overrides_for(), targets_dirs=settings.targets
            )
        except SpecError as exc:
            raise self.CollectError(str(exc)) from None
        yield DrillItem.from_parent(self, name=drill.drill, drill=drill)


class DrillItem(pytest.Item):
    """One drill run as a test: passes when it passes, xfails when it fails exactly as its
    ``expect`` block says, and otherwise fails with a short report instead of a traceback."""

    def __init__(self, *, drill: Drill, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.drill = drill
        self.add_marker("drill")
        self.add_marker("slow")

    def runtest(self) -> None:
        """Run the drill for real and judge it against its deadlines or its ``expect``."""
        from harness.pytest.outcome import DrillFailed, judge_outcome, render_report
        from harness.pytest.runner import run_recorded, session_pool

        result = run_recorded(
            self.drill,
            settings_of(self.config),
            self.user_properties,
            session_pool(self.config),
        )
        root = self.config.rootpath
        xfail_reason = judge_outcome(self.drill, result, shown_from=root)
        if xfail_reason is None:
            return
        if self.config.getoption("runxfail"):
            # --runxfail turns pytest.xfail() into a no-op; report the failure itself instead.
            headline = f"drill {self.name} FAILED as its expect block says (--runxfail)"
            raise DrillFailed(render_report(self.drill, result, headline, shown_from=root))
        pytest.xfail(xfail_reason)

    def repr_failure(
        self,
        excinfo: pytest.ExceptionInfo[BaseException],
        style: TracebackStyle | None = None,
    ) -> str | TerminalRepr:
        """The short drill report for a drill that did not end as declared."""
        from harness.pytest.outcome import DrillFailed

        if isinstance(excinfo.value, DrillFailed):
            return excinfo.value.report
        return super().repr_failure(excinfo, style)

    def reportinfo(self) -> tuple[Path, int, str]:
        """Where the drill is, for pytest's reports."""
        return self.path, 0, f"drill: {self.name}"
