"""`govdrill pack` over a quarter of real runs: each section of the HTML and of the PDF
holds the right facts, the signed manifest covers what it includes, and every bad folder is
listed with its reason rather than stopping the pack."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path

import pytest

from harness.integrity import canonical_json, check_timestamp
from harness.pack import verify_pack
from harness.spec.loader import load_target
from tests.helpers import TARGETS, govdrill_in_process
from tests.pack.conftest import QuarterPack
from tests.pack.pdf import pdf_text, require_chromium, squeezed
from tests.pack.quarter import APPROVER, SINCE, UNTIL, Quarter

# One worker builds the quarter once for all of these (the session fixture is per worker).
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("pack-quarter")]

INCLUDED = (
    "kill-1", "rollback-1", "kill-fail-1", "kill-fail-2", "kill-fix", "defect-1",
    "rollback-fail", "rollback-fix", "kill-fail-open",
)  # fmt: skip
FIXES = (
    ("kill-fail-1", "kill-fix", "14 d 0 h"),
    ("kill-fail-2", "kill-fix", "6 d 23 h"),
    ("rollback-fail", "rollback-fix", "7 d 2 h"),
)


def _section(html: str, anchor: str) -> str:
    """The page's section from ``<h2 id=anchor>`` to the next ``<h2``."""
    start = html.index(f'<h2 id="{anchor}">')
    end = html.find("<h2", start + 4)
    return html[start : end if end != -1 else len(html)]


def _row(html: str, *needles: str) -> str:
    """The one table row holding every needle."""
    rows = [r for r in re.findall(r"<tr[^>]*>.*?</tr>", html, re.S) if all(n in r for n in needles)]
    assert len(rows) == 1, (needles, rows)
    return rows[0]


def _cells(*values: object) -> str:
    return "".join(f"<td>{v}</td>" for v in values)


def _excluded_expected(q: Quarter) -> dict[str, str]:
    return {
        q.folder(q.runs["kill-tampered"]): "tampered",
        q.folder(q.runs["kill-duplicated"]): "duplicated run id",
        q.folder(q.duplicate): "duplicated run id",
        q.folder(q.runs["rollback-unsigned"]): "unsigned",
        q.folder(q.staging): "unsealed",
        q.folder(q.junk): "not a readable run",
        q.folder(q.hostile): "not a readable run",
    }


def test_pack_exits_1_and_lists_every_excluded_folder(quarter_pack: QuarterPack) -> None:
    """A tampered, a duplicated, an unsigned, an unsealed and two broken folders do not stop
    the pack: it is written, each is named on stderr with its reason, and the exit code is 1."""
    done, q = quarter_pack.done, quarter_pack.quarter
    assert done.returncode == 1, done.stdout + done.stderr
    assert "9 runs included, 7 excluded, 2 outside the period" in done.stdout
    for folder, reason in _excluded_expected(q).items():
        assert f"EXCLUDED {folder}: {reason}:" in done.stderr
    assert {p.name for p in quarter_pack.out.iterdir()} == {
        "pack.html", "pack.pdf", "pack.manifest.json", "pack.dsse.json", "pack.tsr",
        "pack.signer.pub.pem",
    } - ({"pack.pdf"} if "--no-pdf" in done.args else set())  # fmt: skip


