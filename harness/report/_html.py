"""The report page: one self-contained HTML file (inline CSS and SVG, no script, no network)."""

from __future__ import annotations

import json
from html import escape
from typing import Any

from harness.report._chart import COLORS, timeline_svg
from harness.report._data import Mark, RunData
from harness.report._numbers import DASH, format_bounded, format_number, plus
from harness.report._texts import DISCLAIMER, TEXTS, facts

__all__ = ["render"]

_CSS = """
:root{--ink:#1d2330;--mute:#5d6677;--line:#d9dde4;--bg:#f6f7f9;--met:#0b7a3e;--missed:#c0262d;
--unverified:#a66a00}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;
color:var(--ink);background:var(--bg)}
main{max-width:1160px;margin:0 auto;padding:24px 24px 48px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 10px}
h3{font-size:14px;margin:16px 0 6px}
.sub{color:var(--mute)}
section{background:#fff;border:1px solid var(--line);border-radius:8px;padding:16px 18px;
margin:14px 0}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{text-align:left;padding:5px 8px;border-bottom:1px solid var(--line);vertical-align:top}
th{color:var(--mute);font-weight:600;background:#fafbfc}
td.num{font-variant-numeric:tabular-nums;white-space:nowrap}
.pill{display:inline-block;padding:1px 8px;border-radius:10px;font-weight:600;font-size:12px;
color:#fff}
.pill{background:#6b7280}.met,.passed,.true,.done,.acked{background:var(--met)}
.missed,.failed,.false,.timed_out{background:var(--missed)}
.unverified,.error,.interrupted,.none,.not_fired,.pending,.running{background:var(--unverified)}
.not_applicable{background:#6b7280}
.tile .pill{color:#fff}
.verdict{font-size:15px;padding:3px 12px;margin-left:8px;vertical-align:3px}
.tiles{display:flex;gap:12px;flex-wrap:wrap;margin-top:12px}
.tile{flex:1 1 160px;background:#fff;border:1px solid var(--line);border-radius:8px;
padding:10px 14px}
.tile b{display:block;font-size:22px;font-variant-numeric:tabular-nums}
.tile span{color:var(--mute);font-size:12px}
svg.timeline{width:100%;height:auto;display:block}
svg text{font-family:system-ui,"DejaVu Sans",sans-serif}
svg .tick{font-size:11px;fill:#555}svg .axis{font-size:12px;fill:#444}
svg .title{font-size:12px;fill:#333;font-weight:600}
svg .badge{font-size:10px;fill:#fff;font-weight:700}
svg .vlabel{font-size:10px;fill:#fff;font-weight:600}
svg .panel{fill:#fcfcfd;stroke:#d0d4db}svg .grid{stroke:#e8eaee}
.legend{display:flex;gap:16px;flex-wrap:wrap;margin:8px 0 0;font-size:12px;color:var(--mute)}
.sw{display:inline-block;width:11px;height:11px;border-radius:2px;margin-right:5px;
vertical-align:-1px}
.dot{display:inline-block;width:18px;height:18px;border-radius:9px;color:#fff;font-size:11px;
font-weight:700;text-align:center;line-height:18px}
.cols{display:grid;grid-template-columns:1fr 1fr;gap:16px}
code,pre{font-family:ui-monospace,"DejaVu Sans Mono",monospace;font-size:12px}
pre{background:#f3f4f6;padding:8px;border-radius:6px;overflow:auto;max-height:260px}
.note{color:var(--mute);font-size:12.5px}
.refs span{display:inline-block;background:#eef1f6;border-radius:4px;padding:0 6px;margin:1px 2px;
font-size:12px;white-space:nowrap}
footer{color:var(--mute);font-size:12px;margin-top:24px}
"""


def _s(value: Any, digits: int = 3) -> str:
    return format_number(value, digits)


def _pill(text: Any) -> str:
    word = str(text).lower()
    return f'<span class="pill {escape(word)}">{escape(str(text))}</span>'


