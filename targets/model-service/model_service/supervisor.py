"""The ``resurrect`` defect: a restart-always supervisor that brings the server back.

It imitates a process manager told to restart on any exit: SIGTERM/SIGINT sent to it are
forwarded to the server child (which drains and exits 0), and the child is then started
again. The supervisor itself only ends with SIGKILL; it shares the process group with its
child so that ``killpg(SIGKILL)`` ends both.
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from .cli import Config
from .events import EventLog

__all__ = ["run_supervisor"]

_SIGNALS = {signal.SIGTERM, signal.SIGINT}
_SERVE_PY = Path(__file__).resolve().parent.parent / "serve.py"
# A child that fails this fast with a usage error would only fail again.
_GIVE_UP_WINDOW_S = 2.0
_PR_SET_PDEATHSIG = 1


def _say(message: str) -> None:
    print(f"model-service supervisor[{os.getpid()}]: {message}", file=sys.stderr, flush=True)


def _die_with_parent() -> None:
    """In the child before exec: get SIGKILL if the supervisor dies (Linux only)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def _free_port(host: str) -> int:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


def run_supervisor(config: Config, argv: Sequence[str]) -> int:
    """Start the server child and restart it whenever it exits; never returns normally."""
    signal.pthread_sigmask(signal.SIG_BLOCK, _SIGNALS)
    events = EventLog(config.events)
    # Every incarnation must bind the same port, so a requested port 0 is resolved once here.
    port = config.port or _free_port(config.host)
    admin_port = config.admin_port
    if admin_port == 0:
        admin_port = _free_port(config.host)
    command = [sys.executable, str(_SERVE_PY), *argv, "--supervised-child", "--port", str(port)]
    if admin_port is not None:
        command += ["--admin-port", str(admin_port)]
    events.emit("supervisor_started", port=port, restart_delay_s=config.resurrect_delay)
    _say(f"supervising the server on port {port} (restart delay {config.resurrect_delay:g}s)")

    while True:
        started = time.monotonic()
        # The child unblocks nothing itself: it takes its signals with sigtimedwait too.
        child = subprocess.Popen(command, preexec_fn=_die_with_parent)
        while True:
            info = signal.sigtimedwait(_SIGNALS, 0.05)
            if info is not None:
                name = signal.Signals(info.si_signo).name
                _say(f"received {name}; passing it to the server (pid {child.pid})")
                if child.poll() is None:
                    child.send_signal(info.si_signo)
                continue
            code = child.poll()
            if code is not None:
                break
        events.emit("child_exited", child_pid=child.pid, returncode=code)
        if code == 2 and time.monotonic() - started < _GIVE_UP_WINDOW_S:
            _say("the server rejected its configuration; giving up")
            return 2
        _say(
            f"server pid {child.pid} exited with {code}; restarting in {config.resurrect_delay:g}s"
        )
        deadline = time.monotonic() + config.resurrect_delay
        while (remaining := deadline - time.monotonic()) > 0:
            info = signal.sigtimedwait(_SIGNALS, remaining)
            if info is not None:
                _say(f"received {signal.Signals(info.si_signo).name} while restarting; ignoring")
