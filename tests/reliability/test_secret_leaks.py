"""A target that echoes its secrets in every encoding leaves no trace of them in the run.

The echo target (``echo_target.py``) repeats every header, body, environment and file secret
raw, JSON-escaped, URL-encoded and in base64, in its answers to the load, to the admin API
(acknowledgements, a status that is snapshotted before the rollback, a 500 error) and on its
stdout and stderr. The secrets contain quotes, backslashes and URL metacharacters, and each
source ends with a newline. After the run every file of the run folder (decompressed) and the
command's own output are searched for each secret in each encoding, and for any ten
characters of it in a row.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import html
import json
import os
import textwrap
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest

from tests.helpers import govdrill, only_run

pytestmark = pytest.mark.slow

ECHO = Path(__file__).with_name("echo_target.py")
ADMIN = 'adm-"quo\\ted" & <x> /p+q %41 =? 7f3c9a2e'
FILE = 'file-"secret" \\ 1b9e/+=&x\'y 20c4'
LOAD = 'load-"key" 5d1c+/=%&<> 99e0'
WINDOW = 10


def base64_cores(secret: str) -> set[str]:
    """The base64 characters fixed by ``secret`` alone, at each of the three alignments it
    can have inside a longer encoded text (std and URL-safe alphabets)."""
    data = secret.encode()
    cores = set()
    for offset, lead in ((0, 0), (1, 2), (2, 3)):
        encoded = base64.b64encode(b"\0" * offset + data).decode()
        core = encoded[lead : (len(data) + offset) * 8 // 6]
        cores |= {core, core.translate(str.maketrans("+/", "-_"))}
    return cores


def encodings(secret: str) -> set[str]:
    """Every form of ``secret`` that must not appear in a run's evidence."""
    found = {
        secret,
        json.dumps(secret)[1:-1],
        quote(secret, safe=""),
        quote(secret),
        quote_plus(secret),
        html.escape(secret),
        html.escape(json.dumps(secret)[1:-1]),
    }
    found |= base64_cores(secret)
    found |= {secret[i : i + WINDOW] for i in range(len(secret) - WINDOW + 1)}
    return found


def write_drill(tmp_path: Path, report: Path) -> Path:
    """The leak drill, its file secret (ending in a newline) beside it."""
    (tmp_path / "file_token.txt").write_text(FILE + "\n")
    text = textwrap.dedent(
        f"""\
        drill: secret-echo
        target:
          target: secret-echo
          version_header: X-Model-Version
          secrets:
            admin_token: {{env: ECHO_ADMIN_SRC}}
            file_token: {{file: file_token.txt}}
          sandboxes:
            process:
              command: ["{{python}}", "{ECHO}", --port-file, "{{workdir}}/port",
                        --secrets-dir, "{{secrets_dir}}"]
              port_file: "{{workdir}}/port"
              env: {{ECHO_ADMIN_TOKEN: "${{admin_token}}"}}
          ready: {{path: /readyz, timeout: 10s, interval: 20ms}}
          control_paths:
            admin_api:
              http:
                headers:
                  Authorization: "Bearer ${{admin_token}}"
                  X-File-Token: "${{file_token}}"
                timeout: 2s
                stop: {{path: /admin/stop}}
                rollback: {{path: /admin/rollback, json: {{version: "{{to}}"}}}}
                status: {{method: GET, path: /admin/status}}
            broken_api:
              http:
                headers:
                  Authorization: "Bearer ${{admin_token}}"
                  X-File-Token: "${{file_token}}"
                timeout: 2s
                stop: {{path: /admin/fail}}
          incidents:
            leak:
              via: admin_api
              enable: {{path: /admin/harm}}
        target_args: [--report, "{report}"]
        load:
          users: 2
          request:
            path: /v1/generate
            json: {{prompt: hello}}
            headers: {{X-Api-Key: "${{ECHO_LOAD_KEY}}"}}
        harm:
          - header: X-Harm
            header_regex: "yes"
        steps:
          - at: 200ms
            inject: leak
          - when: harm_detected
            stop: [broken_api, admin_api]
            grace: 1s
          - after: stopped
            rollback: {{via: admin_api, to: v1}}
        hold: 300ms
        deadlines: {{stop: 5s}}
        """
    )
    path = tmp_path / "drill.yaml"
    path.write_text(text)
    return path


