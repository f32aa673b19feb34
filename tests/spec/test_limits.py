"""Bad input is refused at validation (exit 2, ``file:line: field:`` or ``--set KEY:``, quickly,
nothing written): malformed URLs, ports out of range, huge durations and names, and ``--set``
values held to the same bounds as files."""

from __future__ import annotations

import itertools
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.cli import main
from harness.errors import SpecError
from harness.spec import load_drill, parse_duration
from harness.spec.durations import MAX_DURATION_S
from harness.spec.models import HttpPath
from harness.spec.ports import parse_port
from tests.helpers import ROOT

DRILL = """\
drill: limits
target:
  target: limits-target
  sandboxes: {process: {command: [x]}}
  control_paths:
    admin_api: {http: {base_url: "http://127.0.0.1:8080", timeout: 1s, stop: {path: /stop}}}
steps:
  - at: 1s
    stop: [admin_api]
"""


def validate(
    tmp_path: Path, text: str, capsys: pytest.CaptureFixture[str], *sets: str
) -> tuple[int, str, float]:
    """Run ``govdrill validate`` on ``text``; return exit code, stderr and CPU seconds taken."""
    path = tmp_path / "drill.yaml"
    path.write_text(text)
    args = ["validate", str(path)]
    for item in sets:
        args += ["--set", item]
    # CPU time: the limits bound the loader's work; a busy machine stretches wall time alone.
    started = time.process_time()
    code = main(args)
    elapsed = time.process_time() - started
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err, elapsed


@pytest.mark.parametrize(
    ("old", "new", "where"),
    [
        (
            "http://127.0.0.1:8080",
            "http://[::1",
            ":6: target.control_paths.admin_api.http.base_url:",
        ),
        ("http://127.0.0.1:8080", "http://127.0.0.1:99999", "base_url: port"),
        ("http://127.0.0.1:8080", "http://127.0.0.1:0", "base_url: port"),
        ("http://127.0.0.1:8080", "ftp://127.0.0.1:21", "base_url: scheme"),
        ("http://127.0.0.1:8080", "http://:8080", "base_url: no host"),
        ("http://127.0.0.1:8080", "http://bad host:8080", "base_url: host"),
        ("http://127.0.0.1:8080", "http://u:pw@127.0.0.1:8080", "base_url: credentials"),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080/?q=1", "base_url: query"),
        ("timeout: 1s", "timeout: 3000000h", ":6: target.control_paths.admin_api.http.timeout:"),
        ("at: 1s", "at: 1e300", ":8: steps[0].at:"),
        ("drill: limits", "drill: " + "a" * 300, ":1: drill:"),
        ("target: limits-target", "target: " + "t" * 300, ":3: target.target:"),
    ],
)
def test_bad_values_refused_at_validation(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], old: str, new: str, where: str
) -> None:
    """Each reported value is refused with exit 2 at its file:line and field, in under 2 s."""
    assert old in DRILL
    code, err, elapsed = validate(tmp_path, DRILL.replace(old, new), capsys)
    assert code == 2, err
    assert where in err, err
    assert elapsed < 2.0


def alias_bomb(levels: int) -> str:
    """A flow-style billion-laughs document: 9**levels leaves from a few hundred bytes."""
    parts = ['&a ["x","x","x","x","x","x","x","x","x"]']
    for prev, cur in itertools.pairwise("abcdefghij"[: levels + 1]):
        parts.append(f"&{cur} [" + ",".join([f"*{prev}"] * 9) + "]")
    return "[" + ", ".join(parts) + "]"


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ("steps=" + "[" * 500, "--set steps: "),
        ("steps=" + "[" * 500 + "]" * 500, "deeper than"),
        ("load.request.json=" + alias_bomb(8), "alias bomb"),
        ("description=" + "x" * 300_000, "larger than"),
        ("steps[0].at=3000000h", "--set steps[0].at: "),
        ("steps[7].at=1s", "--set steps[7].at: "),
        ("no-equals-sign", "--set no-equals-sign: expected KEY=VALUE"),
    ],
    ids=["unclosed-deep", "deep", "alias-bomb", "huge", "duration", "index", "malformed"],
)
def test_set_is_held_to_the_file_limits(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], item: str, message: str
) -> None:
    """``--set`` values go through the bounded loader: refused quickly with ``--set KEY:``."""
    code, err, elapsed = validate(tmp_path, DRILL, capsys, item)
    assert code == 2, err
    assert message in err, err[:500]
    assert elapsed < 2.0


