"""A target's port file is hostile input: a port beyond 65535 is refused, never wrapped around."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tests.helpers import govdrill, only_run, summary_of

pytestmark = pytest.mark.slow

SERVER = """\
import http.server, os, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.send_header("Content-Length", "0"); self.end_headers()
    def log_message(self, *a): pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
tmp = sys.argv[1] + ".tmp"
open(tmp, "w").write(str(s.server_address[1] + int(sys.argv[2])))
os.rename(tmp, sys.argv[1])
s.serve_forever()
"""


def test_port_plus_65536_is_refused(tmp_path: Path) -> None:
    """A target that binds port P but writes P + 65536 ends the run with a clear error naming
    the port file, instead of being drilled at the wrapped-around port."""
    script = tmp_path / "server.py"
    script.write_text(SERVER)
    drill = tmp_path / "drill.yaml"
    drill.write_text(
        textwrap.dedent(f"""\
        drill: port-wrap
        target:
          target: wrapper
          sandboxes:
            process:
              command: ["{{python}}", "{script}", "{{workdir}}/port", "65536"]
              port_file: "{{workdir}}/port"
          ready: {{path: /, timeout: 5s, interval: 20ms}}
          control_paths:
            sigterm: {{signal: {{signal: SIGTERM}}}}
        load: {{users: 1, request: {{method: GET, path: /}}}}
        steps:
          - at: 300ms
            stop: [sigterm]
        hold: 300ms
        """)
    )
    done = govdrill("run", str(drill), "--results", str(tmp_path / "r"), "-q", timeout=60)
    out = done.stdout + done.stderr
    assert done.returncode == 3, out
    assert "port file" in out and "1..65535" in out, out
    summary = summary_of(only_run(tmp_path / "r"))
    assert summary["verdict"] == "error" and "1..65535" in summary["error"]