def _table(head: list[str], rows: list[list[str]], num: set[int] | None = None) -> str:
    num = num or set()
    out = ["<table><thead><tr>", *(f"<th>{escape(h)}</th>" for h in head), "</tr></thead><tbody>"]
    for row in rows:
        out.append("<tr>")
        out += [f"<td{' class=num' if i in num else ''}>{cell}</td>" for i, cell in enumerate(row)]
        out.append("</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def _bin_width(span_s: float) -> float:
    """50 ms bins, wider for long runs so the picture stays under ~1500 bins."""
    width = 0.05
    while span_s / width > 1500:
        width *= 2
    return width


def _pictures(run: RunData, marks: list[Mark], claims: list[Mark]) -> str:
    obs = run.observations
    if not obs.end:
        return '<p class="note">No observations were recorded: nothing to draw.</p>'
    lo, hi = obs.first_start if obs.first_start is not None else min(obs.end), max(obs.end)
    for m in marks:
        lo, hi = min(lo, m.t_s), max(hi, m.t_s)
    lo = max(0.0, lo - 0.1)
    hi += 0.1
    width = _bin_width(hi - lo)
    lo = int(lo / width) * width
    out = [timeline_svg(obs.bin(lo, hi, width), marks, title="The whole run", claims=claims)]
    stop = next((m for m in marks if m.key == "stop"), None)
    if stop is not None:
        ends = [m.upper_s or m.t_s for m in marks if m.key in ("stop", "ack", "effective")]
        zlo = stop.t_s - 0.25
        zhi = max(ends) + 0.25
        zwidth = 0.005 if zhi - zlo < 3 else _bin_width(zhi - zlo) / 5
        out.append(
            "<h3>Around the stop</h3>"
            + timeline_svg(obs.bin(zlo, zhi, zwidth), marks, title="Around the stop", claims=claims)
        )
    return "".join(out)


def _legend() -> str:
    names = {
        "ok": "answered, not harmful",
        "harmful": "harmful answer",
        "stopped": "refused (safe state: stopped)",
        "error": "error or timeout",
    }
    items = [f'<span><i class="sw" style="background:{COLORS[k]}"></i>{v}</span>' for k, v in
             names.items()]  # fmt: skip
    items.append("<span>◇ the target's own log</span>")
    items.append("<span>shaded: an instant's lower and upper bounds</span>")
    return f'<div class="legend">{"".join(items)}</div>'


def _marks_table(marks: list[Mark]) -> str:
    rows = []
    for number, m in enumerate(marks, start=1):
        bounds = "" if m.lower_s is None else f"[{_s(m.lower_s)}, {_s(m.upper_s)}]"
        rows.append(
            [
                f'<span class="dot" style="background:{m.color}">{number}</span>',
                escape(m.label),
                _s(m.t_s),
                bounds,
                escape(m.note),
            ]
        )
    return _table(["", "mark", "t (s)", "bounds (s)", ""], rows, {2, 3})


def _deadlines(summary: dict[str, Any]) -> str:
    rows = []
    for name, d in (summary.get("deadlines") or {}).items():
        unit = "" if d.get("unit") == "count" else " s"
        resolution = (
            None
            if d.get("upper_s") is None or d.get("lower_s") is None
            else d["upper_s"] - d["lower_s"]
        )
        rows.append(
            [
                f"<b>{escape(name)}</b>",
                f"{_s(d.get('limit_s'))}{unit}",
                f"{_s(d.get('measured_s'))}{unit}",
                f"[{_s(d.get('lower_s'))}, {_s(d.get('upper_s'))}]",
                _s(resolution),
                _pill(d.get("verdict")),
                escape(str(d.get("reason", ""))),
            ]
        )
    if not rows:
        return '<p class="note">No deadline was judged in this run.</p>'
    head = ["deadline", "limit", "measured", "bounds", "resolution", "verdict", "why"]
    return _table(head, rows, {1, 2, 3, 4})


def _metrics(summary: dict[str, Any]) -> str:
    rows = []
    for name, m in (summary.get("metrics") or {}).items():
        unit = m.get("unit", "")
        rows.append(
            [
                escape(name),
                _s(m.get("value")),
                _s(m.get("lower")),
                _s(m.get("upper")),
                escape(unit),
            ]
        )
    extra = [
        ["rung_used", escape(_s(summary.get("rung_used"))), "", "", ""],
        ["resurrected", _s(summary.get("resurrected")), "", "", ""],
        ["stop_theater", _s(summary.get("stop_theater")), "", "", ""],
        ["observations", _s(summary.get("observations")), "", "", "requests"],
    ]
    return _table(["metric", "value", "lower", "upper", "unit"], rows + extra, {1, 2, 3})


def _claims(run: RunData) -> str:
    s = run.document
    truth = s.get("ground_truth")
    parts = []
    if truth:
        rows = []
        stop_issued = (s.get("rungs") or [{}])[0].get("issued_t_s")
        for what, metric, base in (
            ("stop", "time_to_stop", stop_issued),
            ("rollback", "rollback_time", _rollback_issued(run)),
        ):
            claimed = truth.get(f"{what}_claimed_ns")
            m = run.metric(metric)
            if claimed is None and m is None:
                continue
            claimed_s = None if claimed is None else (claimed - run.zero_ns) / 1e9
            bounds = (
                DASH
                if m is None or base is None
                else f"[{_s(plus(base, m.lower))}, {_s(plus(base, m.upper))}]"
            )
            rows.append(
                [
                    what,
                    _s(claimed_s),
                    bounds,
                    _pill(truth.get(f"{what}_within_bounds")),
                    _s(truth.get(f"{what}_error_s"), 4),
                ]
            )
        parts.append(
            _table(
                ["instant", "target claims (s)", "observed bounds (s)", "within", "error (s)"],
                rows,
                {1, 2, 4},
            )
        )
        reasons = "; ".join(truth.get("reasons") or []) or "none"
        parts.append(
            f"<p>Log trustworthy: {_pill(truth.get('log_trustworthy'))}"
            f' <span class="note">reasons: {escape(reasons)}</span></p>'
        )
    else:
        parts.append('<p class="note">The target keeps no event log of its own.</p>')
    events = run.target_claims()
    if events:
        rows = [
            [_s(t), f"<b>{escape(name)}</b>", f"<code>{escape(json.dumps(fields))}</code>"]
            for t, name, fields in events
        ]
        parts.append("<h3>target.events.jsonl</h3>")
        parts.append(_table(["t (s)", "event", "fields"], rows, {0}))
    if run.target_events.capped or run.target_events.unreadable_lines:
        parts.append(f'<p class="note">{escape(_events_left_out(run))}</p>')
    return "".join(parts)


def _events_left_out(run: RunData) -> str:
    """What the events table leaves out of the target's log, and what the harness judged on."""
    shown = run.target_events
    text = f"Showing the first {len(shown)} events of a {shown.file_bytes:,}-byte log"
    if shown.unreadable_lines:
        text += f" ({shown.unreadable_lines} unreadable lines skipped)"
    text += f"; {shown.bytes_left_out:,} bytes are not shown."
    judged = run.document.get("target_events")
    if isinstance(judged, dict):
        text += (
            f" The ground truth was judged on {judged.get('events')} events from the first"
            f" {judged.get('bytes_read', 0):,} bytes"
            + ("." if judged.get("complete") else
               f"; {judged.get('bytes_left_out', 0):,} bytes of the log were never read.")
        )  # fmt: skip
    return text


def _rollback_issued(run: RunData) -> float | None:
    event = run.event("rollback_issued")
    if event is not None:
        return float(event["t_s"])
    step = next((x for x in run.document.get("steps") or [] if x["action"] == "rollback"), None)
    return None if step is None else step.get("fired_t_s")


def _ladder(summary: dict[str, Any]) -> str:
    steps = [
        [
            escape(x["id"]),
            escape(x["action"]),
            _pill(x["phase"]),
            _s(x.get("fired_t_s")),
            _s(x.get("settled_t_s")),
            escape(_s(x.get("outcome"))),
            f"<code>{escape(str(x.get('detail', ''))[:160])}</code>",
        ]
        for x in summary.get("steps") or []
    ]
    out = [_table(["step", "action", "phase", "fired (s)", "settled (s)", "outcome", "detail"],
                  steps, {3, 4})]  # fmt: skip
    rungs = [
        [
            escape(r["name"]),
            _s(r.get("issued_t_s")),
            _s(r.get("returned_t_s")),
            escape(r.get("outcome", "")),
            f"<code>{escape(str(r.get('detail', ''))[:160])}</code>",
        ]
        for r in summary.get("rungs") or []
    ]
    if rungs:
        out.append("<h3>Stop ladder</h3>")
        out.append(_table(["rung", "issued (s)", "returned (s)", "outcome", "detail"], rungs,
                          {1, 2}))  # fmt: skip
    teardown = summary.get("teardown")
    if teardown:
        out.append(
            f'<p class="note">Teardown: {escape(str(teardown.get("way")))} —'
            f" {escape(str(teardown.get('detail')))}</p>"
        )
    return "".join(out)


def _snapshots(run: RunData) -> str:
    if not run.snapshots:
        return ""
    out = ["<section><h2>Evidence kept before the rollback</h2>"]
    for folder, entry in run.snapshots.items():
        snap = entry["snapshot"]
        out.append(
            f"<p><code>{escape(folder)}/</code>: taken at {_s(snap.get('started_t_s'))} s in"
            f" {_s(snap.get('took_ms'), 1)} ms; status: {escape(str(snap.get('status_outcome')))};"
            f" files: {escape(', '.join(snap.get('files', [])))}</p>"
        )
        cols = []
        for name in ("status", "load-view"):
            if name in entry:
                body = escape(json.dumps(entry[name], indent=1)[:2000])
                cols.append(f"<div><h3>{name}</h3><pre>{body}</pre></div>")
        out.append(f'<div class="cols">{"".join(cols)}</div>')
    out.append("</section>")
    return "".join(out)


def _mapping(run: RunData) -> str:
    rows = []
    for fact in facts(run.summary, snapshots=bool(run.snapshots)):
        refs = "".join(
            f'<span title="{escape(TEXTS[r].title)}: {escape(TEXTS[r].gist)}">{escape(r)}</span>'
            for r in fact.refs
        )
        measured = escape(fact.in_this_run)
        if not fact.measured:
            measured = f'<span class="note">{measured}</span>'
        rows.append(
            [f"<b>{escape(fact.name)}</b>", measured, f'<div class="refs">{refs}</div>',
             escape(fact.why)]
        )  # fmt: skip
    texts = [
        [f"<b>{escape(t.ref)}</b>", escape(t.source), escape(t.title), escape(t.gist)]
        for t in TEXTS.values()
    ]
    return (
        f'<p class="note">{escape(DISCLAIMER)}</p>'
        + _table(["measured fact", "in this run", "evidence aligned with", "why"], rows)
        + "<h3>The texts</h3>"
        + _table(["text", "source", "title", "what it asks (paraphrased or quoted)"], texts)
    )


def _tiles(run: RunData) -> str:
    s = run.document
    tiles = []
    for label, name, deadline in (
        ("time to stop", "time_to_stop", "stop"),
        ("time in harm", "time_in_harm", "time_in_harm"),
        ("rollback time", "rollback_time", "rollback"),
        ("harmful after ack", "harmful_after_ack", "harmful_after_ack"),
        ("time to detect", "time_to_detect", "detect"),
    ):
        m = run.metric(name)
        if m is None:
            continue
        unit = " s" if m.unit == "s" else ""
        value, _, bounds = format_bounded(m, seconds=bool(unit)).partition(" ")
        value += unit
        d = (s.get("deadlines") or {}).get(deadline)
        verdict = "" if not d else f" {_pill(d.get('verdict'))}"
        tiles.append(
            f'<div class="tile"><span>{label}</span><b>{value}</b>'
            f"<span>{bounds}{verdict}</span></div>"
        )
    return f'<div class="tiles">{"".join(tiles)}</div>'


def render(run: RunData) -> str:
    """The whole report page for ``run``."""
    s = run.document
    marks = run.marks()
    claims = [Mark("claim", name, t) for t, name, _ in run.target_claims()]
    first = run.events[0] if run.events else {}
    description = str(run.drill.get("description") or "").strip()
    files = _table(
        ["file", "bytes"], [[f"<code>{escape(n)}</code>", str(size)] for n, size in run.files], {1}
    )
    versions = s.get("versions") or {}
    title = f"{s.get('drill')} — run {s.get('run_id')}"
    verdict = _pill(s.get("verdict")).replace('class="pill', 'class="pill verdict')
    problems = "".join(
        f'<p><span class="pill missed">incident not injected</span> step {escape(str(x["step"]))}'
        f" (inject {escape(str(x['incident']))}) {escape(str(x['outcome']))}:"
        f" {escape(str(x['detail']))}</p>"
        for x in s.get("incident_not_injected") or []
    ) + "".join(
        f'<p><span class="pill missed">{escape(key.replace("_", " "))}</span>'
        f" {escape(str(s[key]))}</p>"
        for key in ("error", "load_failure", "interrupted_by_signal")
        if s.get(key) is not None
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)}</title>
<style>{_CSS}</style></head>
<body><main>
<h1>{escape(str(s.get("drill")))}{verdict}</h1>
<div class="sub">run <code>{escape(str(s.get("run_id")))}</code> · target
<b>{escape(str(s.get("target")))}</b> · sandbox {escape(str(s.get("sandbox")))} · started
{escape(str(first.get("wall", "—")))} · {_s(s.get("observations"))} observations ·
govdrill {escape(str(versions.get("govdrill", "")))}</div>
<p>{escape(description)}</p>
{problems}
{_tiles(run)}
<section><h2>What the load saw</h2>
{_pictures(run, marks, claims)}
{_legend()}
<h3>Marks</h3>{_marks_table(marks)}
<p class="note">Every instant is on the host's monotonic clock, in seconds since the run's
zero. An effective stop is bounded by the last serving answer that started before it and the
first refused answer that ended after it; the shaded bands are those bounds.</p>
</section>
<section><h2>Deadlines</h2>{_deadlines(s)}</section>
<div class="cols">
<section><h2>Metrics</h2>{_metrics(s)}</section>
<section><h2>The target's claims beside the observations</h2>{_claims(run)}</section>
</div>
<section><h2>Steps</h2>{_ladder(s)}</section>
{_snapshots(run)}
<section><h2>Evidence mapping</h2>{_mapping(run)}</section>
<section><h2>Files of this run</h2>{files}
<p class="note"><code>manifest.json</code> holds the SHA-256 of each of these files and of this
report; <code>attestation.dsse.json</code> is an in-toto statement over them, signed when the
run was given a key. Check them with <code>govdrill verify RUN_DIR [--key PUB]</code>.</p>
</section>
<footer>Generated by govdrill from this run folder's own files (regenerate with
<code>govdrill report RUN_DIR</code>). Self-contained: no script, no network resource.</footer>
</main></body></html>
"""
