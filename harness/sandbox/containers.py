"""What the docker and compose sandboxes share: labels and the sweep, the engine's event
stream on the host's clock, readiness, the shared-clock check, and container operations.

Every container, network and image the harness makes carries the labels of ``run_labels``:
an owner label, the run id, and the owning harness's pid, its start time and host (so a
recycled pid is not mistaken for a live owner, and another machine's resources are never
touched). ``sweep`` removes whatever a dead harness left behind.

Engine events carry the engine's wall-clock time. They are put on the host's monotonic clock
with one offset (wall - monotonic) sampled when the sandbox is made; the two clocks do not
drift apart by more than NTP slews them during one drill, so the error is the sampling
bracket (microseconds) plus the engine's own delay in stamping an event (milliseconds).
"""

from __future__ import annotations

import abc
import contextlib
import contextvars
import json
import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.errors import SandboxError
from harness.sandbox import reaper
from harness.sandbox.base import TeardownReport, TeardownWay
from harness.target_events import copy_event_log

if TYPE_CHECKING:
    from harness.spec.models import ContainerOp

__all__ = [
    "LABEL_OWNER",
    "LABEL_RUN",
    "OWNER",
    "ContainerRuntime",
    "EngineEvents",
    "Swept",
    "check_published",
    "check_shared_clock",
    "connect",
    "container_user",
    "end_run",
    "logs_of",
    "owner_is_gone",
    "run_labels",
    "sweep",
    "wall_minus_monotonic_ns",
    "write_collected",
]

OWNER = "govdrill"
LABEL_OWNER = "org.govdrill.owner"
LABEL_RUN = "org.govdrill.run-id"
LABEL_OWNER_PID = "org.govdrill.owner-pid"
LABEL_OWNER_START = "org.govdrill.owner-start"
LABEL_OWNER_HOST = "org.govdrill.owner-host"

LOG_CAP_BYTES = 20 * 1024 * 1024
"""The most of each output stream kept per container."""

Emit = Callable[..., None]
"""``emit(name, **fields)``: one timeline event (the engine passes ``Timeline.event``)."""

RECORDED_ACTIONS = frozenset(
    {"create", "start", "die", "stop", "kill", "oom", "pause", "unpause", "restart", "destroy"}
)
"""Container events kept as evidence (exec and attach noise is left out)."""


def run_labels(run_id: str) -> dict[str, str]:
    """The labels of every resource the harness makes for ``run_id``."""
    me = os.getpid()
    return {
        LABEL_OWNER: OWNER,
        LABEL_RUN: run_id,
        LABEL_OWNER_PID: str(me),
        LABEL_OWNER_START: reaper.process_start_time(me) or "",
        LABEL_OWNER_HOST: socket.gethostname(),
    }


def owner_is_gone(labels: Mapping[str, str]) -> bool:
    """Whether the harness that labelled a resource no longer runs on this host."""
    if labels.get(LABEL_OWNER_HOST) != socket.gethostname():
        return False  # another machine's harness: not ours to judge
    try:
        pid = int(labels.get(LABEL_OWNER_PID, "0"))
    except ValueError:
        return True
    return pid <= 0 or reaper.process_start_time(pid) != labels.get(LABEL_OWNER_START)


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


@dataclass(frozen=True, slots=True)
class Swept:
    """A labelled resource of a run whose harness is gone, removed by a later run."""

    kind: str
    name: str
    run_id: str
    owner_pid: str


