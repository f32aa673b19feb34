"""A small run folder written by hand, with markup in every field the report prints.

The summary has every key the report reads; :func:`poisoned` puts a payload into every string
of it, and into the numbers the page only prints (a summary.json is a file anyone can edit
before ``govdrill report`` is run on it). Numbers the report computes with stay numbers.
"""

from __future__ import annotations

import gzip
import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"
PAYLOAD = f'{SCRIPT}{IMG}"\'><a href="javascript:alert(1)">x</a>'

_PRINTED_NUMBERS = {"limit_s", "measured_s", "observations", "stop_error_s", "took_ms"}
"""Numbers the page only prints: they may be replaced by the payload too."""

_COMPUTED = {"zero_ns", "fired_t_s", "issued_t_s", "stop_claimed_ns", "lower_s", "upper_s",
             "value", "lower", "upper", "t_s", "started_t_s", "events", "file_bytes",
             "bytes_read", "bytes_left_out", "unreadable_lines"}  # fmt: skip
"""Numbers the report computes with (the pictures' instants): kept numbers."""


def summary() -> dict[str, Any]:
    """A summary with every key the report reads, as a run with a stop and a rollback has."""
    metric = {"value": 0.04, "lower": 0.0, "upper": 0.08, "unit": "s"}
    return {
        "drill": "markup", "run_id": "0badc0de", "target": "markup", "sandbox": "process",
        "verdict": "failed",
        "incident_not_injected": [
            {"step": "inject", "incident": "harmful_output", "outcome": "failed", "detail": "no"}
        ],
        "deadlines": {"stop": {"limit_s": 2.0, "measured_s": 0.04, "lower_s": 0.0,
                               "upper_s": 0.08, "unit": "s", "verdict": "met", "reason": "ok"}},
        "metrics": {"time_to_detect": dict(metric), "time_to_ack": dict(metric),
                    "time_to_stop": dict(metric), "time_in_harm": dict(metric),
                    "rollback_time": dict(metric),
                    "harmful_after_ack": {"value": 0, "lower": 0, "upper": 5, "unit": "count"}},
        "rung_used": "admin_api", "resurrected": False, "stop_theater": False,
        "ground_truth": {"stop_claimed_ns": 1_050_000_000, "stop_within_bounds": True,
                         "stop_error_s": 0.01, "rollback_claimed_ns": None,
                         "rollback_within_bounds": None, "rollback_error_s": None,
                         "log_trustworthy": False, "reasons": ["a reason"]},
        "versions": {"govdrill": "0.1.0", "python": "3.11", "platform": "linux"},
        "clock": "host CLOCK_MONOTONIC", "zero_ns": 0, "observations": 4,
        "error": "an error", "load_failure": "a load failure", "interrupted_by_signal": 15,
        "target_events": {"events": 2, "file_bytes": 900, "bytes_read": 800,
                          "bytes_left_out": 100, "unreadable_lines": 1, "complete": False},
        "steps": [
            {"id": "inject", "action": "inject", "phase": "done", "fired_t_s": 0.5,
             "settled_t_s": 0.51, "outcome": "acked", "detail": "HTTP 200"},
            {"id": "stop", "action": "stop", "phase": "done", "fired_t_s": 1.0,
             "settled_t_s": 1.1, "outcome": None, "detail": ""},
            {"id": "rollback", "action": "rollback", "phase": "done", "fired_t_s": 1.5,
             "settled_t_s": 1.51, "outcome": "acked", "detail": "HTTP 200"},
        ],
        "rungs": [{"name": "admin_api", "issued_t_s": 1.0, "returned_t_s": 1.01,
                   "outcome": "acked", "detail": "HTTP 200"}],
        "teardown": {"way": "terminated", "exit_code": -15, "detail": "teardown",
                     "leftovers_killed": []},
    }  # fmt: skip


_ENUMS = {"verdict", "outcome", "unit", "action", "phase", "way"}
"""Keys the typed summary holds as enums: a payload there makes the file not a run's."""