def test_deeply_nested_file_is_refused_not_crashed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A balanced but very deep file is refused by depth, not by a crash of the YAML parser."""
    for depth in (500, 100_000):
        text = DRILL + "description: " + "[" * depth + "]" * depth + "\n"
        code, err, elapsed = validate(tmp_path, text, capsys)
        assert code == 2 and "deeper than" in err, err[:500]
        assert elapsed < 2.0


def test_set_problems_name_the_key_not_the_file(tmp_path: Path) -> None:
    """A bad value that came from ``--set`` is reported as ``--set KEY:``, not at a file line."""
    path = tmp_path / "drill.yaml"
    path.write_text(DRILL)
    with pytest.raises(SpecError) as info:
        load_drill(path, overrides=["load.users=-3"])
    assert str(info.value).startswith("--set load.users: "), str(info.value)


def test_run_with_bad_set_writes_nothing(tmp_path: Path) -> None:
    """``govdrill run`` with a hostile ``--set`` exits 2 at once and creates no results."""
    path = tmp_path / "drill.yaml"
    path.write_text(DRILL)
    results = tmp_path / "results"
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "harness", "run", str(path), "--results", str(results),
         "--set", "load.request.json=" + alias_bomb(8)],
        capture_output=True, text=True, cwd=ROOT, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "--set load.request.json: " in done.stderr and "Traceback" not in done.stderr
    assert not results.exists()
    assert time.monotonic() - started < 10  # includes starting the interpreter


@pytest.mark.parametrize("text", ["8080", " 8080\n", "1", "65535"])
def test_port_file_contents_accepted(text: str) -> None:
    """A port file holds one decimal TCP port, whitespace around it allowed."""
    assert parse_port(text) == int(text)


@pytest.mark.parametrize("text", ["0", "65536", str(8080 + 65536), "-1", "80 80", "0x50", "८०"])
def test_port_file_contents_refused(text: str) -> None:
    """Anything else, including a port that would wrap around modulo 65536, is refused."""
    with pytest.raises(ValueError, match=r"1\.\.65535"):
        parse_port(text)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40) | st.from_regex(r"\A-?\d{1,12}(\.\d{1,3})?(ms|s|m|h)\Z"))
def test_durations_are_bounded_or_refused(text: str) -> None:
    """Every duration that parses is finite, non-negative and at most the documented cap."""
    try:
        seconds = parse_duration(text)
    except ValueError:
        return
    assert 0 <= seconds <= MAX_DURATION_S


@settings(max_examples=300, deadline=None)
@given(
    st.text(max_size=40)
    | st.builds(
        "{}://{}:{}{}".format,
        st.sampled_from(["http", "https", "ftp", ""]),
        st.sampled_from(["127.0.0.1", "[::1]", "[::1", "localhost", "a b", "", "x.example"]),
        st.integers(min_value=-5, max_value=200_000).map(str) | st.text(max_size=4),
        st.sampled_from(["", "/", "/api", "?q", "#f"]),
    )
)
def test_base_urls_validate_strictly_or_are_refused(text: str) -> None:
    """A base_url that validates has an http(s) scheme, a host and a port in 1..65535."""
    from urllib.parse import urlsplit

    try:
        spec = HttpPath.model_validate({"base_url": text})
    except ValueError:
        return
    assert spec.base_url is not None
    parts = urlsplit(spec.base_url)
    assert parts.scheme in ("http", "https") and parts.hostname
    assert 1 <= (parts.port or 443) <= 65535


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=12) | st.integers(min_value=-(2**20), max_value=2**20).map(str))
def test_any_port_file_text_is_a_port_or_refused(text: str) -> None:
    """Whatever a target writes, the harness reads a port in 1..65535 or refuses it."""
    try:
        port = parse_port(text)
    except ValueError:
        return
    assert 1 <= port <= 65535 and str(port) == text.strip().lstrip("0")
