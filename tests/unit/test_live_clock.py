"""The live view shows a wait on a person against its deadline: a countdown line in the plain
view at a low rate (every 10 s, not every status refresh) and a row in the rich view."""

from __future__ import annotations

import io

from rich.console import Console

from harness.engine import LiveStatus
from harness.live import PlainView, RichView


def _status(elapsed_s: float, clock: str) -> LiveStatus:
    return LiveStatus(elapsed_s, "stop", 10, 5.0, 3, "waiting on operator", clock)


def test_plain_view_prints_the_countdown_every_ten_seconds() -> None:
    """Status refreshes every 100 ms for 25 s print three countdown lines, none without one."""
    out = io.StringIO()
    view = PlainView(out)
    for i in range(250):
        view.status(_status(i / 10, f"operator: {60 - i // 10} s left of 60 s to stop"))
    view.status(_status(26.0, ""))
    lines = out.getvalue().splitlines()
    assert len(lines) == 3
    assert lines[0].endswith("operator: 60 s left of 60 s to stop")
    assert lines[1].endswith("operator: 50 s left of 60 s to stop")


def test_rich_view_has_a_clock_row() -> None:
    """The rich panel shows the clock as its own row while a person is awaited."""
    out = io.StringIO()
    view = RichView("d", console=Console(file=out, force_terminal=False, width=100))
    with view:
        view.status(_status(3.0, "operator: 57 s left of 60 s to stop"))
    assert "operator: 57 s left of 60 s to stop" in out.getvalue()
