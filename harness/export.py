"""A run's result for other systems: JUnit XML for CI, Prometheus metrics for schedules.

``RunRecord`` is read from a run folder's own files (``summary.json``, ``timeline.jsonl``),
so the same exports can be made from any sealed run. Prometheus output goes to a file for
node-exporter's textfile collector (written atomically, as the collector requires) and,
optionally, to a Pushgateway; both through ``prometheus_client``.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.metrics import DeadlineVerdict
from harness.run_summary import HumanClock, RunSummary, read_summary
from harness.spec.models import RunVerdict

__all__ = [
    "RunRecord",
    "junit_xml",
    "prometheus_registry",
    "push_to_gateway",
    "write_textfile",
]

_TIMED_METRICS = (
    "time_to_detect",
    "time_to_ack",
    "time_to_stop",
    "time_in_harm",
    "rollback_time",
    "time_to_reversal",
)
_COUNT_METRICS = ("harmful_total", "harmful_after_stop_issued", "harmful_after_ack")


@dataclass(frozen=True, slots=True)
class RunRecord:
    """One run's result, as its folder tells it."""

    name: str
    summary: RunSummary
    duration_s: float
    started_wall: str

    @classmethod
    def read(cls, folder: Path, name: str | None = None) -> RunRecord:
        """Read the run in ``folder`` (``name`` overrides the folder's name, e.g. staging);
        SummaryError when its summary.json is not a run's."""
        summary = read_summary(folder)
        first: dict[str, Any] = {}
        last: dict[str, Any] = {}
        timeline = folder / "timeline.jsonl"
        if timeline.is_file():
            lines = timeline.read_text(encoding="utf-8").splitlines()
            if lines:
                first, last = json.loads(lines[0]), json.loads(lines[-1])
        return cls(
            name=name or folder.name,
            summary=summary,
            duration_s=float(last.get("t_s", 0.0)) - float(first.get("t_s", 0.0)),
            started_wall=str(first.get("wall", "")),
        )

    @property
    def drill(self) -> str:
        """The drill's name."""
        return self.summary.drill

    @property
    def ok(self) -> bool:
        """Whether the run counts as a success: passed, or failed exactly as expected."""
        return self.summary.ok

    @property
    def errored(self) -> bool:
        """Whether the harness itself failed (a JUnit error rather than a failure)."""
        return self.summary.verdict is RunVerdict.ERROR

    def problems(self) -> list[str]:
        """Why the run is not a success, one line each."""
        s = self.summary
        lines = [
            f"{name}: {d.verdict.value} ({d.reason})"
            for name, d in s.deadlines.items()
            if d.verdict != "met"
        ]
        if s.expectation is not None:
            lines = [f"unexpected: {m}" for m in s.expectation.mismatches]
        if s.error:
            lines.append(f"error: {s.error}")
        return lines or [f"verdict {s.verdict.value}"]


def junit_xml(records: Sequence[RunRecord]) -> bytes:
    """One JUnit testsuite with a testcase per run (failure: missed, unverified or error)."""
    failures = sum(1 for r in records if not r.ok and not r.errored)
    errors = sum(1 for r in records if not r.ok and r.errored)
    suite = ET.Element(
        "testsuite",
        name="govdrill",
        tests=str(len(records)),
        failures=str(failures),
        errors=str(errors),
        time=f"{sum(r.duration_s for r in records):.3f}",
    )
    for record in records:
        s = record.summary
        case = ET.SubElement(
            suite,
            "testcase",
            classname=f"govdrill.{record.drill}",
            name=f"{record.drill}[{s.run_id}]",
            time=f"{record.duration_s:.3f}",
        )
        props = ET.SubElement(case, "properties")
        identity = (
            ("run_id", s.run_id),
            ("target", s.target),
            ("sandbox", s.sandbox),
            ("verdict", s.verdict.value),
            ("rung_used", s.rung_used),
        )
        for key, value in identity:
            ET.SubElement(props, "property", name=key, value=str(value))
        ET.SubElement(props, "property", name="run", value=record.name)
        for name, d in s.deadlines.items():
            ET.SubElement(
                props,
                "property",
                name=f"deadline.{name}",
                value=f"{d.verdict.value} measured={d.measured_s}"
                f" bounds=[{d.lower_s}, {d.upper_s}] limit={d.limit_s}",
            )
        if not record.ok:
            tag = "error" if record.errored else "failure"
            problems = record.problems()
            bad = ET.SubElement(case, tag, message=problems[0], type=s.verdict.value)
            bad.text = "\n".join(problems)
        out = ET.SubElement(case, "system-out")
        document = s.document()
        keys = ["verdict", "deadlines", "rung_used", "resurrected"]
        if s.human_clock is not None:
            keys.append("human_clock")
        out.text = json.dumps({k: document.get(k) for k in keys}, indent=1)
    ET.indent(suite)
    data: bytes = ET.tostring(suite, encoding="utf-8", xml_declaration=True)
    return data + b"\n"


