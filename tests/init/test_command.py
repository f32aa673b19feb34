"""`govdrill init URL` as a user runs it: bad input is exit 2 naming the flag with nothing
written, and the files it writes validate and run against the live service."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.helpers import govdrill, serving, summary_of
from tests.init.conftest import needs_contract
from tests.init.services import openai_handler, plain_handler, v2_handler


def _init(url: str, out: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return govdrill("init", url, "--out", str(out), *args, stdin=subprocess.DEVNULL, timeout=60)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_without_a_terminal_a_missing_answer_is_exit_2_naming_its_flag(tmp_path: Path) -> None:
    """Plain HTTP needs the load's path and the stop call: with stdin not a terminal and no
    flag, init exits 2 naming the flag, and writes nothing."""
    with serving(plain_handler()) as port:
        url = f"http://127.0.0.1:{port}"
        first = _init(url, tmp_path)
        second = _init(url, tmp_path, "--path", "/predict", "--method", "POST")
    assert first.returncode == 2, first.stderr
    assert "pass --path" in first.stderr and "not a terminal" in first.stderr
    assert second.returncode == 2 and "--json" in second.stderr and "--yes" in second.stderr
    assert list(tmp_path.iterdir()) == []


def test_openai_without_a_stop_call_is_exit_2(tmp_path: Path) -> None:
    """An OpenAI-compatible API has no standard stop: --stop-call is required."""
    with serving(openai_handler(["m"])) as port:
        result = _init(f"http://127.0.0.1:{port}", tmp_path)
    assert result.returncode == 2 and "pass --stop-call" in result.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://192.0.2.1:8080", "--allow-remote"),
        ("ftp://127.0.0.1/", "scheme must be http or https"),
        ("http://user:pw@127.0.0.1:1/", "credentials in the URL"),
        ("http://127.0.0.1:1/api/v1", "without a path"),
    ],
)
def test_a_bad_or_remote_url_is_exit_2_before_any_request(
    tmp_path: Path, url: str, says: str
) -> None:
    """A URL beyond loopback needs --allow-remote (as the external sandbox does); a URL that
    is not http(s) or carries credentials is refused (without echoing the password)."""
    result = _init(url, tmp_path)
    assert result.returncode == 2 and says in result.stderr
    assert "pw" not in result.stderr.replace("pass", "")
    assert list(tmp_path.iterdir()) == []


def test_nothing_listening_is_exit_2(tmp_path: Path) -> None:
    """No service at the URL: exit 2 saying so."""
    result = _init(f"http://127.0.0.1:{_closed_port()}", tmp_path)
    assert result.returncode == 2 and "no answer from" in result.stderr
    assert "connection refused" in result.stderr


def test_existing_files_are_refused_before_the_service_is_probed(tmp_path: Path) -> None:
    """With --name, existing files are refused before any request (here there is not even a
    service), naming --force; the file is untouched."""
    existing = tmp_path / "targets" / "svc" / "target.yaml"
    existing.parent.mkdir(parents=True)
    existing.write_text("mine\n")
    result = _init(f"http://127.0.0.1:{_closed_port()}", tmp_path, "--name", "svc")
    assert result.returncode == 2 and "--force" in result.stderr
    assert "no answer" not in result.stderr
    assert existing.read_text() == "mine\n"


@needs_contract
@pytest.mark.parametrize("kind", ["v2", "v2-hostile", "openai", "plain"])
def test_the_written_files_validate(tmp_path: Path, kind: str) -> None:
    """For each kind of service, init exits 0 and `govdrill validate` accepts the drill."""
    handler, flags = {
        "v2": (v2_handler(["iris"]), []),
        "v2-hostile": (v2_handler(["a: b\n- x"]), []),
        "openai": (openai_handler(["m"]), ["--stop-call", "POST /admin/stop", "--yes"]),
        "plain": (
            plain_handler(),
            [
                "--path",
                "/predict",
                "--json",
                '{"x": 1}',
                "--stop-call",
                "POST /ops/stop",
                "--resume-call",
                "POST /ops/start",
                "--yes",
            ],
        ),
    }[kind]
    with serving(handler) as port:
        result = _init(f"http://127.0.0.1:{port}", tmp_path, *flags)
    assert result.returncode == 0, result.stderr
    drills = list((tmp_path / "drills").glob("*.yaml"))
    assert len(drills) == 1 and "recognised:" in result.stdout
    checked = govdrill("validate", str(drills[0]))
    assert checked.returncode == 0, checked.stderr


@needs_contract
def test_force_replaces_both_files(tmp_path: Path) -> None:
    """A second init of the same service is refused, then replaces both files with --force."""
    with serving(v2_handler(["iris"])) as port:
        url = f"http://127.0.0.1:{port}"
        assert _init(url, tmp_path).returncode == 0
        again = _init(url, tmp_path)
        forced = _init(url, tmp_path, "--force")
    assert again.returncode == 2 and "--force" in again.stderr
    assert forced.returncode == 0, forced.stderr


@needs_contract
@pytest.mark.slow
def test_the_written_drill_runs_against_the_live_v2_service(tmp_path: Path) -> None:
    """The drill init wrote for a V2 server stops it by unloading the model (its answers turn
    into the 404 observed for a missing model), resumes it by loading, and passes."""
    with serving(v2_handler(["iris"])) as port:
        assert _init(f"http://127.0.0.1:{port}", tmp_path).returncode == 0
        drill = tmp_path / "drills" / "iris-stop.yaml"
        target = yaml.safe_load((tmp_path / "targets" / "iris" / "target.yaml").read_text())
        assert target["safe_state"]["statuses"] == [404]
        results = tmp_path / "results"
        run = govdrill("run", str(drill), "--results", str(results), "-q", timeout=180)
    assert run.returncode == 0, run.stdout + run.stderr
    runs = [p for p in results.glob("*/*") if p.is_dir() and not p.name.startswith(".")]
    assert len(runs) == 1 and summary_of(runs[0])["verdict"] == "passed"
