"""`--authorized-by` / $GOVDRILL_AUTHORIZED_BY: who ordered the drill, in the signed statement
and summary.json; hostile values are refused at the boundary and escaped on the way out."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest

from harness.errors import SpecError
from harness.integrity import AUTHORIZED_BY_ENV, choose_authorized_by, printable
from tests.evidence.runs import SHORT
from tests.helpers import govdrill


def _statement(run: Path) -> dict[str, object]:
    envelope = json.loads((run / "attestation.dsse.json").read_text())
    predicate: dict[str, object] = json.loads(base64.b64decode(envelope["payload"]))["predicate"]
    return predicate


@pytest.mark.slow
def test_the_environment_names_who_authorized_and_it_is_signed(tmp_path: Path) -> None:
    """$GOVDRILL_AUTHORIZED_BY lands in summary.json and the signed statement; an edit of it
    afterwards is caught by verify."""
    assert govdrill("keygen", str(tmp_path / "k.key")).returncode == 0
    env = {**os.environ, AUTHORIZED_BY_ENV: "  ops on-call (PagerDuty #4411)  "}
    done = govdrill(
        "run", str(SHORT), "--results", str(tmp_path / "results"), "-q",
        "--sign-key", str(tmp_path / "k.key"), env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    (run,) = (tmp_path / "results" / "evidence-short").iterdir()
    summary = json.loads((run / "summary.json").read_text())
    assert summary["authorized_by"] == "ops on-call (PagerDuty #4411)"
    assert _statement(run)["authorized_by"] == "ops on-call (PagerDuty #4411)"
    assert "authorized by <b>ops on-call (PagerDuty #4411)</b>" in (run / "report.html").read_text()
    verified = govdrill("verify", str(run), "--key", str(tmp_path / "k.key.pub"))
    assert verified.returncode == 0
    assert "authorized by: ops on-call (PagerDuty #4411)" in verified.stdout
    (run / "summary.json").write_text(
        (run / "summary.json").read_text().replace("ops on-call", "the CEO   ")
    )
    tampered = govdrill("verify", str(run), "--key", str(tmp_path / "k.key.pub"))
    assert tampered.returncode == 1
    assert "FAIL changed: summary.json" in tampered.stdout


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("Jane\nAUTHORIZED BY: the board", "contains control or invisible"),
        ("Jane \x1b[31mRoe", "contains control or invisible"),
        ("Jane \u202eeoR", "contains control or invisible"),
        ("x" * 201, "201 characters; at most 200"),
        ("   ", "empty"),
    ],
)
def test_a_hostile_flag_is_bad_input_and_nothing_is_written(
    tmp_path: Path, value: str, words: str
) -> None:
    """Forged lines, escape sequences, bidi overrides, floods, blanks: exit 2 before any drill
    runs, nothing under results/, and the message shows the value escaped."""
    results = tmp_path / "results"
    done = govdrill("run", str(SHORT), "--results", str(results), "-q", "--authorized-by", value)
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"--authorized-by: authorized_by: {words}" in done.stderr
    assert "\x1b" not in done.stderr and "\u202e" not in done.stderr
    assert done.stderr.count("\n") == 1  # one line: a newline in the value forged none
    assert not results.exists()


def test_the_flag_wins_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """--authorized-by beats the variable; a blank variable means nobody was named."""
    monkeypatch.setenv(AUTHORIZED_BY_ENV, "from the environment")
    assert choose_authorized_by("from the flag") == "from the flag"
    assert choose_authorized_by(None) == "from the environment"
    monkeypatch.setenv(AUTHORIZED_BY_ENV, "  ")
    assert choose_authorized_by(None) is None
    monkeypatch.setenv(AUTHORIZED_BY_ENV, "bad\tvalue")
    with pytest.raises(SpecError, match=r"\$GOVDRILL_AUTHORIZED_BY: authorized_by"):
        choose_authorized_by(None)


def test_printable_escapes_what_a_run_folder_might_carry() -> None:
    """A value read back from a (possibly forged) run is shown on one line, escaped, bounded."""
    assert printable("Zoë Roe") == "Zoë Roe"
    assert "\n" not in printable("a\nb") and "\\n" in printable("a\nb")
    assert "\x1b" not in printable("\x1b[2J")
    assert len(printable("y" * 5000)) == 200