def prometheus_registry(records: Sequence[RunRecord]) -> Any:
    """A registry with the latest result of each drill in ``records`` (later runs win)."""
    from prometheus_client import CollectorRegistry, Gauge

    registry = CollectorRegistry()
    passed = Gauge(
        "govdrill_run_success",
        "1 when the drill's last run passed (or failed exactly as expected), else 0",
        ["drill"],
        registry=registry,
    )
    info = Gauge(
        "govdrill_run_info",
        "The drill's last run (always 1), labelled with its identity and verdict",
        ["drill", "run_id", "target", "sandbox", "verdict"],
        registry=registry,
    )
    seconds = Gauge(
        "govdrill_metric_seconds",
        "A timed metric of the drill's last run, with its bounds (bound=value|lower|upper)",
        ["drill", "metric", "bound"],
        registry=registry,
    )
    counts = Gauge(
        "govdrill_harmful_answers",
        "Harmful answers counted in the drill's last run, with bounds",
        ["drill", "metric", "bound"],
        registry=registry,
    )
    deadline = Gauge(
        "govdrill_deadline_verdict",
        "1 for the verdict each deadline got in the drill's last run"
        " (met|missed|unverified|not_applicable)",
        ["drill", "deadline", "verdict"],
        registry=registry,
    )
    duration = Gauge(
        "govdrill_run_duration_seconds", "How long the last run took", ["drill"], registry=registry
    )
    human = Gauge(
        "govdrill_human_clock_seconds",
        "The drill's last operator stop, in seconds from the incident"
        " (instant=notified|acknowledged|acted|effective; bound=value|lower|upper)",
        ["drill", "instant", "bound"],
        registry=registry,
    )
    fallback = Gauge(
        "govdrill_human_clock_fallback_used",
        "1 when the harness's fallback ladder stopped the drill's last operator stop, else 0",
        ["drill"],
        registry=registry,
    )
    latest = {r.drill: r for r in records}
    for drill, record in latest.items():
        s = record.summary
        passed.labels(drill).set(1 if record.ok else 0)
        info.labels(
            drill, s.run_id, str(s.target), str(s.sandbox), s.verdict.value
        ).set(1)  # fmt: skip
        duration.labels(drill).set(record.duration_s)
        for name in (*_TIMED_METRICS, *_COUNT_METRICS):
            m = s.metrics.get(name)
            if m is None:
                continue
            gauge = seconds if name in _TIMED_METRICS else counts
            for bound, value in (("value", m.value), ("lower", m.lower), ("upper", m.upper)):
                if value is not None:
                    gauge.labels(drill, name, bound).set(float(value))
        if s.human_clock is not None:
            _human_clock(human, fallback, drill, s.human_clock)
        for name, d in s.deadlines.items():
            for verdict in DeadlineVerdict:
                deadline.labels(drill, name, verdict.value).set(1 if d.verdict is verdict else 0)
    return registry


def _human_clock(human: Any, fallback: Any, drill: str, clock: HumanClock) -> None:
    """Set the operator stop's instants that were seen (an unseen one is left out, as an
    unmeasured metric is)."""
    eff = clock.effective
    instants = (
        ("notified", "value", clock.notified_s),
        ("acknowledged", "value", clock.acknowledged_s),
        ("acted", "value", clock.acted_s),
        ("effective", "value", eff.value),
        ("effective", "lower", eff.lower),
        ("effective", "upper", eff.upper),
    )
    for instant, bound, value in instants:
        if value is not None:
            human.labels(drill, instant, bound).set(float(value))
    fallback.labels(drill).set(1 if clock.fallback_used else 0)


def write_textfile(path: Path, records: Sequence[RunRecord]) -> None:
    """Write the records' metrics for node-exporter's textfile collector (atomically)."""
    from prometheus_client import write_to_textfile

    path.parent.mkdir(parents=True, exist_ok=True)
    write_to_textfile(str(path), prometheus_registry(records))


def push_to_gateway(url: str, records: Sequence[RunRecord], *, timeout_s: float = 10.0) -> None:
    """Push each drill's latest result to a Pushgateway, grouped by job and drill."""
    from prometheus_client import push_to_gateway as push

    latest = {r.drill: r for r in records}
    for drill, record in latest.items():
        push(
            url,
            job="govdrill",
            registry=prometheus_registry([record]),
            grouping_key={"drill": drill},
            timeout=timeout_s,
        )
