"""The docker sandbox: the target as a hardened container, driven through the Docker SDK.

Each declared version is one image tag built from its Dockerfile stage (``BASE_IMAGE`` from
the target or ``GOVDRILL_BASE_IMAGE``). The container runs with every capability dropped,
no-new-privileges, a read-only root with a tmpfs, memory/CPU/pids limits, a non-root user,
its own network, and its port published on 127.0.0.1 only. The admin token reaches it as a
read-only bind-mounted file (mode 0400, owned by the container's user): never in the image,
never in ``docker inspect``'s environment. The event log is written into a bind-mounted
folder of the run's working directory. Everything is labelled with the run id; teardown
removes it and the next run's sweep removes what a killed harness left.
"""

from __future__ import annotations

import contextlib
import math
import os
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
from harness.sandbox.container_logs import ContainerLogs, logs_of, write_collected
from harness.sandbox.container_runtime import ContainerRuntime
from harness.sandbox.engine_events import Emit, EngineEvents, wall_minus_monotonic_ns
from harness.sandbox.files import owned_folder, write_secrets
from harness.sandbox.labels import LABEL_OWNER, LABEL_TARGET, LABEL_VERSION, OWNER, run_labels
from harness.sandbox.ownership import check_port_free
from harness.sandbox.process import free_port
from harness.sandbox.ready import raise_if_halted, wait_ready
from harness.sandbox.shared_clock import ClockCheck, check_shared_clock
from harness.sandbox_kind import SandboxKind
from harness.spec.models import ContainerOp, DockerSandboxSpec, ReadySpec

__all__ = ["BASE_IMAGE_ENV", "DockerSandbox", "build_images"]

HOST = "127.0.0.1"
BASE_IMAGE_ENV = "GOVDRILL_BASE_IMAGE"
_GONE = ("exited", "dead", "created", "removing")


def base_image(spec: DockerSandboxSpec) -> str:
    """The ``BASE_IMAGE`` build argument: the environment's choice, else the target's."""
    return os.environ.get(BASE_IMAGE_ENV) or spec.base_image


def build_images(
    client: Any, spec: DockerSandboxSpec, target_dir: Path, target_name: str
) -> dict[str, float]:
    """Build every declared version's tag; return seconds per tag. SandboxError on failure."""
    import docker.errors

    context = (target_dir / spec.context).resolve()
    base = base_image(spec)
    took: dict[str, float] = {}
    for tag, stage in spec.versions.items():
        began = time.monotonic()
        try:
            client.images.build(
                path=str(context),
                dockerfile=spec.dockerfile,
                target=stage,
                tag=f"{spec.image}:{tag}",
                buildargs={"BASE_IMAGE": base},
                labels={LABEL_OWNER: OWNER, LABEL_TARGET: target_name},
                pull=False,
                rm=True,
                forcerm=True,
            )
        except docker.errors.BuildError as exc:
            tail = "\n".join(
                str(line.get("stream") or line.get("error") or "").rstrip()
                for line in list(exc.build_log)[-8:]
            ).strip()
            hint = ""
            if base in tail or "pull access denied" in tail or "not found" in tail:
                hint = (
                    f"\nthe base image {base!r} may be missing: build one locally (see README,"
                    f" 'Docker and compose') or set {BASE_IMAGE_ENV}"
                )
            raise SandboxError(
                f"cannot build {spec.image}:{tag}: {exc.msg}\n{tail}{hint}"
            ) from None
        except docker.errors.APIError as exc:
            raise SandboxError(f"cannot build {spec.image}:{tag}: {exc}") from None
        took[tag] = time.monotonic() - began
    return took


