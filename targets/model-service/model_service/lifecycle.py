"""One server process from start to exit: train, listen, wait for a signal, drain, exit.

SIGTERM and SIGINT are blocked in every thread and taken synchronously with
``sigtimedwait`` in the main thread, so no signal handler ever runs in the middle of code
holding a lock.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from pathlib import Path

from .admin import AdminApi
from .cli import Config
from .complaints import ComplaintDesk
from .defects import Defect
from .events import EventLog
from .incidents import IncidentBoard
from .model import build_versions
from .server import App, ModelHTTPServer, Role
from .state import ServiceState
from .workpool import PriorityWorkerPool

__all__ = ["EXIT_CANNOT_LISTEN", "EXIT_CRASH", "EXIT_DRAIN_TIMEOUT", "EXIT_OK", "run"]

EXIT_OK = 0
EXIT_CRASH = 1
EXIT_USAGE = 2
EXIT_DRAIN_TIMEOUT = 3
EXIT_CANNOT_LISTEN = 4

_EXIT_SIGNALS = {signal.SIGTERM, signal.SIGINT}


def _say(message: str) -> None:
    print(f"model-service[{os.getpid()}]: {message}", file=sys.stderr, flush=True)


def _write_port_file(path: str, port: int) -> None:
    # Written beside the target then renamed, so a reader never sees a half-written port.
    temporary = f"{path}.{os.getpid()}.tmp"
    Path(temporary).write_text(f"{port}\n", encoding="utf-8")
    os.replace(temporary, path)


def run(config: Config, token: str) -> int:
    """Serve until a signal ends the process; return its exit code."""
    signal.pthread_sigmask(signal.SIG_BLOCK, _EXIT_SIGNALS)
    events = EventLog(config.events)
    events.emit(
        "started",
        model_version=config.model_version,
        defects=sorted(d.value for d in config.defects),
        supervised=config.supervised_child,
    )
    try:
        code = _serve(config, token, events)
    except BaseException as exc:
        events.emit("exit", code=EXIT_CRASH, error=repr(exc))
        raise
    events.emit("exit", code=code)
    events.close()
    return code


def _serve(config: Config, token: str, events: EventLog) -> int:
    versions = build_versions(config.corpus, config.v2_canary_rate)
    state = ServiceState(versions, config.model_version, events)
    incidents = IncidentBoard(state)
    desk = ComplaintDesk(
        state, config.complaints, black_hole=Defect.COMPLAINT_BLACK_HOLE in config.defects
    )
    admin = AdminApi(
        state=state,
        incidents=incidents,
        token=token,
        defects=config.defects,
        slow_drain_s=config.slow_drain_seconds,
        desk=desk,
        log_control_calls=config.log_control_calls,
    )
    pool = None
    if Defect.STARVED_ADMIN in config.defects:
        pool = PriorityWorkerPool(
            config.starved_admin_workers, config.starved_admin_delay_ms / 1000.0
        )
    app = App(
        state=state,
        admin=admin,
        pool=pool,
        desk=desk,
        stream_tokens=config.stream_tokens,
        token_delay_s=config.token_delay,
        drain_streams=Defect.DRAIN_STREAMS in config.defects,
    )

    servers: list[ModelHTTPServer] = []
    try:
        main_role = Role.ALL if config.admin_port is None else Role.INFERENCE
        servers.append(_listen(config, config.port, app, main_role))
        if config.admin_port is not None:
            servers.append(_listen(config, config.admin_port, app, Role.ADMIN))
    except OSError as exc:
        for server in servers:
            server.server_close()
        _say(f"error: cannot listen on {config.host}: {exc.strerror or exc}")
        return EXIT_CANNOT_LISTEN

    port = servers[0].server_address[1]
    admin_port = servers[-1].server_address[1] if config.admin_port is not None else port
    # The admin port first: whoever waits for --port-file then finds both.
    if config.admin_port_file:
        _write_port_file(config.admin_port_file, admin_port)
    if config.port_file:
        _write_port_file(config.port_file, port)
    threads = [
        threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"serve-{server.server_address[1]}",
            daemon=True,
        )
        for server in servers
    ]
    for thread in threads:
        thread.start()
    with state.control:
        state.ready = True
        events.emit("ready", port=port, admin_port=admin_port, model_version=config.model_version)
    _say(
        f"serving {config.model_version} on http://{config.host}:{port} "
        f"(admin on port {admin_port}; defects: "
        f"{', '.join(sorted(d.value for d in config.defects)) or 'none'})"
    )

    ignore_signals = Defect.IGNORE_SIGTERM in config.defects
    while True:
        info = signal.sigtimedwait(_EXIT_SIGNALS, 0.5)
        if info is None:
            if not all(thread.is_alive() for thread in threads):
                _say("error: a listener thread died")
                return EXIT_CRASH
            continue
        name = signal.Signals(info.si_signo).name
        if ignore_signals:
            _say(f"received {name}; ignoring it")
            continue
        break

    _say(f"received {name}; draining (timeout {config.drain_timeout:g}s)")
    state.begin_drain(name)
    drained = state.wait_idle(config.drain_timeout)
    for server in servers:
        server.shutdown()
        server.server_close()
    if not drained:
        _say(f"drain timed out with {state.in_flight} request(s) in flight")
        return EXIT_DRAIN_TIMEOUT
    _say("drained; exiting")
    return EXIT_OK


def _listen(config: Config, port: int, app: App, role: frozenset[str]) -> ModelHTTPServer:
    return ModelHTTPServer(
        (config.host, port),
        app=app,
        role=role,
        nodelay=config.nodelay,
        log_requests=config.log_requests,
        split_writes=config.split_writes,
    )