def test_html_every_drill_over_time(quarter_pack: QuarterPack) -> None:
    """Every included run is in the over-time section, in its drill's table, with its start,
    verdict and each deadline's limit, measurement and bounds; nothing outside the period
    or excluded is there, and the back-dated run's timestamp says so."""
    q = quarter_pack.quarter
    html = (quarter_pack.out / "pack.html").read_text()
    over_time = _section(html, "over-time")
    for key in INCLUDED:
        row = _row(over_time, f'id="run-{q.run_id(key)}"')
        assert q.runs[key].name[:8] in row.replace("-", "")  # the start's date
        assert "<b>stop</b> limit 1 s, measured" in row
    assert "<b>rollback</b> limit 2 s" in _row(over_time, f'id="run-{q.run_id("rollback-1")}"')
    assert "missed" in _row(over_time, f'id="run-{q.run_id("defect-1")}"')
    assert "failed as expected" in _row(over_time, f'id="run-{q.run_id("defect-1")}"')
    assert "2026-07-16T09:00:00Z" in _row(over_time, f'id="run-{q.run_id("kill-fail-1")}"')
    for key in ("kill-tampered", "rollback-unsigned", "kill-duplicated"):
        assert f'id="run-{q.run_id(key)}"' not in over_time
    for key in ("before", "after"):
        assert q.run_id(key) not in html
    backdated = _row(over_time, f'id="run-{q.run_id("kill-1")}"')
    assert "not corroborated: timestamped" in backdated and "after its recorded start" in backdated
    fixed = _row(over_time, f'id="run-{q.run_id("kill-fix")}"')
    assert "self-asserted" in fixed and f"authorized by {APPROVER}" in fixed
    assert over_time.count('<circle class="dot ') == len(INCLUDED)


def test_html_coverage(quarter_pack: QuarterPack) -> None:
    """Coverage lists every control path of the target as the runs recorded it, exercised or
    not, the rungs of each ladder, and the defect drill's status."""
    html = (quarter_pack.out / "pack.html").read_text()
    coverage = _section(html, "coverage")
    paths = load_target(TARGETS / "model-service" / "target.yaml").control_paths
    assert f"1 of {len(paths)} control paths exercised over 9 runs" in coverage
    for name in paths:
        assert f"<b>{name}</b>" in coverage
    admin = _row(coverage, "<b>admin_api</b>")
    assert "stopped the service" in admin and "resume \u00d73, rollback \u00d73" in admin
    assert "in a ladder, never reached" in _row(coverage, "<b>sigkill</b>")
    assert "never exercised" in _row(coverage, "<b>sigterm</b>")
    # drill, rung, path, runs, climbed in, stopped it in
    assert _cells("pack-rollback", 2, "sigkill", 3, 0, 0) in coverage
    assert _cells("pack-kill-switch", 1, "admin_api", 5, 5, 2) in coverage
    defect = _row(coverage, "<td>defect-stop-theater</td><td>stop_theater</td>")
    assert "caught: failed exactly as expected" in defect


def test_html_failures_linked_to_their_fix(quarter_pack: QuarterPack) -> None:
    """Each failed run links to the first later pass of its drill with the time to
    remediate; the failure whose only fix lies after the period is not fixed."""
    q = quarter_pack.quarter
    failures = _section((quarter_pack.out / "pack.html").read_text(), "failures")
    for failed, fixed, span in FIXES:
        row = _row(failures, f'href="#run-{q.run_id(failed)}"')
        assert f'href="#run-{q.run_id(fixed)}"' in row and f"<td>{span}</td>" in row
    open_row = _row(failures, f'href="#run-{q.run_id("kill-fail-open")}"')
    assert "not fixed within the period" in open_row
    # The theatre's stop never takes effect: missed once its deadline passed by a hold
    # (the drill stays open for that), unverified if the window was cut short.
    assert re.search(r"stop: (missed|unverified)", open_row), open_row
    assert "time_in_harm: missed; rollback: missed" in _row(
        failures, f'href="#run-{q.run_id("rollback-fail")}"'
    )


def test_html_standards_mapping_is_aligned_evidence(quarter_pack: QuarterPack) -> None:
    """The mapping names the texts, words them as aligned evidence, and claims no
    conformity."""
    standards = _section((quarter_pack.out / "pack.html").read_text(), "standards")
    assert "aligned evidence, not conformity" in standards
    assert "It is not a claim of conformity" in standards
    for ref in ("EU AI Act Art. 14(4)(e)", "NIST AI RMF MANAGE 2.4", "ISO/IEC 42001 10.2"):
        assert f"<b>{ref}</b>" in standards
    assert "5 of 9 runs stopped the service, through admin_api" in standards
    assert "4 failed runs; 3 followed by a passing run" in standards
    assert "1 not fixed within the period" in standards
    lowered = standards.lower()
    for claim in ("conforms", "compliant", "certified"):
        assert claim not in lowered


