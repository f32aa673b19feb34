"""Waiting for a started target to answer its readiness check, whatever sandbox runs it."""

from __future__ import annotations

import http.client
import time
from collections.abc import Callable

from harness.errors import SandboxError

__all__ = ["wait_http_ready"]


def wait_http_ready(
    host: str,
    port: int,
    path: str,
    *,
    deadline_ns: int,
    interval_s: float,
    timeout_s: float,
    clock: Callable[[], int],
    exited: Callable[[], str | None],
    stderr_tail: Callable[[], str] = lambda: "",
) -> None:
    """Poll ``GET path`` until it answers 200.

    Raises SandboxError when ``exited()`` says how the target ended (with the tail of its
    stderr, when there is one), or at the deadline with the last answer seen.
    """
    last = "no answer yet"
    while clock() < deadline_ns:
        gone = exited()
        if gone is not None:
            tail = stderr_tail().strip()
            raise SandboxError(
                f"target {gone} while waiting for readiness"
                + (f"; its stderr ends:\n{tail}" if tail else "")
            )
        conn = http.client.HTTPConnection(host, port, timeout=1)
        try:
            conn.request("GET", path)
            response = conn.getresponse()
            response.read()
            if response.status == 200:
                return
            last = f"HTTP {response.status}"
        except OSError as exc:
            last = str(exc) or type(exc).__name__
        finally:
            conn.close()
        time.sleep(interval_s)
    raise SandboxError(
        f"target not ready at http://{host}:{port}{path} within {timeout_s:g}s (last: {last})"
    )
