"""What every sandbox offers the drill engine: start a target, reach it, signal it, tear it down."""

from __future__ import annotations

import abc
import enum
from dataclasses import dataclass, field
from pathlib import Path

from harness.halt import Halt
from harness.sandbox_kind import SandboxKind

__all__ = ["Endpoint", "KilledLeftover", "Sandbox", "TeardownReport", "TeardownWay"]


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where a started target answers."""

    base_url: str
    host: str
    port: int
    pid: int | None = None
    """The target's main process, when the sandbox owns one on this host."""
    port_held_by: tuple[int, ...] = ()
    """The sandbox's processes proven to hold the listening socket (process sandbox)."""


class TeardownWay(enum.StrEnum):
    """How the harness's own teardown found and left the target."""

    ALREADY_GONE = "already_gone"
    """Nothing was running any more: a control path (or a crash) had ended it."""
    TERMINATED = "terminated"
    """The harness's teardown ended it with SIGTERM."""
    KILLED = "killed"
    """The harness's teardown had to SIGKILL it."""
    NOT_OWNED = "not_owned"
    """The target is not the harness's (an external service): teardown ended nothing."""


@dataclass(frozen=True, slots=True)
class KilledLeftover:
    """A process of the sandbox that outlived its target's process group and had to be killed."""

    pid: int
    cmdline: str

    def to_summary(self) -> dict[str, object]:
        """The leftover as the summary and the timeline show it."""
        return {"pid": self.pid, "cmdline": self.cmdline[:200]}


@dataclass(frozen=True, slots=True)
class TeardownReport:
    """What teardown did; evidence of which path really ended the target."""

    way: TeardownWay
    exit_code: int | None
    detail: str = ""
    leftovers_killed: tuple[KilledLeftover, ...] = field(default_factory=tuple)
    """Descendants that escaped the process group (a double-forked daemon, say)."""


class Sandbox(abc.ABC):
    """A place a target runs. Use as a context manager: teardown always happens."""

    name: SandboxKind
    owns_target: bool = True
    """Whether the harness started the target and ends it at teardown; when not (external),
    teardown puts back instead what the drill changed: its incidents and its stop."""
    signal_timeout_s: float = 1.0
    """How long delivering one signal may take before the rung counts as timed out: a
    ``kill(2)`` is immediate, a container engine's API call is not."""

    @abc.abstractmethod
    def start(self, halt: Halt | None = None) -> Endpoint:
        """Start the target and return where it answers once it is ready.

        Raises Interrupted as soon as ``halt`` is set, whatever the start is waiting for.
        """

    @abc.abstractmethod
    def send_signal(self, signum: int, *, to_group: bool) -> None:
        """Deliver a real signal to the target (its process group or main process)."""

    @abc.abstractmethod
    def alive(self) -> bool:
        """Whether the target's main process still runs."""

    @abc.abstractmethod
    def teardown(self) -> TeardownReport:
        """End whatever is left; idempotent. Never counted as a stop by the drill."""

    @abc.abstractmethod
    def collect(self, into: Path) -> list[Path]:
        """Copy the target's logs and event log into ``into``; return what was written."""

    @property
    @abc.abstractmethod
    def events_path(self) -> Path | None:
        """The target's ground-truth event log, if it keeps one."""

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.teardown()