def test_html_excluded_folders_escaped(quarter_pack: QuarterPack) -> None:
    """Each excluded folder is in its section with its reason; hostile names reach the page
    as text."""
    q = quarter_pack.quarter
    html = (quarter_pack.out / "pack.html").read_text()
    excluded = _section(html, "excluded")
    for folder, reason in _excluded_expected(q).items():
        shown = folder.replace("<", "&lt;").replace(">", "&gt;")
        assert reason in _row(excluded, f"<code>{shown}</code>")
    assert "<b>drill" not in html and "<script>" not in html
    assert "run id" in _row(excluded, f"<code>{q.folder(q.duplicate)}</code>")


def test_pdf_sections_hold_the_facts(quarter_pack: QuarterPack) -> None:
    """The PDF headless Chromium printed holds the same facts, section by section."""
    require_chromium()
    q = quarter_pack.quarter
    text = pdf_text(quarter_pack.out / "pack.pdf")
    for heading in ("Every drill over time", "Coverage", "Failures and their fix",
                    "Standards mapping (aligned evidence, not conformity)",
                    "Excluded from the pack"):  # fmt: skip
        assert squeezed(heading) in text
    order = [text.index(squeezed(h)) for h in ("Every drill over time", "Coverage",
             "Failures and their fix", "Standards mapping", "Excluded from the pack")]  # fmt: skip
    assert order == sorted(order)
    for key in INCLUDED:
        assert q.run_id(key) in text
    assert squeezed("stop limit 1 s") in text
    assert squeezed("in a ladder, never reached") in text
    assert squeezed("caught: failed exactly as expected") in text
    for _failed, _fixed, span in FIXES:
        assert squeezed(span) in text
    assert squeezed("not fixed within the period") in text
    assert squeezed("It is not a claim of conformity") in text
    for folder, reason in _excluded_expected(q).items():
        assert squeezed(folder) in text and squeezed(reason) in text
    for key in ("before", "after"):
        assert q.run_id(key) not in text


def test_manifest_signed_and_timestamped(quarter_pack: QuarterPack) -> None:
    """The pack manifest is canonical JSON over the included runs (their manifests'
    and attestations' digests), the excluded folders with reasons, the period and the pages;
    its signature verifies with the signer's key and the TSA's token covers its bytes."""
    q, out = quarter_pack.quarter, quarter_pack.out
    raw = (out / "pack.manifest.json").read_bytes()
    manifest = json.loads(raw)
    assert canonical_json(manifest) + b"\n" == raw
    assert manifest["period"] == {"since": "2026-07-01T00:00:00Z", "until": "2026-09-30T23:59:59Z"}
    runs = {r["folder"]: r for r in manifest["runs"]}
    assert set(runs) == {q.folder(q.runs[k]) for k in INCLUDED}
    for key in INCLUDED:
        entry, folder = runs[q.folder(q.runs[key])], q.runs[key]
        for field, name in (("manifest_sha256", "manifest.json"),
                            ("attestation_sha256", "attestation.dsse.json")):  # fmt: skip
            assert entry[field] == hashlib.sha256((folder / name).read_bytes()).hexdigest()
    assert runs[q.folder(q.runs["kill-1"])]["start_source"].startswith("not corroborated")
    assert runs[q.folder(q.runs["kill-fix"])]["authorized_by"] == APPROVER
    assert {e["folder"]: e["reason"] for e in manifest["excluded"]} == _excluded_expected(q)
    assert manifest["outside_period"] == 2
    assert verify_pack(out) == []
    assert verify_pack(out, key=q.public_key) == []
    check = check_timestamp((out / "pack.tsr").read_bytes(), raw, quarter_pack.tsa.ca_cert_path)
    assert check.ok, check.detail


