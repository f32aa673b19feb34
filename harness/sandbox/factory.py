"""Make the container sandbox a drill asks for (docker or compose) from its target's
declaration; the engine makes the process sandbox itself."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from pathlib import Path

from harness.errors import SandboxError
from harness.sandbox.compose import ComposeSandbox
from harness.sandbox.containers import Emit
from harness.sandbox.docker import DockerSandbox
from harness.spec.models import Drill

__all__ = ["CONTAINER_SANDBOXES", "container_sandbox"]

CONTAINER_SANDBOXES = ("docker", "compose")


def container_sandbox(
    drill: Drill,
    *,
    workdir: Path,
    secrets: Mapping[str, str],
    run_id: str,
    emit: Emit,
    clock: Callable[[], int] = time.monotonic_ns,
) -> DockerSandbox | ComposeSandbox:
    """The docker or compose sandbox for ``drill`` (nothing is started yet)."""
    target = drill.target
    target_dir = Path(target.directory)
    if drill.resolved_sandbox == "docker":
        return DockerSandbox(
            spec=target.docker_spec(),
            ready=target.ready,
            target_name=target.target,
            target_dir=target_dir,
            workdir=workdir,
            secrets=secrets,
            run_id=run_id,
            extra_args=tuple(drill.target_args),
            emit=emit,
            clock=clock,
        )
    if drill.resolved_sandbox == "compose":
        return ComposeSandbox(
            spec=target.compose_spec(),
            ready=target.ready,
            target_dir=target_dir,
            workdir=workdir,
            secrets=secrets,
            run_id=run_id,
            extra_args=tuple(drill.target_args),
            emit=emit,
            clock=clock,
        )
    raise SandboxError(f"{drill.resolved_sandbox!r} is not a container sandbox")