class DockerSandbox(Sandbox, ContainerRuntime):
    """Runs a target as a hardened container on its own network, published on 127.0.0.1."""

    name = SandboxKind.DOCKER
    # The signal is an engine API call, which a loaded host has been seen to hold past 1 s.
    signal_timeout_s = 10.0

    def __init__(
        self,
        *,
        spec: DockerSandboxSpec,
        ready: ReadySpec,
        target_name: str,
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
        self._target_name = target_name
        self._target_dir = target_dir
        self._workdir = workdir
        self._secrets = secrets
        self._run_id = run_id
        self._extra_args = extra_args
        self._emit = emit
        self._clock = clock
        self._labels = run_labels(run_id)
        self._offset_ns, self._offset_bracket_ns = wall_minus_monotonic_ns()
        self._client: Any = None
        self._events: EngineEvents | None = None
        self._network: Any = None
        self._container: Any = None
        self._version = spec.version
        self._serial = 0
        self._host_port = 0
        self._lock = threading.RLock()
        self._logs: list[ContainerLogs] = []
        self._report: TeardownReport | None = None
        self._halt: Halt | None = None
        self.exit_code: int | None = None
        self.clock_check: ClockCheck | None = None

    # ------------------------------------------------------------------ start

    def start(self, halt: Halt | None = None) -> Endpoint:
        """Build the images, start the container and wait until it is ready.

        The host port must be free before the container starts and must be the one the engine
        publishes for it; Interrupted as soon as ``halt`` is set.
        """
        self._halt = halt
        raise_if_halted(halt)
        client = self._engine()
        took = build_images(client, self._spec, self._target_dir, self._target_name)
        self._emit(
            "images_built",
            images={f"{self._spec.image}:{t}": round(s, 3) for t, s in took.items()},
            base_image=base_image(self._spec),
        )
        self._prepare_files()
        self._network = client.networks.create(
            f"govdrill-{self._run_id}", driver="bridge", labels=self._labels
        )
        self._emit(
            "engine_clock",
            wall_minus_monotonic_ns=self._offset_ns,
            sampled_within_ns=self._offset_bracket_ns,
            detail="container event times are the engine's wall clock minus this offset",
        )
        self._events = EngineEvents(client, self._run_id, self._emit, self._offset_ns)
        self._events.start()
        self._host_port = free_port(HOST)
        check_port_free(HOST, self._host_port)
        raise_if_halted(halt)
        began = self._clock()
        self._container = self._run(self._version)
        ready_ns = self._wait_ready(self._container, began)
        self.clock_check = check_shared_clock(self.events_path, began, ready_ns)
        self._emit("clock_check", **self.clock_check.as_event())
        return self.endpoint

    @property
    def endpoint(self) -> Endpoint:
        """Where the target answers, with its main process as the host sees it."""
        pid = None
        if self._container is not None:
            pid = (self._container.attrs.get("State") or {}).get("Pid") or None
        return Endpoint(f"http://{HOST}:{self._host_port}", HOST, self._host_port, pid)

    def _prepare_files(self) -> None:
        self._user, uid, gid = runtime.container_user(self._spec.user)
        write_secrets(self._workdir / "secrets", self._secrets, mode=0o400, uid=uid, gid=gid)
        owned_folder(self._workdir / "events", uid, gid)

    def _mounts(self) -> dict[str, dict[str, str]]:
        volumes = {
            str(self._workdir / "secrets" / name): {
                "bind": str(PurePosixPath(self._spec.secrets_dir) / name),
                "mode": "ro",
            }
            for name in self._secrets
        }
        if self._spec.events:
            volumes[str(self._workdir / "events")] = {
                "bind": str(PurePosixPath(self._spec.events).parent),
                "mode": "rw",
            }
        return volumes

    def _run(self, version: str) -> Any:
        """Create and start one container of ``version`` on the run's port and network."""
        import docker.errors

        self._serial += 1
        limits = self._spec.limits
        image = f"{self._spec.image}:{version}"
        try:
            container = self._engine().containers.run(
                image,
                command=[*self._spec.command, *self._extra_args],
                name=f"govdrill-{self._run_id}-{self._serial}",
                detach=True,
                labels={**self._labels, LABEL_VERSION: version},
                network=self._network.name,
                ports={f"{self._spec.port}/tcp": (HOST, self._host_port)},
                read_only=True,
                tmpfs=dict(self._spec.tmpfs),
                cap_drop=["ALL"],
                security_opt=["no-new-privileges"],
                user=self._user,
                mem_limit=f"{limits.memory_mb}m",
                nano_cpus=int(limits.cpus * 1e9),
                pids_limit=limits.pids,
                volumes=self._mounts(),
                environment={"LANG": "C.UTF-8"},
            )
        except docker.errors.DockerException as exc:
            raise SandboxError(f"cannot start a container of {image}: {exc}") from None
        self._emit(
            "container_started",
            container=container.name,
            id=container.id[:12],
            image=image,
            published=f"{HOST}:{self._host_port}->{self._spec.port}/tcp",
        )
        runtime.check_published(container, self._spec.port, HOST, self._host_port)
        return container

    def _wait_ready(self, container: Any, began_ns: int) -> int:
        deadline = began_ns + self._ready.timeout_ns

        def exited() -> str | None:
            container.reload()
            if container.status in _GONE and container.status != "created":
                code = (container.attrs.get("State") or {}).get("ExitCode")
                return f"exited with code {code}"
            return None

        def stderr_tail() -> str:
            return str(container.logs(stdout=False, stderr=True, tail=15).decode(errors="replace"))

        port = self._host_port
        wait_ready(
            self._ready,
            Endpoint(f"http://{HOST}:{port}", HOST, port),
            deadline_ns=deadline,
            clock=self._clock,
            exited=exited,
            halt=self._halt,
            stderr_tail=stderr_tail,
            places={"target_dir": str(self._target_dir), "workdir": str(self._workdir)},
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

    def _current(self) -> Any:
        with self._lock:
            if self._container is None:
                raise ProcessLookupError("target was never started")
            return self._container

    def send_signal(self, signum: int, *, to_group: bool) -> None:
        """Deliver ``signum`` to the container's main process (PID 1), as ``docker kill -s``
        does; a container's PID 1 is its process group's leader, so ``to_group`` is the same.
        Raises ProcessLookupError when the container no longer runs."""
        runtime.signal_container(self._current(), signum)

    def alive(self) -> bool:
        """Whether the current container still runs (paused counts as running)."""
        if self._container is None:
            return False
        if runtime.container_running(self._container):
            return True
        if self._container.status in ("exited", "dead"):  # not merely gone from the engine
            self.exit_code = (self._container.attrs.get("State") or {}).get("ExitCode")
        return False

    @property
    def exited_ns(self) -> int | None:
        """When the engine reported the current container's death, on the host clock."""
        if self._events is None or self._container is None:
            return None
        died = self._events.died.get(self._container.id)
        return None if died is None else died[0]

    def container_op(self, op: ContainerOp, *, version: str | None = None) -> str:
        """Perform one container operation through the Engine API; return its detail."""
        container = self._current()
        stop_timeout = math.ceil(op.stop_timeout)
        if op.op == "stop":
            container.stop(timeout=stop_timeout)
            return f"docker stop -t {stop_timeout}: stopped"
        if op.op == "kill":
            container.kill(signal=op.signal)
            return f"docker kill -s {op.signal}: delivered"
        if op.op == "pause":
            container.pause()
            return "docker pause: frozen"
        if op.op == "unpause":
            container.unpause()
            return "docker unpause: thawed"
        if op.op == "start":
            container.start()
            return "docker start: started"
        if op.op == "restart":
            container.restart(timeout=stop_timeout)
            return f"docker restart -t {stop_timeout}: restarted"
        assert op.op == "redeploy"
        if version is None:
            raise ValueError("a redeploy needs a version (the rollback's 'to')")
        return self.redeploy(version, stop_timeout=stop_timeout)

    def redeploy(self, version: str, *, stop_timeout: int) -> str:
        """Replace the container with one of ``version``'s image on the same port; return
        once the new one is ready (a deploy tool's success)."""
        if version not in self._spec.versions:
            raise ValueError(
                f"no image for version {version!r} (declared: {', '.join(self._spec.versions)})"
            )
        with self._lock:
            old = self._current()
            previous = self._version
            began = self._clock()
            old.stop(timeout=stop_timeout)
            self._keep_logs(old)
            old.remove(v=True, force=True)
            self._container = self._run(version)
            self._version = version
            self._wait_ready(self._container, began)
        took = (self._clock() - began) / 1e9
        return f"redeployed {previous} -> {version} ({self._spec.image}:{version}) in {took:.2f}s"

    @property
    def events_path(self) -> Path | None:
        """The target's ground-truth event log, as seen on the host."""
        if self._spec.events is None:
            return None
        return self._workdir / "events" / PurePosixPath(self._spec.events).name

    # ------------------------------------------------------------------ teardown

    def _keep_logs(self, container: Any) -> None:
        self._logs.append(logs_of(container))

    def teardown(self) -> TeardownReport:
        """SIGTERM the container, SIGKILL it after the grace, then remove everything of the
        run (containers, network); never counted as a stop."""
        if self._report is not None:
            return self._report
        if self._events is not None:
            self._events.tearing_down = True
        self._report = runtime.end_run(
            self._client, self._container, self._run_id, self._spec.teardown_grace, self._logs
        )
        self.exit_code = self._report.exit_code
        if self._events is not None:
            self._events.close()
        if self._client is not None:
            with contextlib.suppress(Exception):
                self._client.close()
        return self._report

    def collect(self, into: Path) -> list[Path]:
        """Write the containers' stdout/stderr and copy the event log into ``into``."""
        return write_collected(into, self._logs, self.events_path)
