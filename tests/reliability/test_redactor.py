"""The redactor hides a secret in every encoding, before any cut, in every writer it guards."""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.control import HttpBackend
from harness.evidence import RunDir, write_atomic, write_json
from harness.redact import MIN_FRAGMENT, Redactor, SecretValues, scrub_folder
from harness.sandbox.base import Endpoint
from harness.sandbox.capture import OutputCapture
from harness.spec.models import HttpCall, HttpPath
from harness.timeline import Timeline
from tests.helpers import serving
from tests.reliability.test_secret_leaks import base64_cores

TOKEN = 'tok-"q\\uo/ted" & <a> +%20=? 5f0e9c1d2b3a4f6e'
"""A 32+ character token with every character that an encoding changes."""


@pytest.fixture
def redactor() -> Redactor:
    """A redactor of the one token."""
    return Redactor({"admin_token": TOKEN})


def test_json_escaped_secret_with_a_quote_is_found(redactor: Redactor) -> None:
    """A secret holding ``"`` is matched in JSON text, where it reads ``\\"`` (issue 12.6)."""
    text = json.dumps({"echo": TOKEN, "nested": json.dumps({"echo": TOKEN})})
    clean = redactor.redact(text)
    assert TOKEN not in clean and json.dumps(TOKEN)[1:-1] not in clean
    assert json.dumps(json.dumps(TOKEN)[1:-1])[1:-1] not in clean
    assert json.loads(clean)["echo"] == "[REDACTED:admin_token]"


@pytest.mark.parametrize(
    "encode",
    [
        lambda s: s,
        lambda s: quote(s, safe=""),
        quote,
        quote_plus,
        lambda s: quote(s, safe="").lower(),
        lambda s: repr(s.encode()),
        lambda s: base64.b64encode(s.encode()).decode(),
        lambda s: base64.urlsafe_b64encode(s.encode()).decode(),
        lambda s: base64.b64encode(b"admin:" + s.encode()).decode(),
    ],
)
def test_each_encoding_is_hidden(redactor: Redactor, encode: object) -> None:
    """Raw, URL-encoded, repr and base64 (Basic auth too) forms are replaced."""
    assert callable(encode)
    encoded = encode(TOKEN)
    clean = redactor.redact(f"before {encoded} after")
    assert "[REDACTED:admin_token]" in clean
    for form in {TOKEN, quote(TOKEN, safe=""), quote_plus(TOKEN)} | base64_cores(TOKEN):
        assert form not in clean


@settings(max_examples=200, deadline=None)
@given(prefix=st.binary(max_size=7), suffix=st.binary(max_size=7))
def test_base64_of_a_secret_at_any_alignment(prefix: bytes, suffix: bytes) -> None:
    """base64 of anything that holds the secret keeps no core of it, whatever its offset."""
    redactor = Redactor({"t": TOKEN})
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        clean = redactor.redact(encode(prefix + TOKEN.encode() + suffix).decode())
        assert "[REDACTED:t]" in clean
        assert not any(core in clean for core in base64_cores(TOKEN))


def test_redacted_before_it_is_cut(redactor: Redactor) -> None:
    """Cutting after redaction leaves no fragment; cut-off text hides a trailing prefix."""
    text = "x" * 172 + TOKEN + "y" * 50
    assert TOKEN[:MIN_FRAGMENT] not in redactor.redact(text)[:200]
    cut = redactor.redact(text[:200], cut=True)
    assert TOKEN[:MIN_FRAGMENT] not in cut and cut.endswith("[REDACTED:admin_token]")


@settings(max_examples=200, deadline=None)
@given(
    before=st.text(max_size=40),
    after=st.text(max_size=40),
    cuts=st.lists(st.integers(min_value=0, max_value=200), max_size=6),
)
def test_stream_redaction_matches_whole_text(before: str, after: str, cuts: list[int]) -> None:
    """Fed in chunks split anywhere, a stream comes out as if redacted whole."""
    redactor = Redactor({"t": TOKEN})
    data = (before + TOKEN + after + quote(TOKEN) + before).encode()
    stream = redactor.stream()
    out, last = b"", 0
    for cut in [*sorted({min(c, len(data)) for c in cuts}), len(data)]:
        out += stream.feed(data[last:cut])
        last = cut
    out += stream.flush()
    assert out == redactor.redact_bytes(data)
    assert TOKEN.encode() not in out


def test_short_secret_cannot_be_built_into_evidence_mangling() -> None:
    """An empty value is ignored; a run without secrets changes nothing."""
    assert Redactor({"a": ""}).redact("anything") == "anything"
    assert not Redactor()


def test_error_message_is_redacted(redactor: Redactor) -> None:
    """An exception quoting a secret keeps its type, loses the secret and its chain."""
    try:
        try:
            raise ValueError(f"Invalid header value {TOKEN.encode()!r}")
        except ValueError as inner:
            raise RuntimeError(f"call failed: {inner}") from inner
    except RuntimeError as exc:
        clean = redactor.redact_error(exc)
    assert isinstance(clean, RuntimeError)
    assert TOKEN not in str(clean) and "[REDACTED:admin_token]" in str(clean)
    assert clean.__cause__ is None