def sweep(client: Any) -> list[Swept]:
    """Remove the containers and networks of dead harnesses, and our dangling images."""
    import docker.errors

    swept: list[Swept] = []
    owned = {"label": f"{LABEL_OWNER}={OWNER}"}
    for container in client.containers.list(all=True, filters=owned):
        labels = container.labels or {}
        if not owner_is_gone(labels):
            continue
        with contextlib.suppress(docker.errors.NotFound):
            container.remove(force=True, v=True)
        swept.append(
            Swept(
                "container",
                container.name,
                labels.get(LABEL_RUN, ""),
                labels.get(LABEL_OWNER_PID, ""),
            )
        )
    for network in client.networks.list(filters=owned):
        labels = network.attrs.get("Labels") or {}
        if not owner_is_gone(labels):
            continue
        with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
            network.remove()
            swept.append(
                Swept(
                    "network",
                    network.name,
                    labels.get(LABEL_RUN, ""),
                    labels.get(LABEL_OWNER_PID, ""),
                )
            )
    # Rebuilding a tag leaves the old image untagged; only ours, only untagged.
    with contextlib.suppress(docker.errors.APIError):
        pruned = client.images.prune(filters={"dangling": True, "label": owned["label"]})
        for item in pruned.get("ImagesDeleted") or []:
            if item.get("Deleted"):
                swept.append(Swept("image", item["Deleted"][:19], "", ""))
    return swept


