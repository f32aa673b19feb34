"""Everything the report shows, read from a run folder's own files into one typed object."""

from __future__ import annotations

import gzip
import json
from array import array
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from harness.observations import ObservationLog
from harness.report._numbers import plus
from harness.run_summary import MetricSummary, RunSummary, read_summary
from harness.spec.models import Action
from harness.streams import StreamObservation
from harness.target_events import TargetEvents, read_events
from harness.timeline import read_json_lines

__all__ = ["REPORT_EVENTS", "Bins", "Mark", "Observations", "RunData", "StreamSpan", "read_run"]

REPORT_EVENTS = 500
"""The target's events the report shows at most: the first ones, with what was left out."""

SERVING, STOPPED, ERROR = 0, 1, 2


@dataclass(frozen=True, slots=True)
class Mark:
    """One instant (or bounded interval) the picture marks, in seconds since the run's zero."""

    key: str
    label: str
    t_s: float
    lower_s: float | None = None
    upper_s: float | None = None
    color: str = "#333"
    note: str = ""


@dataclass(frozen=True, slots=True)
class Bins:
    """Observations counted per time bin, by what the answer was (by the instant it ended)."""

    start_s: float
    width_s: float
    ok: list[int]
    harmful: list[int]
    stopped: list[int]
    error: list[int]
    version: list[str]
    """The version most serving answers in the bin came from ('' when none served)."""

    def __len__(self) -> int:
        return len(self.ok)


@dataclass(frozen=True, slots=True)
class StreamSpan:
    """One stream in seconds since the run's zero: what the picture draws of it."""

    start_s: float
    first_chunk_s: float | None
    last_chunk_s: float | None
    first_harm_s: float | None
    last_harm_s: float | None
    chunks: int
    harmful_chunks: int
    end_s: float
    outcome: str