def test_timeline_and_its_listeners_see_only_redacted_events(
    tmp_path: Path, redactor: Redactor
) -> None:
    """The journal line and the live view's copy of an event are both redacted."""
    seen: list[dict[str, object]] = []
    timeline = Timeline(tmp_path / "timeline.jsonl", zero_ns=0, redactor=redactor)
    timeline.listen(seen.append)
    timeline.event("step_returned", detail=f"HTTP 200 {json.dumps({'echo': TOKEN})}", n=12)
    timeline.close()
    line = (tmp_path / "timeline.jsonl").read_text()
    assert TOKEN not in line and json.dumps(TOKEN)[1:-1] not in line
    assert json.loads(line)["n"] == 12
    assert TOKEN not in json.dumps(seen) and "[REDACTED:admin_token]" in str(seen[0]["detail"])


def test_writers_redact_inside_a_run_folder_only(tmp_path: Path, redactor: Redactor) -> None:
    """write_json and write_atomic redact under a registered run folder, nowhere else."""
    run = RunDir(tmp_path / "results", "d", "stamp", "id", redactor=redactor)
    staging = run.create()
    (staging / "snapshots").mkdir()
    write_json(staging / "snapshots" / "status.json", {"detail": TOKEN, "n": 1})
    write_atomic(staging / "report.html", f"<p>{TOKEN}</p>".encode())
    assert TOKEN not in (staging / "snapshots" / "status.json").read_text()
    assert json.loads((staging / "snapshots" / "status.json").read_text())["n"] == 1
    assert TOKEN not in (staging / "report.html").read_text()
    write_atomic(tmp_path / "elsewhere.txt", TOKEN.encode())
    assert (tmp_path / "elsewhere.txt").read_text() == TOKEN


def test_scrub_rewrites_copied_files_gzip_too(tmp_path: Path, redactor: Redactor) -> None:
    """Files copied in by other means are rewritten; a skipped journal is left as it is."""
    import gzip

    (tmp_path / "load.stderr.log").write_text(f"error: bad header {TOKEN!r}\n")
    (tmp_path / "events.jsonl.gz").write_bytes(gzip.compress(TOKEN.encode() * 3))
    (tmp_path / "timeline.jsonl").write_text(TOKEN)
    (tmp_path / "clean.txt").write_text("nothing here")
    changed = scrub_folder(tmp_path, redactor, skip=["timeline.jsonl"])
    assert sorted(changed) == ["events.jsonl.gz", "load.stderr.log"]
    assert TOKEN not in (tmp_path / "load.stderr.log").read_text()
    assert TOKEN.encode() not in gzip.decompress((tmp_path / "events.jsonl.gz").read_bytes())
    assert (tmp_path / "timeline.jsonl").read_text() == TOKEN


def test_captured_output_is_redacted_across_writes(tmp_path: Path, redactor: Redactor) -> None:
    """A target's output, with the secret split over two writes to a real pipe, is clean."""
    capture = OutputCapture(tmp_path / "target.stdout.log", redactor=redactor)
    write_fd = capture.write_fd
    keep = os.dup(write_fd)
    capture.start()  # closes its own copy; ``keep`` plays the target
    half = len(TOKEN) // 2
    os.write(keep, f"token={TOKEN[:half]}".encode())
    os.write(keep, f"{TOKEN[half:]} done\n".encode())
    os.close(keep)
    capture.close()
    assert (tmp_path / "target.stdout.log").read_text() == "token=[REDACTED:admin_token] done\n"


@pytest.fixture
def echo_server() -> Iterator[Endpoint]:
    """A real HTTP server whose answer carries the token across the 200th character."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            pad = 2040 if self.path == "/long" else 180
            body = ("." * pad + TOKEN + "." * 4000).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            """Quiet."""

    with serving(Handler) as port:
        yield Endpoint(f"http://127.0.0.1:{port}", "127.0.0.1", port)


def test_control_detail_is_redacted_before_it_is_cut(echo_server: Endpoint) -> None:
    """Issue 12.6: a detail cut at 200 characters keeps no fragment of the token."""
    values = SecretValues({"admin_token": TOKEN})
    spec = HttpPath(stop=HttpCall(path="/stop"), headers={"Authorization": "${admin_token}"})
    backend = HttpBackend("admin_api", spec, echo_server, values, clock=lambda: 0)
    detail = backend.request(HttpCall(path="/stop"), None).detail
    assert "[REDACTED" in detail
    for i in range(len(TOKEN) - MIN_FRAGMENT + 1):
        assert TOKEN[i : i + MIN_FRAGMENT] not in detail.replace(".", "")
    # The read stops 8 characters into the token: its beginning is hidden all the same.
    cut = backend.request(HttpCall(path="/long"), None, keep_chars=2048).detail
    assert cut.endswith("[REDACTE") and TOKEN[:MIN_FRAGMENT] not in cut
