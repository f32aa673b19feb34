"""Print the pack's HTML page to PDF through headless Chromium, with a pinned date.

Chromium (Skia) writes the instant of printing as the PDF's ``/CreationDate`` and
``/ModDate``; nothing else in its output varies between two prints of one page by one
Chromium build with one set of fonts. Both dates are replaced, byte for byte in place (the
same length, so the cross-reference offsets stay right), with the end of the pack's period,
so the PDF's bytes depend on the inputs alone. A PDF whose dates are not in the form
expected is kept as printed, and the caller is told.
"""

from __future__ import annotations

import datetime as _dt
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from harness.errors import EvidenceError

__all__ = ["CHROMIUM_ENV", "find_chromium", "print_pdf"]

CHROMIUM_ENV = "GOVDRILL_CHROMIUM"
"""A path to the Chromium (or Chrome) binary, when it is not on PATH by a usual name."""
_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
_TIMEOUT_S = 120.0
_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync",
    "--disable-background-networking", "--disable-component-update", "--disable-quic",
    "--no-pdf-header-footer", "--hide-scrollbars",
)  # fmt: skip
"""No network, no header or footer (they would print the page's path and the date)."""
_DATE = re.compile(rb"/(CreationDate|ModDate) \(D:\d{14}[+-]\d{2}'\d{2}'\)")


def find_chromium() -> str | None:
    """The Chromium to print with: $GOVDRILL_CHROMIUM (None when it names no executable:
    never silently another browser), else the first usual name on PATH."""
    configured = os.environ.get(CHROMIUM_ENV, "").strip()
    if configured:
        return shutil.which(configured)
    for name in _NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


def print_pdf(browser: str, page: Path, out: Path, *, dated: _dt.datetime) -> bool:
    """Print the HTML file ``page`` to ``out``; returns whether the dates were pinned to
    ``dated``. Raises EvidenceError when Chromium fails or writes no PDF."""
    with tempfile.TemporaryDirectory(prefix="govdrill-chromium-") as profile:
        try:
            done = subprocess.run(
                [browser, *_FLAGS, f"--user-data-dir={profile}", f"--print-to-pdf={out}",
                 page.resolve().as_uri()],
                capture_output=True, timeout=_TIMEOUT_S, check=False,
            )  # fmt: skip
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise EvidenceError(f"headless Chromium ({browser}) could not print: {exc}") from exc
    try:
        data = out.read_bytes()
    except OSError:
        data = b""
    if done.returncode != 0 or not data.startswith(b"%PDF-"):
        tail = done.stderr.decode(errors="replace")[-400:]
        raise EvidenceError(
            f"headless Chromium ({browser}) printed no PDF (exit {done.returncode}): {tail}"
        )
    pinned, count = _DATE.subn(lambda m: _date_field(m.group(1), dated), data)
    if count != 2 or len(pinned) != len(data):
        return False
    out.write_bytes(pinned)
    return True


def _date_field(name: bytes, when: _dt.datetime) -> bytes:
    stamp = when.astimezone(_dt.UTC).strftime("%Y%m%d%H%M%S").encode()
    return b"/" + name + b" (D:" + stamp + b"+00'00')"
