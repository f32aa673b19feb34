"""The kinds of sandbox a drill can run its target in: one name for each, used by the spec,
the CLI, the pytest plugin and the sandbox factory.

This module imports nothing, so the CLI and the pytest plugin can offer the choices without
loading the spec or any sandbox. A kind is listed here only once it is built.
"""

from __future__ import annotations

import enum

__all__ = ["CONTAINER_KINDS", "SandboxKind"]


class SandboxKind(enum.StrEnum):
    """Where a target runs."""

    PROCESS = "process"
    """A child process in its own session, with resource limits (the embedded default)."""
    DOCKER = "docker"
    """A hardened container through the Docker Engine API."""
    COMPOSE = "compose"
    """One service of a compose project named for the run."""
    EXTERNAL = "external"
    """A service already running at a URL: the harness attaches, never starts or kills it."""


CONTAINER_KINDS = frozenset({SandboxKind.DOCKER, SandboxKind.COMPOSE})
"""The kinds whose target is a container (they need a Docker engine)."""
