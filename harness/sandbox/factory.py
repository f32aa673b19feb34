"""The one place a sandbox is chosen: make the sandbox a drill asks for from its target's
declaration, and sweep what dead harnesses left in its runtime."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from harness.sandbox.base import Sandbox
from harness.sandbox.container_runtime import ContainerRuntime
from harness.sandbox.engine_events import Emit
from harness.sandbox.leftovers import Swept
from harness.sandbox.process import ProcessSandbox
from harness.sandbox_kind import SandboxKind
from harness.secrets import RunSecrets
from harness.spec.models import Drill

__all__ = ["make_sandbox", "sweep_leftovers"]


def make_sandbox(
    drill: Drill,
    *,
    workdir: Path,
    secrets: RunSecrets,
    run_id: str,
    log_dir: Path,
    emit: Emit,
    clock: Callable[[], int] = time.monotonic_ns,
) -> Sandbox:
    """The sandbox ``drill`` runs its target in (nothing is started yet)."""
    target = drill.target
    target_dir = Path(target.directory)
    kind = drill.resolved_sandbox
    if kind is SandboxKind.PROCESS:
        return ProcessSandbox(
            spec=target.process_spec(),
            ready=target.ready,
            target_dir=target_dir,
            workdir=workdir,
            secrets=secrets.files,
            values=secrets.values,
            run_id=run_id,
            extra_args=tuple(drill.target_args),
            log_dir=log_dir,
            clock=clock,
        )
    # Imported here: a process run never loads the container sandboxes.
    if kind is SandboxKind.DOCKER:
        from harness.sandbox.docker_sandbox import DockerSandbox

        return DockerSandbox(
            spec=target.docker_spec(),
            ready=target.ready,
            target_name=target.target,
            target_dir=target_dir,
            workdir=workdir,
            secrets=secrets.files,
            run_id=run_id,
            extra_args=tuple(drill.target_args),
            emit=emit,
            clock=clock,
        )
    if kind is SandboxKind.EXTERNAL:
        from harness.sandbox.external import ExternalSandbox

        return ExternalSandbox(
            spec=target.external_spec(),
            ready=target.ready,
            places={"target_dir": str(target_dir), "workdir": str(workdir)},
            emit=emit,
            clock=clock,
        )
    assert kind is SandboxKind.COMPOSE, kind  # SandboxKind lists only what is built
    from harness.sandbox.compose import ComposeSandbox

    return ComposeSandbox(
        spec=target.compose_spec(),
        ready=target.ready,
        target_dir=target_dir,
        workdir=workdir,
        secrets=secrets.files,
        run_id=run_id,
        extra_args=tuple(drill.target_args),
        emit=emit,
        clock=clock,
    )


def sweep_leftovers(sandbox: Sandbox) -> list[Swept]:
    """Remove what dead harnesses left in ``sandbox``'s container engine; return it for the
    evidence (a process sandbox's leftovers are swept by ``reaper`` before every run; an
    external sandbox owns nothing, so nothing of it is ever swept)."""
    if isinstance(sandbox, ContainerRuntime):
        return sandbox.sweep()
    return []
