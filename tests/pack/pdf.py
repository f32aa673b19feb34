"""Reading the pack's PDF back: whether Chromium is here to print one, and its text."""

from __future__ import annotations

import os
import re
import unicodedata
from pathlib import Path

import pytest

from harness.pack import find_chromium


def has_chromium() -> bool:
    """Whether a Chromium is at hand; with GOVDRILL_REQUIRE_CHROMIUM=1 (CI) its absence fails
    the session instead of skipping the PDF."""
    if find_chromium() is not None:
        return True
    if os.environ.get("GOVDRILL_REQUIRE_CHROMIUM") == "1":
        pytest.fail("GOVDRILL_REQUIRE_CHROMIUM=1 but no chromium on PATH")
    return False


def require_chromium() -> None:
    """Skip a PDF test without Chromium (fail under GOVDRILL_REQUIRE_CHROMIUM=1)."""
    if not has_chromium():
        pytest.skip("chromium is not installed (apt-get install -y chromium); CI requires it")


def pdf_text(path: Path) -> str:
    """All the PDF's text with every run of whitespace removed: Chromium wraps table cells
    anywhere, so facts are compared without the spaces and line breaks it chose."""
    from pypdf import PdfReader

    reader = PdfReader(path)
    text = "".join(page.extract_text() or "" for page in reader.pages)
    # The fonts' ligatures (fi, fl) come back as one character each: NFKC splits them.
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


def squeezed(text: str) -> str:
    """``text`` without whitespace, to look for in ``pdf_text``."""
    return re.sub(r"\s+", "", text)