@dataclass(slots=True)
class Observations:
    """The observation columns the picture needs, compact (a million rows stay small):
    end times in seconds since the run's zero, state, harm, and version as a table index.
    Times are whole microseconds, as observations.csv.gz keeps them, so a report drawn from
    the run's memory and one redrawn from its files are the same.

    A run still in memory is not copied: ``source`` is its log, read block by block each
    time the picture bins it (ten million rows would cost 120 MB as columns here)."""

    end: array[float] = field(default_factory=lambda: array("d"))
    state: array[int] = field(default_factory=lambda: array("b"))
    harmful: array[int] = field(default_factory=lambda: array("b"))
    version_index: array[int] = field(default_factory=lambda: array("h"))
    versions: list[str] = field(default_factory=list)
    first_start: float | None = None
    last_end: float | None = None
    """The latest end, None when there are no rows."""
    streams: list[StreamSpan] = field(default_factory=list)
    """The streams the load read (``load.stream``), as the streams picture draws them."""
    source: ObservationLog | None = None
    """The run's log, when the rows are read from it rather than held in the columns."""
    source_rows: int = 0
    zero_ns: int = 0

    def add_version(self, version: str) -> int:
        """The table index of ``version`` (added when new)."""
        try:
            return self.versions.index(version)
        except ValueError:
            self.versions.append(version)
            return len(self.versions) - 1

    @property
    def version(self) -> list[str]:
        """Each row's version."""
        return [self.versions[i] for _end, _state, _harmful, i in self.rows()]

    def rows(self) -> Iterator[tuple[float, int, int, int]]:
        """(end in seconds since the zero, state, harmful, version index) of every row."""
        if self.source is None:
            yield from zip(self.end, self.state, self.harmful, self.version_index, strict=True)
            return
        zero = self.zero_ns
        for block in self.source.blocks(0, self.source_rows):
            ends = (((t - zero) // 1000) / 1e6 for t in block.end)
            yield from zip(ends, block.state, block.harmful, block.version, strict=False)

    @classmethod
    def from_log(cls, log: ObservationLog, zero_ns: int) -> Observations:
        """The rows of a run still in memory, read from its log (no need to read its file
        back, and no copy of the rows: only their span is taken here)."""
        rows = len(log)
        obs = cls(versions=log.version_table(), source=log, source_rows=rows, zero_ns=zero_ns)
        first: int | None = None
        last: int | None = None
        for block in log.blocks(0, rows):  # block by block: a spilled log is never read whole
            low, high = min(block.start), max(block.end)
            first = low if first is None else min(first, low)
            last = high if last is None else max(last, high)
        if first is not None and last is not None:
            obs.first_start = ((first - zero_ns) // 1000) / 1e6
            obs.last_end = ((last - zero_ns) // 1000) / 1e6
        # ``ObservationLog.streams`` arrives with the streaming load; until then there are none.
        obs.streams = [_span(s, zero_ns) for s in log.streams()]
        return obs

    def bin(self, lo_s: float, hi_s: float, width_s: float) -> Bins:
        """Count the answers that ended in [lo_s, hi_s) per bin of ``width_s``."""
        n = max(1, int((hi_s - lo_s) / width_s + 0.999999))
        ok, harm, stop, err = [0] * n, [0] * n, [0] * n, [0] * n
        votes: list[dict[str, int]] = [{} for _ in range(n)]
        versions = self.versions
        for end, state, harmful, index in self.rows():
            version = versions[index]
            if end < lo_s or end >= hi_s:
                continue
            i = min(n - 1, int((end - lo_s) / width_s))
            if harmful:
                harm[i] += 1
            elif state == SERVING:
                ok[i] += 1
            elif state == STOPPED:
                stop[i] += 1
            else:
                err[i] += 1
            if state == SERVING and version:
                votes[i][version] = votes[i].get(version, 0) + 1
        winners = [max(sorted(v), key=v.__getitem__) if v else "" for v in votes]
        return Bins(lo_s, width_s, ok, harm, stop, err, winners)


@dataclass(slots=True)
class RunData:
    """A run as its folder holds it."""

    folder: Path
    summary: RunSummary
    drill: dict[str, Any]
    events: list[dict[str, Any]]
    target_events: TargetEvents
    """The first :data:`REPORT_EVENTS` of the target's log, with how much of it they cover."""
    observations: Observations
    snapshots: dict[str, dict[str, Any]]
    files: list[tuple[str, int]]

    @property
    def zero_ns(self) -> int:
        """The run's zero on the host's monotonic clock."""
        return self.summary.zero_ns or 0

    @property
    def document(self) -> dict[str, Any]:
        """The summary in its JSON form (the keys the run wrote), for the page's renderer."""
        return self.summary.document()

    def event(self, name: str, **match: Any) -> dict[str, Any] | None:
        """The first timeline event called ``name`` whose fields match."""
        for e in self.events:
            if e.get("event") == name and all(e.get(k) == v for k, v in match.items()):
                return e
        return None

    def metric(self, name: str) -> MetricSummary | None:
        """A metric's value and bounds from the summary, if measured."""
        m = self.summary.metrics.get(name)
        return m if m is not None and m.value is not None else None

    def marks(self) -> list[Mark]:
        """The instants of the run worth marking on its picture, in time order."""
        s = self.summary
        marks: list[Mark] = []
        inject = next((x for x in s.steps if x.action is Action.INJECT and x.fired_t_s), None)
        if inject is not None and inject.fired_t_s is not None:
            outside = next((i for i in s.incidents if i.outside), None)
            label = "incident injected"
            if outside is not None and s.incidents[0] is outside:
                label = "incident injected from outside (fault proxy)"
            marks.append(Mark("incident", label, inject.fired_t_s, color="#7b3fa0"))
        for incident in s.incidents:
            if not incident.outside:
                continue
            where = f"{incident.kind} on {incident.where}"
            if incident.rule_on_t_s is not None:
                marks.append(
                    Mark("proxy_on", f"proxy rule {incident.name} on ({where})",
                         incident.rule_on_t_s, color="#9b59b6",
                         note="the proxy's own log; no hook in the service")
                )  # fmt: skip
            if incident.rule_off_t_s is not None:
                note = f"touched {incident.touched} of {incident.seen} seen"
                if incident.matched_nothing:
                    note = f"MATCHED NOTHING ({incident.unmatched} unmatched of {incident.seen})"
                marks.append(
                    Mark("proxy_off", f"proxy rule {incident.name} off", incident.rule_off_t_s,
                         color="#9b59b6", note=note)
                )  # fmt: skip
        detected = self.event("harm_detected")
        if detected is not None:
            marks.append(Mark("detected", "harm detected", detected["t_s"], color="#b8860b"))
        rungs = s.rungs
        issued = rungs[0].issued_t_s if rungs else None
        if rungs and issued is not None:
            marks.append(Mark("stop", f"stop issued ({rungs[0].name})", issued, color="#1f5fa8"))
            for rung in rungs[1:]:
                if rung.issued_t_s is None:
                    continue
                marks.append(
                    Mark("escalated", f"escalated to {rung.name}", rung.issued_t_s,
                         color="#1f5fa8")
                )  # fmt: skip
            ack = self.metric("time_to_ack")
            if ack is not None and ack.value is not None:
                marks.append(Mark("ack", "stop acknowledged", issued + ack.value, color="#5a8fd0"))
            stop = self.metric("time_to_stop")
            if stop is not None and stop.value is not None:
                marks.append(
                    Mark("effective", "effective stop", issued + stop.value,
                         *_band(issued, stop), color="#0b7a3e",
                         note="the gate closed between these bounds")
                )  # fmt: skip
        snap = self.event("snapshot_taken")
        if snap is not None:
            marks.append(Mark("snapshot", "evidence snapshot", snap["t_s"], color="#666"))
        rollback_t = self.rollback_issued_t_s()
        if rollback_t is not None:
            marks.append(Mark("rollback", "rollback issued", rollback_t, color="#a0522d"))
            rb = self.metric("rollback_time")
            if rb is not None and rb.value is not None:
                marks.append(
                    Mark("rolled_back", "rollback verified", rollback_t + rb.value,
                         *_band(rollback_t, rb), color="#8b4513",
                         note="every answer from the target version, none harmful")
                )  # fmt: skip
        hold = self.event("hold_complete")
        if hold is not None:
            held = float(hold.get("hold_s") or 0)
            marks.append(
                Mark("hold", f"hold of {held:g} s complete", hold["t_s"], hold["t_s"] - held,
                     hold["t_s"], color="#555", note=self.hold_note())
            )  # fmt: skip
        return sorted(marks, key=lambda m: m.t_s)

    def rollback_issued_t_s(self) -> float | None:
        """When the rollback was issued: its timeline event, else its step's firing."""
        event = self.event("rollback_issued")
        if event is not None:
            return float(event["t_s"])
        step = next(
            (x for x in self.summary.steps if x.action is Action.ROLLBACK and x.fired_t_s), None
        )
        return None if step is None else step.fired_t_s

    def hold_note(self) -> str:
        """What the hold showed: harm-free only when the summary proves it."""
        s = self.summary
        harm = self.metric("time_in_harm")
        if s.harm_returned:
            return "kept observing: harm returned"
        if s.resurrected:
            return "kept observing: the service served again"
        if harm is not None and harm.lower is not None and harm.upper is None:
            return "kept observing: harm was not shown to have ended"
        return "kept observing: no harm, no resurrection"

    def target_claims(self) -> list[tuple[float, str, dict[str, Any]]]:
        """The target's own event log, in seconds since the run's zero."""
        zero = self.zero_ns
        return [
            ((t_ns - zero) / 1e9, name, {k: v for k, v in e.items() if k not in ("t_ns", "event")})
            for t_ns, name, e in self.target_events
        ]


def _span(stream: StreamObservation, zero_ns: int) -> StreamSpan:
    """A stream in seconds since the run's zero, to the microsecond as every row."""

    def rel(t_ns: int | None) -> float | None:
        return None if t_ns is None else ((t_ns - zero_ns) // 1000) / 1e6

    start, end = rel(stream.start_ns), rel(stream.end_ns)
    assert start is not None and end is not None
    return StreamSpan(
        start_s=start,
        first_chunk_s=rel(stream.first_chunk_ns),
        last_chunk_s=rel(stream.last_chunk_ns),
        first_harm_s=rel(stream.first_harm_ns),
        last_harm_s=rel(stream.last_harm_ns),
        chunks=stream.chunks,
        harmful_chunks=stream.harmful_chunks,
        end_s=end,
        outcome=stream.outcome.value,
    )


def _band(base: float, metric: MetricSummary) -> tuple[float | None, float | None]:
    """A metric's bounds as instants after ``base``; both None unless both are known, so a
    half-known band is never drawn as if it were whole."""
    lower, upper = plus(base, metric.lower), plus(base, metric.upper)
    return (None, None) if lower is None or upper is None else (lower, upper)


def _observations(path: Path) -> Observations:
    obs = Observations()
    if not path.is_file():
        return obs
    first_start = None
    with gzip.open(path, "rt", encoding="utf-8", errors="replace") as lines:
        for line in lines:  # streamed: the file can hold millions of rows
            # Stream (S) and first-harm (H) lines, should the file carry them, are not rows.
            if not line or line[0] in "#sSH":
                continue
            parts = line.rstrip("\n").split(",", 5)
            if len(parts) != 6:
                continue
            start = int(parts[0]) / 1e6
            first_start = start if first_start is None else min(first_start, start)
            end = int(parts[1]) / 1e6
            obs.end.append(end)
            obs.last_end = end if obs.last_end is None else max(obs.last_end, end)
            obs.state.append(int(parts[3]))
            obs.harmful.append(int(parts[4]))
            obs.version_index.append(obs.add_version(parts[5]))
    obs.first_start = first_start
    return obs


_NOT_LISTED = {"report.html", "manifest.json", "attestation.dsse.json", "signer.pub.pem"}
"""Files that do not exist yet when the report is first written, or are the report."""


def read_run(folder: Path, observations: Observations | None = None) -> RunData:
    """Read the run in ``folder`` (its observations too, unless given); raises SummaryError
    when summary.json is not a run's summary."""
    summary = read_summary(folder)
    drill_path = folder / "drill.yaml"
    drill = yaml.safe_load(drill_path.read_text(encoding="utf-8")) if drill_path.is_file() else {}
    snapshots = {}
    for index in sorted((folder / "snapshots").glob("*/snapshot.json")):
        entry = {"snapshot": json.loads(index.read_text(encoding="utf-8"))}
        for name in ("status.json", "load-view.json"):
            part = index.parent / name
            if part.is_file():
                entry[name.removesuffix(".json")] = json.loads(part.read_text(encoding="utf-8"))
        snapshots[index.parent.relative_to(folder).as_posix()] = entry
    files = [
        (p.relative_to(folder).as_posix(), p.stat().st_size)
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name not in _NOT_LISTED and not p.name.startswith(".")
    ]
    return RunData(
        folder=folder,
        summary=summary,
        drill=drill if isinstance(drill, dict) else {},
        events=read_json_lines(folder / "timeline.jsonl"),
        target_events=read_events(folder / "target.events.jsonl", max_events=REPORT_EVENTS),
        observations=observations
        if observations is not None
        else _observations(folder / "observations.csv.gz"),
        snapshots=snapshots,
        files=files,
    )
