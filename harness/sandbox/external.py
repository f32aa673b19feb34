"""The ``external`` sandbox: a service already running at a URL, which the harness attaches
to and never owns.

Start is a readiness wait against the URL; nothing is started, so a service that does not
answer is an error that says to start it first. The port check cannot prove ownership as the
process sandbox does: on a loopback host the listeners' pids are recorded as seen, with their
owner named external and unknown, and beyond this machine nothing can be seen at all.
Signals have no process to go to (validation refuses signal rungs; a call that still arrives
fails). Teardown ends nothing: what the drill changed is put back through the control paths
by the engine's restore, and this sandbox only reports that it left the service running.
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from harness.errors import SandboxError
from harness.halt import Halt
from harness.sandbox.base import Endpoint, Sandbox, TeardownReport, TeardownWay
from harness.sandbox.engine_events import Emit
from harness.sandbox.ownership import Holder, holders_of, listeners_on, process_cmdline
from harness.sandbox.ready import raise_if_halted, wait_ready
from harness.sandbox_kind import SandboxKind
from harness.spec.models import ExternalSandboxSpec, HttpPath, ReadySpec
from harness.spec.urls import default_port, loopback_addresses
from harness.tls import client_context

__all__ = ["OWNER_UNKNOWN", "ExternalSandbox", "ListenerEvidence"]

OWNER_UNKNOWN = "external (not started by the harness; ownership unknown)"
"""What the evidence says of the listener's owner: the harness never proves it."""


@dataclass(frozen=True, slots=True)
class ListenerEvidence:
    """Who was seen listening on the external service's port when it became ready."""

    owner: str
    visible: bool
    """Whether this host's socket table could be read for the port (loopback hosts only)."""
    holders: tuple[Holder, ...]
    """Processes seen holding a listening socket there; seen, not proven to be the service."""

    def to_event(self) -> dict[str, object]:
        """The evidence as the timeline records it."""
        return {
            "owner": self.owner,
            "listeners_visible": self.visible,
            "listener_pids": [h.pid for h in self.holders],
            "listener_cmdlines": [h.cmdline[:200] for h in self.holders],
        }


class ExternalSandbox(Sandbox):
    """Attaches to a running service at ``spec.base_url``; never starts, signals or kills it."""

    name = SandboxKind.EXTERNAL
    owns_target = False

    def __init__(
        self,
        *,
        spec: ExternalSandboxSpec,
        ready: ReadySpec,
        emit: Emit,
        places: Mapping[str, str] | None = None,
        clock: Callable[[], int] = time.monotonic_ns,
    ) -> None:
        self._spec = spec
        self._ready = ready
        self._places = dict(places or {})
        self._emit = emit
        self._clock = clock
        url = spec.base_url.rstrip("/")
        parts = urlsplit(url)
        self._url = url
        self._host = parts.hostname or ""
        self._port = default_port(url)
        # Verified with the system's CAs, as an https control path without ca_file is.
        self._tls = client_context(HttpPath(base_url=url)) if parts.scheme == "https" else None
        self._report: TeardownReport | None = None
        self.listeners: ListenerEvidence | None = None

    def start(self, halt: Halt | None = None) -> Endpoint:
        """Wait until the service answers its readiness check; record who listens there.

        Raises SandboxError when it never does (the harness cannot start it), Interrupted as
        soon as ``halt`` is set.
        """
        raise_if_halted(halt)
        deadline = self._clock() + self._ready.timeout_ns
        endpoint = Endpoint(self._url, self._host, self._port, pid=None, port_held_by=())
        try:
            wait_ready(
                self._ready,
                endpoint,
                deadline_ns=deadline,
                clock=self._clock,
                exited=lambda: None,  # no process of ours to watch
                halt=halt,
                places=self._places,
                tls=self._tls,
            )
        except SandboxError as exc:
            raise SandboxError(
                f"external service {self._url} is not ready: {exc}; the harness does not start"
                " an external service, so it must be running and ready before the drill"
            ) from None
        self.listeners = self._listener_evidence()
        self._emit("external_listener", base_url=self._url, **self.listeners.to_event())
        return endpoint

    def _listener_evidence(self) -> ListenerEvidence:
        addresses = loopback_addresses(self._url)
        if not addresses:
            return ListenerEvidence(OWNER_UNKNOWN, False, ())
        found = [x for a in addresses for x in listeners_on(a, self._port)]
        held = holders_of({x.inode for x in found}) if found else {}
        pids = sorted({pid for pids in held.values() for pid in pids})
        return ListenerEvidence(
            OWNER_UNKNOWN, True, tuple(Holder(pid, process_cmdline(pid)) for pid in pids)
        )

    def send_signal(self, signum: int, *, to_group: bool) -> None:
        """Refused: the harness owns no process of an external service (validation already
        refuses signal rungs; this keeps a call that slips through from reaching anyone)."""
        raise SandboxError(
            "the external sandbox owns no process: a signal has nowhere it may be sent"
        )

    def alive(self) -> bool:
        """Whether something still accepts connections at the service's address (the harness
        knows no process of it, only its port)."""
        with (
            contextlib.suppress(OSError),
            socket.create_connection((self._host, self._port), timeout=1.0),
        ):
            return True
        return False

    def teardown(self) -> TeardownReport:
        """End nothing: the service is not the harness's. Idempotent."""
        if self._report is None:
            seen = self.listeners
            pids = ", ".join(str(h) for h in seen.holders) if seen is not None else ""
            # Looked at, not assumed: a drill's stop may have ended the service on its own.
            now = "still accepts" if self.alive() else "no longer accepts"
            self._report = TeardownReport(
                TeardownWay.NOT_OWNED,
                None,
                f"external service at {self._url}: the harness did not start it and never"
                f" signalled or killed it; at teardown its port {now} connections; the"
                " listener's owner is "
                + OWNER_UNKNOWN
                + (f"; seen listening on its port at start: {pids}" if pids else ""),
            )
        return self._report

    def collect(self, into: Path) -> list[Path]:
        """Nothing to copy: the service's logs and event log are its own."""
        return []

    @property
    def events_path(self) -> Path | None:
        """An external service keeps no event log the harness can read."""
        return None
