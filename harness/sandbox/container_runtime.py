"""What the docker and compose sandboxes share to drive a container: the engine connection,
the base class the container control paths act through, and the container's user, signals,
liveness, published port and teardown."""

from __future__ import annotations

import abc
import contextlib
import os
import signal
from typing import TYPE_CHECKING, Any

from harness.errors import SandboxError
from harness.sandbox.base import TeardownReport, TeardownWay
from harness.sandbox.container_logs import ContainerLogs, logs_of
from harness.sandbox.leftovers import Swept, remove_run, sweep
from harness.sandbox_kind import SandboxKind

if TYPE_CHECKING:
    from harness.spec.models import ContainerOp

__all__ = [
    "ContainerRuntime",
    "check_published",
    "connect",
    "container_running",
    "container_user",
    "end_run",
    "signal_container",
]


def connect(timeout_s: float = 60.0) -> Any:
    """A Docker SDK client for the engine of ``DOCKER_HOST`` (or the local socket)."""
    import docker
    import docker.errors

    try:
        client = docker.from_env(timeout=int(timeout_s))
        client.ping()
    except docker.errors.DockerException as exc:
        where = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
        raise SandboxError(f"no Docker engine reachable at {where}: {exc}") from None
    return client


def container_user(declared: str | None) -> tuple[str, int | None, int | None]:
    """The container's ``uid:gid`` and who must own its bind-mounted files (None: as is).

    As root the harness runs the target as nobody (65534) and hands it its files; otherwise
    as the harness's own uid, which owns them already.
    """
    if declared:
        uid_text, _, gid_text = declared.partition(":")
        uid, gid = int(uid_text), int(gid_text or uid_text)
    elif os.geteuid() == 0:
        uid = gid = 65534
    else:
        uid, gid = os.getuid(), os.getgid()
    own = os.geteuid() == 0 and (uid, gid) != (0, 0)
    return f"{uid}:{gid}", uid if own else None, gid if own else None


def signal_container(container: Any, signum: int) -> None:
    """Deliver ``signum`` to the container's main process (PID 1), as ``docker kill -s`` does;
    raises ProcessLookupError when the container no longer runs."""
    import docker.errors

    try:
        container.kill(signal=int(signum))
    except docker.errors.NotFound:
        raise ProcessLookupError("the container is gone") from None
    except docker.errors.APIError as exc:
        if exc.status_code == 409:  # not running
            raise ProcessLookupError(f"the container is not running: {exc.explanation}") from None
        raise


def container_running(container: Any) -> bool:
    """Whether ``container`` still runs, after refreshing it (paused counts as running)."""
    import docker.errors

    try:
        container.reload()
    except docker.errors.NotFound:
        return False
    return bool(container.status in ("running", "paused", "restarting"))


class ContainerRuntime(abc.ABC):
    """A sandbox whose target is a container: the ``docker`` and ``compose`` control paths
    act through it."""

    name: SandboxKind
    _client: Any
    """The Docker engine client, connected on first use (None until then)."""

    @abc.abstractmethod
    def container_op(self, op: ContainerOp, *, version: str | None = None) -> str:
        """Perform ``op`` on the target's container; return a one-line detail or raise."""

    def sweep(self) -> list[Swept]:
        """Remove what dead harnesses left on this engine; return it (for the evidence)."""
        return sweep(self._engine())

    def _engine(self) -> Any:
        if self._client is None:
            self._client = connect()
        return self._client


def end_run(
    client: Any, container: Any, run_id: str, grace_s: float, logs: list[ContainerLogs]
) -> TeardownReport:
    """The harness's own teardown of a run: end ``container`` (SIGTERM, SIGKILL after
    ``grace_s``), keep its logs, remove every container and network labelled with ``run_id``."""
    import docker.errors

    way, code, detail = TeardownWay.ALREADY_GONE, None, "never started"
    if container is not None:
        try:
            way, code = _end(container, grace_s)
            detail = (
                "the target had already exited"
                if way is TeardownWay.ALREADY_GONE
                else "the harness's own teardown; not counted as a stop"
            )
        except docker.errors.DockerException as exc:
            detail = f"could not end the container: {exc}"
        logs.append(logs_of(container))
    removed = remove_run(client, run_id) if client is not None else []
    if removed:
        detail += f"; removed {', '.join(removed)}"
    return TeardownReport(way, code, detail)


def _end(container: Any, grace_s: float) -> tuple[TeardownWay, int | None]:
    import docker.errors
    import requests.exceptions

    try:
        container.reload()
    except docker.errors.NotFound:
        return TeardownWay.ALREADY_GONE, None
    if container.status == "paused":  # a frozen process cannot take SIGTERM
        container.unpause()
        container.reload()
    way = TeardownWay.ALREADY_GONE
    if container.status in ("running", "restarting"):
        way = TeardownWay.TERMINATED
        with contextlib.suppress(docker.errors.APIError):
            container.kill(signal=int(signal.SIGTERM))
        try:
            container.wait(timeout=grace_s)
        except (requests.exceptions.RequestException, docker.errors.APIError):
            way = TeardownWay.KILLED
            with contextlib.suppress(docker.errors.APIError):
                container.kill(signal=int(signal.SIGKILL))
            with contextlib.suppress(Exception):
                container.wait(timeout=10)
    container.reload()
    code = (container.attrs.get("State") or {}).get("ExitCode")
    return way, code


def check_published(container: Any, container_port: int, host: str, host_port: int) -> None:
    """Raise SandboxError unless the engine publishes ``container_port`` on ``host:host_port``.

    The harness connects to ``host:host_port``; only the engine's own record of this run's
    container proves that the answers there come from it and not from a process squatting the
    port (which the error names, when this host can see it).
    """
    from harness.sandbox.ownership import holders_of, listeners_on, process_cmdline

    container.reload()
    ports = ((container.attrs.get("NetworkSettings") or {}).get("Ports") or {}).get(
        f"{container_port}/tcp"
    ) or []
    published = [(str(p.get("HostIp", "")), str(p.get("HostPort", ""))) for p in ports]
    if any(ip in (host, "0.0.0.0", "") and hp == str(host_port) for ip, hp in published):
        return
    found = listeners_on(host, host_port)
    holders = holders_of({x.inode for x in found}) if found else {}
    squatters = [
        f"pid {pid} ({process_cmdline(pid)[:120]})" for ps in holders.values() for pid in ps
    ]
    shown = ", ".join(f"{ip}:{hp}" for ip, hp in published) or "nothing"
    raise SandboxError(
        f"container {container.name} publishes {container_port}/tcp on {shown}, not on"
        f" {host}:{host_port} where the harness would measure it"
        + (f"; {host}:{host_port} is held by " + ", ".join(squatters) if squatters else "")
    )
