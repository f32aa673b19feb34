"""Platform honesty: on anything but Linux the CLI refuses with a clear message and exit 2,
and the pytest plugin refuses to collect or run a drill (other tests are left alone).
``sys.platform`` is the input here, so it is what the tests set."""

from __future__ import annotations

import sys

import pytest

from harness.cli import main
from harness.platform_check import platform_problem
from tests.helpers import TARGETS, small_drill


@pytest.mark.parametrize("platform", ["darwin", "win32", "freebsd14"])
def test_cli_refuses_other_platforms(
    platform: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``govdrill validate`` on macOS, Windows or BSD exits 2 naming the platform, before it
    reads any drill (the drill file here does not even exist)."""
    monkeypatch.setattr(sys, "platform", platform)
    code = main(["validate", "no-such-drill.yaml"])
    err = capsys.readouterr().err
    assert code == 2
    assert f"govdrill runs only on Linux (this is {platform!r})" in err
    assert "no-such-drill" not in err


def test_linux_is_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    """On Linux there is no platform problem."""
    monkeypatch.setattr(sys, "platform", "linux")
    assert platform_problem() is None


DARWIN_WHILE_COLLECTING = """
import sys

import pytest


@pytest.hookimpl(wrapper=True)
def pytest_collect_file(file_path, parent):
    # Only while files are collected: the rest of the inner run (and the stdlib modules it
    # imports lazily) must see the real platform.
    real, sys.platform = sys.platform, "darwin"
    try:
        return (yield)
    finally:
        sys.platform = real
"""


def test_plugin_refuses_drills_but_not_other_tests(pytester: pytest.Pytester) -> None:
    """Off Linux a drill file is a usage error naming the file and the reason, while a
    suite without drills is untouched (the plugin is installed for every pytest run)."""
    pytester.makeconftest(DARWIN_WHILE_COLLECTING)
    pytester.makepyfile(test_plain="def test_one():\n    assert True\n")
    plain = pytester.runpytest("-q", "-p", "no:cacheprovider", "test_plain.py")
    assert plain.ret == pytest.ExitCode.OK
    drill = pytester.makefile(".yaml", ok=small_drill("ok"))
    result = pytester.runpytest("--co", "-q", f"--drill-targets={TARGETS}", str(drill))
    assert result.ret != pytest.ExitCode.OK
    text = "\n".join(result.outlines + result.errlines)
    assert "govdrill runs only on Linux (this is 'darwin')" in text