def test_no_encoding_of_any_secret_reaches_the_run(tmp_path: Path) -> None:
    """Env, file and undeclared ``${ENV}`` secrets, echoed in every form, leave no trace."""
    report = tmp_path / "report.json"
    results = tmp_path / "results"
    env = {**os.environ, "ECHO_ADMIN_SRC": ADMIN + "\n", "ECHO_LOAD_KEY": LOAD + "\n"}
    done = govdrill(
        "run", str(write_drill(tmp_path, report)), "--results", str(results), env=env, timeout=90
    )
    output = done.stdout + done.stderr
    assert done.returncode in (0, 1), output
    run = only_run(results)
    files = [p for p in run.rglob("*") if p.is_file()]
    names = {p.relative_to(run).as_posix() for p in files}
    assert {"summary.json", "report.html", "target.stdout.log", "target.stderr.log"} <= names
    assert "snapshots/before-rollback/status.json" in names

    texts = {"(command output)": output}
    for path in files:
        data = path.read_bytes()
        if path.suffix == ".gz":
            data = gzip.decompress(data)
        texts[path.relative_to(run).as_posix()] = data.decode("utf-8", "replace")
    for secret in (ADMIN, FILE, LOAD):
        for form in encodings(secret):
            for name, text in texts.items():
                assert form not in text, f"{name} holds {form!r} (a form of {secret!r})"
    # The echoes did reach the evidence, redacted: the test is not passing vacuously.
    for name in ("summary.json", "snapshots/before-rollback/status.json", "target.stdout.log"):
        assert "[REDACTED" in texts[name], name

    # The environment secret arrived, stripped of its newline, and never through argv.
    seen = json.loads(report.read_text())
    assert seen["env_sha256"] == hashlib.sha256(ADMIN.encode()).hexdigest()
    assert seen["file_sha256"] == hashlib.sha256(FILE.encode()).hexdigest()
    assert not any(ADMIN in arg or "${" in arg for arg in seen["argv"]), seen["argv"]


def test_error_message_quoting_a_secret_is_redacted(tmp_path: Path) -> None:
    """A target that dies printing its secret makes a harness error (exit 3) whose message,
    on the terminal and in every file of the run, shows the secret redacted."""
    crash = (
        "import os, sys; t = os.environ['T']; print('bad token', t, repr(t), file=sys.stderr);"
        " sys.exit(3)"
    )
    drill = tmp_path / "drill.yaml"
    drill.write_text(
        textwrap.dedent(
            f"""\
            drill: secret-crash
            target:
              target: secret-crash
              secrets: {{admin_token: {{env: ECHO_ADMIN_SRC}}}}
              sandboxes:
                process:
                  command: ["{{python}}", "-c", {json.dumps(crash)}]
                  env: {{T: "${{admin_token}}"}}
              ready: {{path: /readyz, timeout: 10s}}
              control_paths:
                sigterm: {{signal: {{signal: SIGTERM}}}}
            load: {{users: 1}}
            steps:
              - at: 100ms
                stop: [sigterm]
            """
        )
    )
    results = tmp_path / "results"
    env = {**os.environ, "ECHO_ADMIN_SRC": ADMIN + "\n"}
    done = govdrill("run", str(drill), "--results", str(results), env=env, timeout=60)
    output = done.stdout + done.stderr
    assert done.returncode == 3, output
    assert "bad token [REDACTED:admin_token]" in output
    texts = {"(command output)": output}
    for path in only_run(results).rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            texts[path.name] = (gzip.decompress(data) if path.suffix == ".gz" else data).decode()
    for form in encodings(ADMIN):
        for name, text in texts.items():
            assert form not in text, f"{name} holds {form!r}"
