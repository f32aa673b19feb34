"""Find and remove labelled engine resources: those of dead harnesses (the next run's sweep)
and those of one run (its teardown)."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

from harness.sandbox.labels import LABEL_OWNER, LABEL_OWNER_PID, LABEL_RUN, OWNER, owner_is_gone

__all__ = ["Swept", "remove_run", "sweep"]


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
