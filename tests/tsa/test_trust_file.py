"""Trust files: keys with validity windows, read at the boundary; bad input names file:line."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from harness.errors import SpecError
from harness.integrity import generate_keypair, key_id, load_public_key, load_trust
from tests.helpers import govdrill


@pytest.fixture
def public_key(tmp_path: Path) -> Path:
    """An Ed25519 public key file, as `govdrill keygen` writes it."""
    _, public = generate_keypair(tmp_path / "k.key")
    return public


def _write(tmp_path: Path, text: str, name: str = "trust.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_paths_inline_pem_dates_and_open_ends_are_read(tmp_path: Path, public_key: Path) -> None:
    """A path relative to the file, inline PEM, a date, an aware time, and no end at all."""
    pem = public_key.read_text()
    inline = "\n".join("    " + line for line in pem.splitlines())
    trust = _write(
        tmp_path,
        f"""\
- name: ci-2026-q1
  key: {public_key.name}
  not_before: 2026-01-01
  not_after: 2026-04-01T00:00:00+02:00
- key: |
{inline}
  not_before: "2026-04-01T00:00:00Z"
""",
    )
    first, second = load_trust(trust)
    expected_id = key_id(load_public_key(public_key.read_bytes(), "k"))
    assert first.key_id == second.key_id == expected_id
    assert first.name == "ci-2026-q1" and second.name == ""
    assert first.not_before == dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    assert first.not_after == dt.datetime(2026, 3, 31, 22, tzinfo=dt.UTC)
    assert second.not_before == dt.datetime(2026, 4, 1, tzinfo=dt.UTC)
    assert second.not_after is None
    assert first.where == f"{trust}:1" and second.where == f"{trust}:5"
    assert first.valid_at(dt.datetime(2026, 3, 31, 22, tzinfo=dt.UTC))  # ends inclusive
    assert not first.valid_at(dt.datetime(2026, 3, 31, 22, 0, 1, tzinfo=dt.UTC))
    assert not first.valid_at(dt.datetime(2025, 12, 31, 23, 59, 59, tzinfo=dt.UTC))


def test_the_json_form_is_read_too(tmp_path: Path, public_key: Path) -> None:
    """JSON is YAML: the same list as JSON, dates as text."""
    trust = _write(
        tmp_path,
        f'[{{"key": "{public_key.name}", "not_before": "2026-01-01",'
        ' "not_after": "2026-02-01T00:00:00Z"}]',
        "trust.json",
    )
    (key,) = load_trust(trust)
    assert key.not_before == dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def test_every_problem_is_named_with_its_line(tmp_path: Path, public_key: Path) -> None:
    """Unknown field, missing key, unreadable path, bad PEM, a bare time, an inverted window,
    a hostile name: all reported at once, each at its line."""
    rsa_pem = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    (tmp_path / "ec.pub").write_bytes(rsa_pem)
    trust = _write(
        tmp_path,
        f"""\
- key: {public_key.name}
  not_befor: 2026-01-01
- not_before: 2026-01-01
- key: absent.pub
- key: "-----BEGIN PUBLIC KEY-----\\nnot base64\\n-----END PUBLIC KEY-----\\n"
- key: {public_key.name}
  not_before: 2026-01-01 10:00:00
- key: {public_key.name}
  not_before: 2026-05-01
  not_after: 2026-04-01
- key: ec.pub
- key: {public_key.name}
  name: "evil\\u001b[2Jname"
- key: {public_key.name}
  not_after: next tuesday
- just a string
""",
    )
    with pytest.raises(SpecError) as caught:
        load_trust(trust)
    text = str(caught.value)
    for expected in (
        f"{trust}:2: [0].not_befor: unknown field",
        f"{trust}:3: [1].key: required",
        f"{trust}:4: [2].key: cannot read absent.pub",
        f"{trust}:5: [3].key: not a PEM public key",
        f"{trust}:7: [4].not_before: give the time zone",
        f"{trust}:10: [5].not_after: 2026-04-01T00:00:00+00:00 is before not_before",
        f"{trust}:11: [6].key: not an Ed25519 public key",
        f"{trust}:13: [7].name: a printable text",
        f"{trust}:15: [8].not_after: not an ISO 8601 time",
        f"{trust}:16: [9]: each entry is a mapping",
    ):
        assert expected in text, text
    assert "\x1b" not in text


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "file is empty"),
        ("[]", "a non-empty list of keys"),
        ("keys: []", "a non-empty list of keys"),
        ("- key: [unclosed", "invalid YAML"),
    ],
)
def test_a_file_that_is_not_a_list_of_keys_is_bad_input(
    tmp_path: Path, text: str, message: str
) -> None:
    """Empty, an empty list, a mapping, broken YAML: one problem naming the file."""
    with pytest.raises(SpecError, match=message):
        load_trust(_write(tmp_path, text))


def test_verify_with_a_bad_trust_file_exits_2_naming_file_and_line(tmp_path: Path) -> None:
    """The command line: file:line: field: message on stderr, exit 2, before any run is read."""
    trust = _write(tmp_path, "- name: only a name\n")
    done = govdrill("verify", str(tmp_path), "--trust", str(trust))
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"{trust}:1: [0].key: required" in done.stderr


def test_verify_refuses_key_and_trust_together(tmp_path: Path, public_key: Path) -> None:
    """One way to name the trusted keys per verify: both is bad input."""
    trust = _write(tmp_path, f"- key: {public_key.name}\n")
    done = govdrill("verify", str(tmp_path), "--trust", str(trust), "--key", str(public_key))
    assert done.returncode == 2
    assert "not both" in done.stderr