def test_same_inputs_same_bytes(quarter_pack: QuarterPack, tmp_path: Path) -> None:
    """Packing the same runs again, from a copy of the results folder elsewhere and into
    another folder, gives the same bytes: page, PDF, manifest, envelope."""
    q = quarter_pack.quarter
    copy = tmp_path / "elsewhere" / "results"
    shutil.copytree(q.results, copy, symlinks=True)
    again = tmp_path / "again"
    done = govdrill_in_process(
        "pack", str(copy), "--since", SINCE, "--until", UNTIL, "--out", str(again),
        "--sign-key", str(q.private_key), "--tsa-cert", str(quarter_pack.tsa.ca_cert_path),
        *(["--no-pdf"] if "--no-pdf" in quarter_pack.done.args else []),
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    names = ["pack.html", "pack.manifest.json", "pack.dsse.json", "pack.signer.pub.pem"]
    if (again / "pack.pdf").exists():
        names.append("pack.pdf")
    for name in names:
        assert (again / name).read_bytes() == (quarter_pack.out / name).read_bytes(), name


def test_an_edited_pack_does_not_verify(quarter_pack: QuarterPack, tmp_path: Path) -> None:
    """A page edited after packing, or a manifest edited, is found by verify_pack."""
    copy = tmp_path / "copy"
    shutil.copytree(quarter_pack.out, copy)
    html = copy / "pack.html"
    html.write_text(html.read_text().replace("not fixed within the period", "fixed"))
    assert verify_pack(copy) == ["pack.html: its SHA-256 differs from the manifest's"]
    manifest = json.loads((copy / "pack.manifest.json").read_bytes())
    manifest["excluded"] = []
    (copy / "pack.manifest.json").write_bytes(canonical_json(manifest) + b"\n")
    problems = verify_pack(copy)
    assert "pack.dsse.json: its statement does not match the manifest" in problems


def test_a_period_with_nothing_excluded_exits_0(quarter: Quarter, tmp_path: Path) -> None:
    """June holds one intact signed run and nothing else: the pack includes it, exit 0."""
    out = tmp_path / "june"
    done = govdrill_in_process(
        "pack", str(quarter.results), "--since", "2026-06-01", "--until", "2026-06-30",
        "--out", str(out), "--sign-key", str(quarter.private_key), "--no-pdf",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "1 runs included, 0 excluded" in done.stdout
    manifest = json.loads((out / "pack.manifest.json").read_bytes())
    assert [r["run_id"] for r in manifest["runs"]] == [quarter.run_id("before")]
    assert "Nothing was excluded" in (out / "pack.html").read_text()


def test_govdrill_verify_checks_a_pack_folder(quarter_pack: QuarterPack, tmp_path: Path) -> None:
    """`govdrill verify PACK --tsa-cert CA` checks the pack's pages, signature and timestamp:
    intact it says OK (exit 0); an edited page or another document's token is TAMPERED
    (exit 1), naming the file."""
    ca = str(quarter_pack.tsa.ca_cert_path)
    done = govdrill_in_process("verify", str(quarter_pack.out), "--tsa-cert", ca)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "OK" in done.stdout and "RFC 3161 timestamp" in done.stdout

    edited = tmp_path / "edited"
    shutil.copytree(quarter_pack.out, edited)
    (edited / "pack.html").write_text("<p>all good</p>")
    done = govdrill_in_process("verify", str(edited))
    assert done.returncode == 1 and "FAIL pack.html" in done.stdout, done.stdout

    swapped = tmp_path / "swapped"
    shutil.copytree(quarter_pack.out, swapped)
    tokens = sorted(quarter_pack.quarter.results.rglob("attestation.tsr"))
    assert tokens, "the quarter has a timestamped run"
    shutil.copyfile(tokens[0], swapped / "pack.tsr")
    done = govdrill_in_process("verify", str(swapped), "--tsa-cert", ca)
    assert done.returncode == 1 and "FAIL pack.tsr" in done.stdout, done.stdout
