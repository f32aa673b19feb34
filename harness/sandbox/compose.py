"""The compose sandbox: the target as one service of a compose project named for the run.

The project is driven with ``docker compose`` (v2) when the docker CLI has it, else with
``docker-compose`` (v1). The compose file takes the run's port, event folder, secrets folder
and base image from ``GOVDRILL_*`` environment variables; an override file written into the
run's working directory adds the run's labels (to the service and its network) and the
drill's ``target_args``. Signals and teardown go through the Docker SDK on the labelled
container; the ``compose`` control paths go through the compose CLI, as an operator would.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path, PurePosixPath
from typing import Any

from harness.errors import SandboxError
from harness.halt import Halt
from harness.redact import redactor_for
from harness.sandbox import container_runtime as runtime
from harness.sandbox.base import Endpoint, Sandbox, TeardownReport
from harness.sandbox.container_logs import ContainerLogs, write_collected
from harness.sandbox.container_runtime import ContainerRuntime
from harness.sandbox.docker_sandbox import BASE_IMAGE_ENV
from harness.sandbox.engine_events import Emit, EngineEvents, wall_minus_monotonic_ns
from harness.sandbox.files import owned_folder, write_secrets
from harness.sandbox.labels import LABEL_RUN, run_labels
from harness.sandbox.leftovers import remove_run
from harness.sandbox.ownership import check_port_free
from harness.sandbox.process import free_port
from harness.sandbox.ready import raise_if_halted, wait_ready
from harness.sandbox.shared_clock import ClockCheck, check_shared_clock
from harness.sandbox_kind import SandboxKind
from harness.spec.durations import to_ns
from harness.spec.models import ComposeSandboxSpec, ContainerOp, ReadySpec

__all__ = ["ComposeSandbox", "compose_cli"]

HOST = "127.0.0.1"
_UP_TIMEOUT_S = 600.0
_GONE = ("exited", "dead", "removing")


def compose_cli() -> list[str]:
    """The compose command: ``docker compose`` (v2) if present, else ``docker-compose`` (v1)."""
    docker = shutil.which("docker")
    if docker is not None:
        try:
            probe = subprocess.run(
                [docker, "compose", "version"],
                capture_output=True,
                timeout=20,
                check=False,
                stdin=subprocess.DEVNULL,
            )
        except (OSError, subprocess.TimeoutExpired):
            probe = None
        if probe is not None and probe.returncode == 0:
            return [docker, "compose"]
    v1 = shutil.which("docker-compose")
    if v1 is not None:
        return [v1]
    raise SandboxError("neither 'docker compose' (v2) nor 'docker-compose' (v1) is installed")


class ComposeSandbox(Sandbox, ContainerRuntime):
    """Runs a target as a service of its own compose project, published on 127.0.0.1."""

    name = SandboxKind.COMPOSE
    # The signal is an engine API call, which a loaded host has been seen to hold past 1 s.
    signal_timeout_s = 10.0

    def __init__(
        self,
        *,
        spec: ComposeSandboxSpec,
        ready: ReadySpec,
        target_dir: Path,
        workdir: Path,
        secrets: Mapping[str, str],
        run_id: str,
        extra_args: tuple[str, ...] = (),
        emit: Emit,
        clock: Callable[[], int] = time.monotonic_ns,
    ) -> None:
        self._spec = spec
        self._ready = ready
        self._file = (target_dir / spec.file).resolve()
        self._workdir = workdir
        self._secrets = secrets
        self._run_id = run_id
        self._extra_args = extra_args
        self._emit = emit
        self._clock = clock
        self.project = f"govdrill-{run_id}"
        self._labels = run_labels(run_id)
        self._offset_ns, _ = wall_minus_monotonic_ns()
        self._client: Any = None
        self._cli: list[str] | None = None
        self._events: EngineEvents | None = None
        self._container: Any = None
        self._host_port = 0
        self._lock = threading.Lock()
        self._logs: list[ContainerLogs] = []
        self._report: TeardownReport | None = None
        self._halt: Halt | None = None
        self._started = False
        self.exit_code: int | None = None
        self.clock_check: ClockCheck | None = None

    # ------------------------------------------------------------------ start

    def _compose(self, *args: str, timeout_s: float) -> str:
        """Run one compose command on this run's project; RuntimeError when it fails."""
        if self._cli is None:
            self._cli = compose_cli()
        argv = [
            *self._cli,
            "--project-name",
            self.project,
            "--file",
            str(self._file),
            "--file",
            str(self._workdir / "compose.override.json"),
            *args,
        ]
        try:
            done = subprocess.run(
                argv,
                cwd=self._file.parent,
                env=self._env,
                capture_output=True,
                timeout=timeout_s,
                check=False,
                stdin=subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired:
            raise TimeoutError(f"{' '.join(args[:1])} still running after {timeout_s:g}s") from None
        text = (done.stdout + done.stderr).decode(errors="replace").strip()
        if done.returncode != 0:
            raise RuntimeError(f"compose {args[0]} exited {done.returncode}: {text[-400:]}")
        return text

    def start(self, halt: Halt | None = None) -> Endpoint:
        """Bring the project up (building its image), find the container, wait until ready.

        The host port must be free before the project comes up and must be the one the engine
        publishes for the service's container; Interrupted as soon as ``halt`` is set.
        """
        self._halt = halt
        raise_if_halted(halt)
        client = self._engine()
        self._host_port = free_port(HOST)
        check_port_free(HOST, self._host_port)
        self._prepare()
        self._events = EngineEvents(client, self._run_id, self._emit, self._offset_ns)
        self._events.start()
        began = self._clock()
        self._started = True
        try:
            self._compose("up", "--detach", "--build", timeout_s=_UP_TIMEOUT_S)
        except (RuntimeError, TimeoutError, OSError) as exc:
            raise SandboxError(f"cannot bring the compose project up: {exc}") from None
        up_s = (self._clock() - began) / 1e9
        found = client.containers.list(
            all=True,
            filters={"label": [f"{LABEL_RUN}={self._run_id}"]},
        )
        if not found:
            raise SandboxError(f"compose started no container labelled for run {self._run_id}")
        self._container = found[0]
        runtime.check_published(self._container, self._spec.port, HOST, self._host_port)
        raise_if_halted(halt)
        self._emit(
            "compose_up",
            project=self.project,
            cli=" ".join(Path(a).name for a in self._cli or []),
            container=self._container.name,
            seconds=round(up_s, 3),
            published=f"{HOST}:{self._host_port}->{self._spec.port}/tcp",
        )
        ready_ns = self._wait_ready(began)
        self.clock_check = check_shared_clock(self.events_path, began, ready_ns)
        self._emit("clock_check", **self.clock_check.as_event())
        pid = (self._container.attrs.get("State") or {}).get("Pid") or None
        return Endpoint(f"http://{HOST}:{self._host_port}", HOST, self._host_port, pid)

    def _prepare(self) -> None:
        user, uid, gid = runtime.container_user(None)
        secrets_dir = self._workdir / "secrets"
        write_secrets(secrets_dir, self._secrets, mode=0o400, uid=uid, gid=gid)
        events_dir = owned_folder(self._workdir / "events", uid, gid)
        service: dict[str, Any] = {"labels": self._labels, "user": user}
        if self._extra_args:
            service["command"] = [*self._spec.command, *self._extra_args]
        override = {
            "services": {self._spec.service: service},
            "networks": {"default": {"labels": self._labels}},
        }
        (self._workdir / "compose.override.json").write_text(json.dumps(override, indent=2))
        self._env = {
            **os.environ,
            "GOVDRILL_PORT": str(self._host_port),
            "GOVDRILL_EVENTS_DIR": str(events_dir),
            "GOVDRILL_SECRETS_DIR": str(secrets_dir),
        }
        if not os.environ.get(BASE_IMAGE_ENV):
            self._env.pop(BASE_IMAGE_ENV, None)  # the compose file's own default applies

    def _wait_ready(self, began_ns: int) -> int:
        container = self._container

        def exited() -> str | None:
            container.reload()
            if container.status in _GONE:
                code = (container.attrs.get("State") or {}).get("ExitCode")
                return f"exited with code {code}"
            return None

        port = self._host_port
        wait_ready(
            self._ready,
            Endpoint(f"http://{HOST}:{port}", HOST, port),
            deadline_ns=began_ns + self._ready.timeout_ns + to_ns(_UP_TIMEOUT_S),
            clock=self._clock,
            exited=exited,
            halt=self._halt,
            places={"workdir": str(self._workdir)},
            redactor=redactor_for(self._secrets),
        )
        now = self._clock()
        container.reload()
        self._emit(
            "container_ready",
            container=container.name,
            start_to_ready_s=round((now - began_ns) / 1e9, 3),
        )
        return now

    # ------------------------------------------------------------------ control

    def send_signal(self, signum: int, *, to_group: bool) -> None:
        """Deliver ``signum`` to the service container's main process (PID 1)."""
        if self._container is None:
            raise ProcessLookupError("target was never started")
        runtime.signal_container(self._container, signum)

    def alive(self) -> bool:
        """Whether the service's container still runs (paused counts as running)."""
        return self._container is not None and runtime.container_running(self._container)

    @property
    def exited_ns(self) -> int | None:
        """When the engine reported the container's death, on the host clock."""
        if self._events is None or self._container is None:
            return None
        died = self._events.died.get(self._container.id)
        return None if died is None else died[0]

    def container_op(self, op: ContainerOp, *, version: str | None = None) -> str:
        """Perform one operation on the service through the compose CLI."""
        service = self._spec.service
        grace = str(math.ceil(op.stop_timeout))
        args: tuple[str, ...]
        if op.op == "stop":
            args = ("stop", "--timeout", grace, service)
        elif op.op == "kill":
            args = ("kill", "-s", op.signal, service)
        elif op.op == "restart":
            args = ("restart", "--timeout", grace, service)
        elif op.op in ("start", "pause", "unpause"):
            args = (op.op, service)
        else:
            raise ValueError(f"a compose path cannot {op.op}")
        with self._lock:
            self._compose(*args, timeout_s=max(30.0, op.stop_timeout + 30.0))
        return f"compose {' '.join(args)}: done"

    @property
    def events_path(self) -> Path | None:
        """The target's ground-truth event log, as seen on the host."""
        if self._spec.events is None:
            return None
        return self._workdir / "events" / PurePosixPath(self._spec.events).name

    # ------------------------------------------------------------------ teardown

    def teardown(self) -> TeardownReport:
        """End the container (SIGTERM, SIGKILL after the grace), ``compose down`` the project,
        and remove anything labelled for the run; never counted as a stop."""
        if self._report is not None:
            return self._report
        if self._events is not None:
            self._events.tearing_down = True
        report = runtime.end_run(
            self._client, self._container, self._run_id, self._spec.teardown_grace, self._logs
        )
        if self._started:
            try:
                self._compose(
                    "down", "--volumes", "--remove-orphans", "--timeout", "1", timeout_s=60
                )
            except (RuntimeError, TimeoutError, OSError) as exc:
                report = TeardownReport(
                    report.way, report.exit_code, f"{report.detail}; compose down failed: {exc}"
                )
            if self._client is not None:  # whatever compose left behind
                remove_run(self._client, self._run_id)
        self._report = report
        self.exit_code = report.exit_code
        if self._events is not None:
            self._events.close()
        if self._client is not None:
            self._client.close()
        return self._report

    def collect(self, into: Path) -> list[Path]:
        """Write the container's stdout/stderr and copy the event log into ``into``."""
        return write_collected(into, self._logs, self.events_path)