def wall_minus_monotonic_ns() -> tuple[int, int]:
    """The offset wall - monotonic, and the bracket (ns) it was sampled within."""
    best: tuple[int, int] | None = None
    for _ in range(5):
        before = time.monotonic_ns()
        wall = time.time_ns()
        after = time.monotonic_ns()
        if best is None or after - before < best[1]:
            best = (wall - (before + after) // 2, after - before)
    assert best is not None
    return best


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


class EngineEvents:
    """The engine's events for one run's containers, read on a thread, stamped on the host's
    monotonic clock and handed to ``emit`` as ``container_event`` timeline events."""

    def __init__(self, client: Any, run_id: str, emit: Emit, offset_ns: int) -> None:
        self._client = client
        self._run_id = run_id
        self._emit = emit
        self._offset_ns = offset_ns
        self._stream: Any = None
        self._thread: threading.Thread | None = None
        self._closed = threading.Event()
        self.tearing_down = False
        """Set by the sandbox when the harness's own teardown begins: later events are its."""
        self.died: dict[str, tuple[int, int | None]] = {}
        """Container id → (monotonic instant, exit code) of its first ``die`` event."""

    def start(self) -> None:
        """Open the stream (from now on) and read it on a daemon thread."""
        self._stream = self._client.events(
            decode=True, filters={"type": "container", "label": f"{LABEL_RUN}={self._run_id}"}
        )
        # In a copy of this context, so the events carry the run's bound drill and run id.
        context = contextvars.copy_context()
        self._thread = threading.Thread(
            target=context.run, args=(self._read,), name="engine-events", daemon=True
        )
        self._thread.start()

    def _read(self) -> None:
        with contextlib.suppress(Exception):  # the stream ends with an error when closed
            for event in self._stream:
                if self._closed.is_set():
                    return
                self._one(event)

    def _one(self, event: Mapping[str, Any]) -> None:
        action = str(event.get("Action") or event.get("status") or "")
        action = action.split(":", 1)[0]
        if action not in RECORDED_ACTIONS:
            return
        attrs = (event.get("Actor") or {}).get("Attributes") or {}
        t_ns = int(event.get("timeNano") or 0) - self._offset_ns
        ident = str((event.get("Actor") or {}).get("ID") or event.get("id") or "")
        fields: dict[str, Any] = {
            "action": action,
            "container": attrs.get("name", ident[:12]),
            "image": attrs.get("image", event.get("from")),
        }
        code: int | None = None
        if "exitCode" in attrs:
            with contextlib.suppress(ValueError):
                code = int(attrs["exitCode"])
            fields["exit_code"] = code
        if "signal" in attrs:
            fields["signal"] = attrs["signal"]
        if action == "die":
            self.died.setdefault(ident, (t_ns, code))
        if self.tearing_down:
            fields["during_teardown"] = True
        self._emit(
            "container_event", t_ns=t_ns, clock="engine wall time - sampled offset", **fields
        )

    def close(self, settle_s: float = 0.3) -> None:
        """Stop reading, after a short wait for the events of the last actions to arrive."""
        if self._stream is None or self._closed.is_set():
            return
        if self._thread is not None:
            self._thread.join(settle_s)
        self._closed.set()
        with contextlib.suppress(Exception):
            self._stream.close()
        if self._thread is not None:
            self._thread.join(2.0)


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


def check_shared_clock(events: Path | None, started_ns: int, ready_ns: int) -> dict[str, Any]:
    """Whether the target's event stamps are on the harness's monotonic clock.

    The target's ``started`` and ``ready`` events must lie between the instant the harness
    asked the engine to start the container and the instant it saw the target ready. A
    container has no clock of its own (no time namespace), so this holds unless something
    between the two machines' clocks is wrong; the check makes that a recorded fact.
    """
    result: dict[str, Any] = {"window_ns": [started_ns, ready_ns]}
    stamps = _first_events(events, ("started", "ready")) if events is not None else {}
    if not stamps:
        result.update(shared=None, detail="the target keeps no event log; clock unchecked")
        return result
    inside = all(started_ns <= t <= ready_ns for t in stamps.values())
    result.update(
        shared=inside,
        target_stamps_ns=stamps,
        detail="the target's started/ready stamps lie inside the harness's window"
        if inside
        else "the target's stamps lie outside the harness's window: its event log is on"
        " another clock and cannot be compared",
    )
    return result


def _first_events(path: Path, names: Iterable[str]) -> dict[str, int]:
    wanted = set(names)
    found: dict[str, int] = {}
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return found
    for line in lines:
        with contextlib.suppress(ValueError, TypeError, KeyError):
            event = json.loads(line)
            name = event["event"]
            if name in wanted and name not in found:
                found[name] = int(event["t_ns"])
    return found


class ContainerRuntime(abc.ABC):
    """A sandbox whose target is a container: the ``docker`` and ``compose`` control paths
    act through it."""

    name: str
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


ContainerLogs = tuple[str, bytes, bytes]
"""A container's label (name and image), stdout and stderr."""


def logs_of(container: Any) -> ContainerLogs:
    """A container's output so far, each stream capped at ``LOG_CAP_BYTES``."""
    out = err = b""
    with contextlib.suppress(Exception):
        out = container.logs(stdout=True, stderr=False)[-LOG_CAP_BYTES:]
        err = container.logs(stdout=False, stderr=True)[-LOG_CAP_BYTES:]
    image = (container.attrs.get("Config") or {}).get("Image", "")
    return f"{container.name} ({image})", out, err


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


def remove_run(client: Any, run_id: str) -> list[str]:
    """Remove every container and network labelled with ``run_id``; return what went."""
    import docker.errors

    removed = []
    mine = {"label": f"{LABEL_RUN}={run_id}"}
    with contextlib.suppress(docker.errors.DockerException):
        for container in client.containers.list(all=True, filters=mine):
            with contextlib.suppress(docker.errors.NotFound):
                container.remove(v=True, force=True)
                removed.append(f"container {container.name}")
        for network in client.networks.list(filters=mine):
            with contextlib.suppress(docker.errors.NotFound):
                network.remove()
                removed.append(f"network {network.name}")
    return removed


def write_collected(into: Path, logs: list[ContainerLogs], events: Path | None) -> list[Path]:
    """Write the containers' output as target.stdout.log / target.stderr.log (one section
    per container when a redeploy replaced one) and copy the event log."""
    written = []
    for stream in ("stdout", "stderr"):
        dest = into / f"target.{stream}.log"
        with open(dest, "wb") as f:
            for entry in logs:
                if len(logs) > 1:
                    f.write(f"== container {entry[0]} ==\n".encode())
                f.write(entry[1] if stream == "stdout" else entry[2])
        written.append(dest)
    if events is not None and events.is_file():
        dest = into / "target.events.jsonl"
        copy_event_log(events, dest)  # bounded: a target may write gigabytes
        written.append(dest)
    return written


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
