"""``govdrill pack``: a period of drills as one verifiable body of evidence.

``build_pack`` gathers the runs of a results folder that started in a period, verifies each
(``harness.pack._collect``: excluded folders are listed with their reason, never dropped),
and writes into a new folder:

- ``pack.html``: every drill over time with its deadlines and bounds, coverage of each
  target's control paths and ladder rungs and each defect drill's status, failures linked to
  the first later pass, and the standards mapping (aligned evidence, not conformity);
- ``pack.pdf``: that page printed by headless Chromium, its dates pinned to the period's end;
- ``pack.manifest.json``: canonical JSON over the included runs (digests of their manifests
  and attestations), the excluded folders with reasons, the period and the pages' digests;
- ``pack.dsse.json``: the DSSE envelope signing it (``pack.signer.pub.pem`` beside it);
- ``pack.tsr``: with a TSA, an RFC 3161 timestamp token over the manifest's bytes.

Everything but ``pack.tsr`` is deterministic: the same runs, period and key give the same
bytes (the PDF for one Chromium build and set of fonts). The folder is written under a
hidden staging name and renamed into place whole, so a failed pack leaves nothing behind.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization

from harness.errors import EvidenceError, Problem, SpecError
from harness.evidence import write_atomic
from harness.integrity import (
    Signer,
    TrustedKey,
    canonical_json,
    check_tsa_url,
    request_timestamp,
)
from harness.pack._collect import (
    Collection,
    Excluded,
    ExclusionReason,
    PackRun,
    collect_period,
)
from harness.pack._coverage import coverage
from harness.pack._html import PackPage, render_pack_page
from harness.pack._manifest import (
    PACK_ENVELOPE,
    PACK_HTML,
    PACK_MANIFEST,
    PACK_PDF,
    PACK_PUBLIC_KEY,
    PACK_TIMESTAMP,
    pack_envelope,
    pack_manifest,
    verify_pack,
)
from harness.pack._pdf import CHROMIUM_ENV, find_chromium, print_pdf
from harness.pack._period import Period, parse_period
from harness.pack._remediation import remediations
from harness.pack._standards import period_facts

__all__ = [
    "CHROMIUM_ENV",
    "PACK_ENVELOPE",
    "PACK_HTML",
    "PACK_MANIFEST",
    "PACK_PDF",
    "PACK_PUBLIC_KEY",
    "PACK_TIMESTAMP",
    "Collection",
    "Excluded",
    "ExclusionReason",
    "PackOutcome",
    "PackRun",
    "Period",
    "build_pack",
    "find_chromium",
    "parse_period",
    "verify_pack",
]


@dataclass(frozen=True, slots=True)
class PackOutcome:
    """What ``build_pack`` wrote."""

    folder: Path
    collection: Collection
    pdf: bool
    """Whether a PDF was printed (False with ``pdf=False``)."""
    pdf_dates_pinned: bool
    timestamped: bool


def build_pack(
    results: Path,
    period: Period,
    out: Path,
    *,
    signer: Signer | None,
    pdf: bool = True,
    tsa_url: str | None = None,
    tsa_cert: Path | None = None,
    trust: tuple[TrustedKey, ...] | None = None,
) -> PackOutcome:
    """Verify the period's runs under ``results`` (signers judged by ``trust``, a trust file's
    keys, when given; run timestamps checked against ``tsa_cert``) and write the pack into
    ``out`` (which must not exist, or be an empty folder). SpecError (exit 2) for bad input
    before anything is written; EvidenceError (exit 3) when writing, printing or
    timestamping fails."""
    browser = _check_inputs(results, out, pdf=pdf, tsa_url=tsa_url)
    collection = collect_period(results, period, trust=trust, tsa_cert=tsa_cert)
    targets = coverage(collection.included)
    fixes = remediations(collection.included)
    page = render_pack_page(
        PackPage(
            period=period,
            collection=collection,
            targets=targets,
            fixes=fixes,
            facts=period_facts(collection, targets, fixes),
            signer_keyid=None if signer is None else signer.keyid,
            trust_file=trust is not None,
            tsa_cert=tsa_cert is not None,
        )
    ).encode("utf-8")
    staging = out.parent / f".{out.name}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        staging.mkdir(parents=True)
        write_atomic(staging / PACK_HTML, page)
        pages = {PACK_HTML: page}
        pinned = False
        if browser is not None:
            pinned = print_pdf(browser, staging / PACK_HTML, staging / PACK_PDF, dated=period.until)
            pages[PACK_PDF] = (staging / PACK_PDF).read_bytes()
        manifest = canonical_json(pack_manifest(collection, period, pages, signer)) + b"\n"
        write_atomic(staging / PACK_MANIFEST, manifest)
        if signer is not None:
            write_atomic(staging / PACK_PUBLIC_KEY, _public_pem(signer))
        envelope = canonical_json(pack_envelope(manifest, signer)) + b"\n"
        write_atomic(staging / PACK_ENVELOPE, envelope)
        if tsa_url is not None:
            write_atomic(staging / PACK_TIMESTAMP, _timestamp(manifest, tsa_url))
        if out.is_dir():
            out.rmdir()  # checked empty before anything was written
        staging.rename(out)
    except OSError as exc:
        raise EvidenceError(f"cannot write the pack at {out}: {exc.strerror or exc}") from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return PackOutcome(out, collection, browser is not None, pinned, tsa_url is not None)


def _public_pem(signer: Signer) -> bytes:
    return signer.public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _timestamp(manifest: bytes, tsa_url: str) -> bytes:
    """The TSA's RFC 3161 answer over the manifest's bytes (EvidenceError when it fails)."""
    return request_timestamp(manifest, tsa_url)


def _check_inputs(results: Path, out: Path, *, pdf: bool, tsa_url: str | None) -> str | None:
    """The Chromium to print with (None without a PDF); SpecError for bad input."""
    problems = []
    if tsa_url is not None:
        try:
            check_tsa_url(tsa_url)
        except EvidenceError as exc:
            problems.append(Problem("command line", None, "--tsa", str(exc)))
    if not results.is_dir():
        problems.append(Problem(str(results), None, "RESULTS", "not a folder"))
    if out.exists() and not (out.is_dir() and not any(out.iterdir())):
        problems.append(
            Problem(str(out), None, "--out", "already exists and is not an empty folder")
        )
    browser = find_chromium() if pdf else None
    if pdf and browser is None:
        problems.append(
            Problem(
                "command line", None, "--out",
                f"no Chromium to print the PDF with (install chromium, set ${CHROMIUM_ENV},"
                " or pass --no-pdf)",
            )
        )  # fmt: skip
    if problems:
        raise SpecError(problems)
    return browser