def poisoned(value: Any, key: str = "", *, numbers: bool = False) -> Any:
    """``value`` with the payload appended to every free-text string (and, with ``numbers``,
    put in every printed number and enum, which the typed summary refuses)."""
    if isinstance(value, dict):
        return {k: poisoned(v, k, numbers=numbers) for k, v in value.items()}
    if isinstance(value, list):
        return [poisoned(v, key, numbers=numbers) for v in value]
    if isinstance(value, str):
        return value + PAYLOAD if numbers or key not in _ENUMS else value
    if numbers and (
        key in _PRINTED_NUMBERS
        or (isinstance(value, int | float) and not isinstance(value, bool) and key not in _COMPUTED)
    ):
        return PAYLOAD
    return value


def write_run(folder: Path, *, poison: bool, numbers: bool = False) -> Path:
    """A run folder the report can be drawn from (markup in every text when ``poison``;
    also in numbers and enums when ``numbers``)."""
    text = PAYLOAD if poison else "plain"
    folder.mkdir(parents=True)
    data = poisoned(summary(), numbers=numbers) if poison else summary()
    (folder / "summary.json").write_text(json.dumps(data), encoding="utf-8")
    (folder / "drill.yaml").write_text(json.dumps({"description": text}), encoding="utf-8")
    (folder / "timeline.jsonl").write_text(
        json.dumps({"t_s": 0.0, "wall": text, "event": "run_started"}) + "\n"
        + json.dumps({"t_s": 1.5, "event": "rollback_issued"}) + "\n"
        + json.dumps({"t_s": 1.6, "event": "snapshot_taken"}) + "\n",
        encoding="utf-8",
    )  # fmt: skip
    (folder / "target.events.jsonl").write_text(
        json.dumps({"t_ns": 900_000_000, "event": text, text: text}) + "\n"
        + json.dumps({"t_ns": 1_050_000_000, "event": "stop_effective", "note": text}) + "\n",
        encoding="utf-8",
    )  # fmt: skip
    rows = ["# times in microseconds", "start_us,end_us,status,state,harmful,version"]
    for i in range(40):
        version = f"v1{text}" if i < 20 else f"v2{text}"
        state = 0 if i < 25 else 1
        rows.append(f"{i * 50_000},{i * 50_000 + 9000},200,{state},{int(10 <= i < 22)},{version}")
    with gzip.open(folder / "observations.csv.gz", "wt", encoding="utf-8") as out:
        out.write("\n".join(rows) + "\n")
    snap = folder / "snapshots" / "before-rollback"
    snap.mkdir(parents=True)
    (snap / "snapshot.json").write_text(
        json.dumps({"started_t_s": 1.6, "took_ms": 3.0 if not poison else PAYLOAD,
                    "status_outcome": text, "files": [text, "status.json"]}),
        encoding="utf-8",
    )  # fmt: skip
    (snap / "status.json").write_text(json.dumps({"state": text}), encoding="utf-8")
    (snap / "load-view.json").write_text(json.dumps({"versions": [text]}), encoding="utf-8")
    return folder


class PageShape(HTMLParser):
    """What a page is made of: its tag and attribute names, and anything that would run."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: set[str] = set()
        self.attributes: set[tuple[str, str]] = set()
        self.live: list[str] = []
        self.text: list[str] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """Collect the element and its attribute names; note anything that could run."""
        self.tags.add(tag)
        if tag in ("script", "iframe", "object", "embed", "base", "link", "frame"):
            self.live.append(f"<{tag}>")
        for name, value in attrs:
            self.attributes.add((tag, name))
            if name.startswith("on"):
                self.live.append(f"<{tag} {name}>")
            # A URL attribute runs code when its value starts with javascript: (browsers
            # skip leading blanks and control characters); in any other text it is only text.
            if value and re.sub(r"[\x00-\x20]", "", value).lower().startswith("javascript:"):
                self.live.append(f"<{tag} {name}={value!r}>")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """A self-closing element counts as an element."""
        self.handle_starttag(tag, attrs)

    def handle_data(self, data: str) -> None:
        """The page's text, as a reader sees it."""
        self.text.append(data)
