"""`govdrill init` pointed at real model servers nobody here wrote, started by the test as a
user would start their own service: KServe (the V2 protocol, stopped by a repository unload)
and LitServe behind its OpenAI spec (stopped by its bearer-protected shutdown API). The files
init writes validate and run, and the harness's promises hold on what each server answered."""

from __future__ import annotations

import base64
import contextlib
import csv
import gzip
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.observations import State
from tests.helpers import TARGETS, govdrill, labelled_processes, only_run, summary_of, wait_for
from tests.servers.conftest import require_server_venv

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("servers")]

READY_TIMEOUT_S = 120.0
"""A generous bound for a real server's start-up on a loaded 2-core machine (12-24 s seen)."""
LITSERVE_OPENAI = Path(__file__).with_name("litserve_openai.py")
KSERVE_BODY = {"inputs": [{"name": "text", "shape": [1], "datatype": "BYTES", "data": ["a day"]}]}
"""KServe's custom model declares no input metadata, so the V2 infer body is given (--json)."""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _http(
    method: str, url: str, body: Any = None, headers: dict[str, str] | None = None
) -> tuple[int, bytes]:
    """One request: its status (0 when nothing answered) and body."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return int(answer.status), bytes(answer.read())
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except OSError:
        return 0, b""


@contextlib.contextmanager
def _server(
    argv: list[str], ready_url: str, log: Path, env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """Start a server as its own process group (owned by the test, not the harness), wait
    until ``ready_url`` answers 200, and kill the group afterwards if anything is left."""
    with log.open("wb") as out:
        proc = subprocess.Popen(
            argv, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            env={**os.environ, **(env or {})},
        )  # fmt: skip
    try:
        ready = wait_for(
            lambda: proc.poll() is not None or _http("GET", ready_url)[0] == 200,
            READY_TIMEOUT_S,
            step_s=0.1,
        )
        assert ready and proc.poll() is None, f"server not ready: {log.read_text()[-2000:]}"
        yield proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # the group the test started, and only it
        proc.wait(timeout=30)


def _init(url: str, out: Path, *args: str) -> subprocess.CompletedProcess[str]:
    done = govdrill("init", url, "--out", str(out), "--yes", *args, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def _validate_and_run(
    drill: Path, results: Path, env: dict[str, str] | None = None
) -> tuple[subprocess.CompletedProcess[str], dict[str, Any], Path]:
    """Validate the drill init wrote, run it, and return the run, its summary and folder."""
    checked = govdrill("validate", str(drill))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    done = govdrill(
        "run", str(drill), "--results", str(results), timeout=300,
        env={**os.environ, **(env or {})},
    )  # fmt: skip
    run = only_run(results)
    summary = summary_of(run)
    assert labelled_processes(run_id=summary["run_id"]) == []
    return done, summary, run


def _observations(run: Path) -> list[dict[str, str]]:
    with gzip.open(run / "observations.csv.gz", "rt") as f:
        lines = [line for line in f if not line.startswith("#")]
    return list(csv.DictReader(lines))


def _verdict_consistent(done: subprocess.CompletedProcess[str], summary: dict[str, Any]) -> None:
    """The exit code and the printed verdict say what the summary says, and a pass has
    every deadline met and no stop theater."""
    verdict = summary["verdict"]
    assert verdict in ("passed", "failed"), summary
    assert f": {verdict.upper()}" in done.stdout, done.stdout
    met = [d["verdict"] == "met" for d in summary["deadlines"].values()]
    if verdict == "passed":
        assert done.returncode == 0 and all(met) and not summary["stop_theater"], summary
    else:
        assert done.returncode == 1 and (not all(met) or summary["stop_theater"]), summary


def _holds(data: bytes, value: str) -> bool:
    """Whether ``value`` is in ``data`` as written, gzip-compressed or base64-encoded."""
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    encoded = value.encode()
    if encoded in data:
        return True
    for skip in range(3):  # one of three alignments puts the value on a base64 group
        tail = encoded[skip:]
        if base64.b64encode(tail)[: len(tail) // 3 * 4] in data:
            return True
    with contextlib.suppress(ValueError):  # a DSSE envelope carries its payload in base64
        payload = json.loads(data).get("payload")
        if isinstance(payload, str):
            return encoded in base64.b64decode(payload)
    return False


def test_init_on_kserve_writes_a_drill_that_unloads_and_reloads(tmp_path: Path) -> None:
    """KServe's V2 server: init recognises it, learns the safe state from a missing model
    (which matches what KServe answers after a real unload), and its drill passes with the
    unload judged stopped (never an error); KServe lives on with the model loaded again."""
    require_server_venv("kserve")
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    argv = [
        str(TARGETS / "kserve" / ".venv" / "bin" / "python"),
        str(TARGETS / "kserve" / "serve.py"),
        "--port", str(port),
        "--release-file", str(tmp_path / "sentiment.release"),
    ]  # fmt: skip
    infer = f"{base}/v2/models/sentiment/infer"
    with _server(argv, f"{base}/v2/models/sentiment/ready", tmp_path / "kserve.log") as proc:
        out = tmp_path / "out"
        done = _init(base, out, "--json", json.dumps(KSERVE_BODY))
        assert "v2: GET /v2/health/ready answered 200" in done.stdout
        target = yaml.safe_load((out / "targets" / "sentiment" / "target.yaml").read_text())
        safe = target["safe_state"]
        assert safe["statuses"] == [404] and safe["json_path"] == "$.error", safe
        # The safe state was learned from a model that does not exist: a real unload must
        # answer the same, or the drill would judge the stop an error.
        unload = _http("POST", f"{base}/v2/repository/models/sentiment/unload")
        assert unload[0] == 200, unload
        status, body = _http("POST", infer, KSERVE_BODY)
        assert status in safe["statuses"], (status, body)
        assert re.search(safe["regex"], json.loads(body)["error"]), body
        assert _http("POST", f"{base}/v2/repository/models/sentiment/load")[0] == 200
        assert _http("POST", infer, KSERVE_BODY)[0] == 200

        run_done, summary, run = _validate_and_run(
            out / "drills" / "sentiment-stop.yaml", tmp_path / "results"
        )
        assert summary["verdict"] == "passed", (run_done.stdout, summary["deadlines"])
        _verdict_consistent(run_done, summary)
        assert summary["rung_used"] == "repository" and summary["stop"]["confirmed"], summary
        states = [(row["status"], int(row["state"])) for row in _observations(run)]
        assert ("404", State.STOPPED) in states
        assert all(s == State.STOPPED for status, s in states if status == "404"), "404 != stop"
        assert not any(s == State.ERROR for _, s in states)
        assert summary["teardown"]["way"] == "not_owned", summary["teardown"]
        assert "its port still accepts connections" in summary["teardown"]["detail"]
        assert proc.poll() is None, "the harness must never end an external service"
        assert _http("POST", infer, KSERVE_BODY)[0] == 200, "the model is loaded again"


def test_init_on_litserve_openai_writes_a_drill_that_shuts_it_down(tmp_path: Path) -> None:
    """LitServe's OpenAI spec: init recognises it as OpenAI-compatible; its stop is
    ``POST /shutdown`` with a bearer key given as a secret from the environment; the drill
    validates and runs, the shutdown is observed (the server exits), the verdict agrees with
    the summary, and the key is in no file init or the run wrote."""
    require_server_venv("litserve")
    key = "govdrill-" + secrets.token_urlsafe(24)
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    argv = [
        str(TARGETS / "litserve" / ".venv" / "bin" / "python"),
        str(LITSERVE_OPENAI),
        "--port", str(port),
    ]  # fmt: skip
    log = tmp_path / "litserve.log"  # LitServe prints its key here: outside the run folder
    with _server(argv, f"{base}/health", log, env={"LIT_SHUTDOWN_API_KEY": key}) as proc:
        out = tmp_path / "out"
        done = _init(
            base, out,
            "--stop-call", "POST /shutdown",
            "--resume-call", "none",
            "--control-header", "Authorization: Bearer ${shutdown_key}",
            "--secret", "shutdown_key=env:LIT_KEY",
        )  # fmt: skip
        assert "openai: " in done.stdout, done.stdout
        written = [*out.rglob("*.yaml")]
        target = yaml.safe_load((out / "targets" / "default" / "target.yaml").read_text())
        assert target["secrets"] == {"shutdown_key": {"env": "LIT_KEY"}}
        admin = target["control_paths"]["admin"]["http"]
        assert admin["headers"] == {"Authorization": "Bearer ${shutdown_key}"}

        run_done, summary, run = _validate_and_run(
            out / "drills" / "default-stop.yaml", tmp_path / "results", env={"LIT_KEY": key}
        )
        # The stop was observed: the shutdown call was acknowledged, answers turned to the
        # safe state, and the server process itself ended (nothing of the harness killed it).
        assert summary["rungs"][0]["outcome"] == "acked", summary["rungs"]
        assert summary["stop"]["kind"] != "none" and summary["stop"]["confirmed"], summary
        assert proc.wait(timeout=60) is not None
        assert summary["teardown"]["way"] == "not_owned", summary["teardown"]
        assert "its port no longer accepts connections" in summary["teardown"]["detail"]
        _verdict_consistent(run_done, summary)
        assert _holds(log.read_bytes(), key), "the search must find what LitServe logged"
        for path in [*written, *run.rglob("*")]:
            if path.is_file():
                assert not _holds(path.read_bytes(), key), f"the key is in {path}"
        for text in (done.stdout, done.stderr, run_done.stdout, run_done.stderr):
            assert key not in text
