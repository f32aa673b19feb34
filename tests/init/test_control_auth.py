"""`govdrill init`'s --control-header and --secret: malformed ones are exit 2 naming the flag
before any request, and good ones become the control path's headers and the target's
secrets, written as sources, never as values."""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

import pytest
import yaml

from harness.init.control_auth import (
    ControlHeader,
    SecretSource,
    parse_control_auth,
)
from harness.init.questions import BadAnswer
from tests.helpers import govdrill, serving
from tests.init.conftest import needs_contract
from tests.init.services import openai_handler


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _init(url: str, out: Path, *args: str, **kw: object) -> subprocess.CompletedProcess[str]:
    return govdrill(
        "init", url, "--out", str(out), *args, stdin=subprocess.DEVNULL, timeout=60, **kw
    )


@pytest.mark.parametrize(
    ("spec", "says"),
    [
        ("token", "expected NAME=env:VAR, NAME=file:PATH or NAME=generate"),
        ("token=vault:x", "expected NAME=env:VAR"),
        ("token=env:", "env: needs an environment variable's name"),
        ("token=env:A B", "env: needs an environment variable's name"),
        ("token=file:", "file: needs a path"),
        ("token=generate:yes", "expected NAME=env:VAR"),
        ("9lives=generate", "a secret's name is letters, digits and _"),
        ("my-token=generate", "a secret's name is letters, digits and _"),
    ],
)
def test_a_malformed_secret_is_bad_input_naming_the_flag(spec: str, says: str) -> None:
    """Each malformed --secret is refused with what the flag expects."""
    with pytest.raises(BadAnswer) as raised:
        parse_control_auth(None, [spec])
    assert str(raised.value).startswith("--secret ") and says in str(raised.value)
    assert raised.value.exit_code == 2


@pytest.mark.parametrize(
    ("header", "says"),
    [
        ("Authorization: Bearer x\r\nX-Evil: 1", "no line break or NUL"),
        ("X-Evil\n: 1", "no line break or NUL"),
        ("X-Key: a\0b", "no line break or NUL"),
        ("Authorization Bearer x", "expected 'NAME: VALUE'"),
        ("Bad Name: x", "expected 'NAME: VALUE'"),
        ("X-Key:", "the value is empty"),
        ("X-Key: ${not-a-name}", "is not a reference"),
        ("X-Key: ${open", "an unclosed ${"),
    ],
)
def test_a_malformed_header_is_bad_input_naming_the_flag(header: str, says: str) -> None:
    """A header that could smuggle another header, or is not NAME: VALUE, is refused."""
    with pytest.raises(BadAnswer) as raised:
        parse_control_auth([header], ["key=generate"])
    assert str(raised.value).startswith("--control-header ") and says in str(raised.value)


def test_a_reference_no_secret_declares_is_bad_input_naming_both_flags() -> None:
    """``${key}`` with no --secret key would fall back to an environment variable at run
    time: refused, saying which --secret to add."""
    with pytest.raises(BadAnswer) as raised:
        parse_control_auth(["Authorization: Bearer ${key}"], ["other=env:OTHER"])
    message = str(raised.value)
    assert message.startswith("--control-header Authorization:")
    assert "${key} is not declared" in message and "--secret key=env:VAR" in message


def test_a_value_is_never_echoed_in_an_error() -> None:
    """A literal token in a header with a line break is not shown back to the user."""
    with pytest.raises(BadAnswer) as raised:
        parse_control_auth(["Authorization: Bearer sk-live-123456\n"], None)
    assert "sk-live-123456" not in str(raised.value)


def test_twice_the_same_name_is_bad_input() -> None:
    """A secret or a header (in any case) given twice is refused."""
    with pytest.raises(BadAnswer, match="--secret key: given twice"):
        parse_control_auth(None, ["key=generate", "key=env:K"])
    with pytest.raises(BadAnswer, match="--control-header x-key: given twice"):
        parse_control_auth(["X-Key: a", "x-key: b"], None)


def test_good_flags_parse_into_typed_sources(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """env, file (made absolute against the current folder, where the user meant it) and
    generate; the header keeps its references."""
    monkeypatch.chdir(tmp_path)
    auth = parse_control_auth(
        ["Authorization: Bearer ${a}", "X-Other: ${b}-${c}"],
        ["a=env:TOKEN", "b=file:secret.txt", "c=generate"],
    )
    assert auth.secrets == (
        SecretSource("a", env="TOKEN"),
        SecretSource("b", file=str(tmp_path / "secret.txt")),
        SecretSource("c", generate=True),
    )
    assert auth.headers[0] == ControlHeader("Authorization", "Bearer ${a}")
    assert auth.headers[1].references == ("b", "c")


def test_bad_flags_are_refused_before_any_request(tmp_path: Path) -> None:
    """With nothing listening, a bad --secret is still the error reported (not "no answer"),
    exit 2, and nothing is written."""
    result = _init(
        f"http://127.0.0.1:{_closed_port()}", tmp_path,
        "--control-header", "Authorization: Bearer ${key}",
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert "--control-header Authorization: ${key} is not declared" in result.stderr
    assert "no answer" not in result.stderr
    assert list(tmp_path.iterdir()) == []


@needs_contract
def test_the_header_and_secret_are_written_as_sources_and_validate(tmp_path: Path) -> None:
    """The control path carries the header, the target declares the secret by its source,
    the drill validates, and the secret's value (set in init's own environment) is in no
    written file."""
    value = "s3cret-value-that-init-never-reads"
    with serving(openai_handler(["m"])) as port:
        result = _init(
            f"http://127.0.0.1:{port}", tmp_path, "--yes",
            "--stop-call", "POST /admin/stop",
            "--control-header", "Authorization: Bearer ${admin}",
            "--control-header", "X-Api-Key: fixed-literal",
            "--secret", "admin=env:ADMIN_TOKEN",
            env={**os.environ, "ADMIN_TOKEN": value},
        )  # fmt: skip
    assert result.returncode == 0, result.stderr
    target_file = tmp_path / "targets" / "m" / "target.yaml"
    target = yaml.safe_load(target_file.read_text())
    assert target["secrets"] == {"admin": {"env": "ADMIN_TOKEN"}}
    assert target["control_paths"]["admin"]["http"]["headers"] == {
        "Authorization": "Bearer ${admin}",
        "X-Api-Key": "fixed-literal",
    }
    assert "the header X-Api-Key holds a literal value" in result.stdout
    for path in tmp_path.rglob("*"):
        assert not path.is_file() or value not in path.read_text()
    checked = govdrill("validate", str(tmp_path / "drills" / "m-stop.yaml"))
    assert checked.returncode == 0, checked.stderr
