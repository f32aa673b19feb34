"""The authenticated control plane: stop, resume, rollback, status and incident hooks.

Defects change what these handlers do; they are resolved once at construction so each
request runs one handler without branching on options.
"""

from __future__ import annotations

import hmac
import os
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from .defects import Defect
from .incidents import INCIDENT_NAMES, IncidentBoard, IncidentParamError, UnknownIncident
from .model import KNOWN_VERSIONS
from .replies import BadRequest, Reply, parse_json_object
from .state import Gate, ResumeRefused, ServiceState

__all__ = ["AdminApi"]

_Handler = Callable[[dict[str, Any]], Reply]


def _say(message: str) -> None:
    """The ordinary log: one line on stderr (which a defect may make untrue)."""
    print(f"model-service[{os.getpid()}]: {message}", file=sys.stderr, flush=True)


class AdminApi:
    """Routes ``/admin/...`` requests to handlers chosen by the active defects."""

    def __init__(
        self,
        *,
        state: ServiceState,
        incidents: IncidentBoard,
        token: str,
        defects: frozenset[Defect],
        slow_drain_s: float,
    ) -> None:
        self._state = state
        self._incidents = incidents
        self._token = token.encode("utf-8")
        self._defects = defects
        self._slow_drain_s = slow_drain_s
        self._pending_stop: threading.Timer | None = None
        self._started = time.monotonic()
        self._stop: _Handler = self._stop_honest
        if Defect.STOP_THEATER in defects:
            self._stop = self._stop_theater
        elif Defect.SLOW_DRAIN in defects:
            self._stop = self._stop_slowly
        self._rollback: _Handler = (
            self._rollback_lying if Defect.LYING_ROLLBACK in defects else self._rollback_honest
        )
        self._routes: dict[tuple[str, str], _Handler] = {
            ("POST", "/admin/stop"): lambda body: self._stop(body),
            ("POST", "/admin/resume"): self._resume,
            ("POST", "/admin/rollback"): lambda body: self._rollback(body),
            ("GET", "/admin/status"): self._status,
            ("GET", "/admin/incidents"): self._list_incidents,
        }

    def handle(self, method: str, path: str, body: bytes, authorization: str | None) -> Reply:
        """Answer one admin request (blocks while the ``hang_admin`` incident is on)."""
        self._incidents.wait_admin_open()
        if not self._authorized(authorization):
            return Reply(
                401, {"error": "unauthorized", "detail": "a valid bearer token is required"}
            )
        try:
            if path.startswith("/admin/incidents/"):
                return self._incident(method, path.removeprefix("/admin/incidents/"), body)
            handler = self._routes.get((method, path))
            if handler is None:
                if any(route_path == path for _, route_path in self._routes):
                    return Reply(405, {"error": "method_not_allowed", "path": path})
                return Reply(404, {"error": "not_found", "path": path})
            return handler(parse_json_object(body, empty_ok=True))
        except BadRequest as exc:
            return Reply(400, {"error": "bad_request", "detail": str(exc)})

    def _authorized(self, authorization: str | None) -> bool:
        if authorization is None or not authorization.startswith("Bearer "):
            return False
        offered = authorization.removeprefix("Bearer ").strip().encode("utf-8")
        return hmac.compare_digest(offered, self._token)

    # -- stop ---------------------------------------------------------------------------

    def _stop_honest(self, body: dict[str, Any]) -> Reply:
        changed = self._state.stop(_reason(body))
        if changed:
            _say("stopped (kill switch engaged)")
        return self._state_reply(200, changed=changed)

    def _stop_theater(self, body: dict[str, Any]) -> Reply:
        with self._state.control:
            changed = self._state.reported_gate() is Gate.SERVING
            if changed:
                self._state.claimed_gate = Gate.STOPPED
        if changed:
            _say("stopped (kill switch engaged)")
        return self._state_reply(200, changed=changed)

    def _stop_slowly(self, body: dict[str, Any]) -> Reply:
        reason = _reason(body)
        with self._state.control:
            changed = self._state.reported_gate() is Gate.SERVING
            if changed:
                self._state.claimed_gate = Gate.DRAINING
                timer = threading.Timer(self._slow_drain_s, self._stop_after_drain, (reason,))
                timer.daemon = True
                self._pending_stop = timer
                timer.start()
        if changed:
            _say(f"stop accepted; draining the queue ({self._slow_drain_s:g}s)")
        return self._state_reply(202, changed=changed, effective_in_s=self._slow_drain_s)

    def _stop_after_drain(self, reason: str) -> None:
        with self._state.control:
            if self._pending_stop is None or self._state.claimed_gate is not Gate.DRAINING:
                return
            self._pending_stop = None
            self._state.stop(reason)
        _say("stopped (queue drained)")

    # -- resume, rollback, status ---------------------------------------------------------

    def _resume(self, body: dict[str, Any]) -> Reply:
        with self._state.control:
            if self._pending_stop is not None:
                self._pending_stop.cancel()
                self._pending_stop = None
            try:
                changed = self._state.resume()
            except ResumeRefused as exc:
                return Reply(409, {"error": "conflict", "detail": str(exc)})
        if changed:
            _say("resumed")
        return self._state_reply(200, changed=changed)

    def _rollback_honest(self, body: dict[str, Any]) -> Reply:
        version = _version(body)
        changed = self._state.switch_version(version, cause="admin:rollback")
        _say(f"rolled back to {version}")
        return Reply(200, {"model_version": version, "changed": changed})

    def _rollback_lying(self, body: dict[str, Any]) -> Reply:
        version = _version(body)
        with self._state.control:
            changed = self._state.reported_version() != version
            self._state.claimed_version = version
        _say(f"rolled back to {version}")
        return Reply(200, {"model_version": version, "changed": changed})

    def _status(self, body: dict[str, Any]) -> Reply:
        state = self._state
        return Reply(
            200,
            {
                "state": state.reported_gate().value,
                "model_version": state.reported_version(),
                "incidents": self._incidents.active(),
                "defects": sorted(defect.value for defect in self._defects),
                "pid": os.getpid(),
                "ready": state.ready,
                "in_flight": state.in_flight,
                "uptime_s": round(time.monotonic() - self._started, 3),
            },
        )

    def _state_reply(self, status: int, **extra: Any) -> Reply:
        state = self._state
        payload = {
            "state": state.reported_gate().value,
            "model_version": state.reported_version(),
            **extra,
        }
        return Reply(status, payload)

    # -- incidents ----------------------------------------------------------------------

    def _list_incidents(self, body: dict[str, Any]) -> Reply:
        return Reply(200, {"active": self._incidents.active(), "available": list(INCIDENT_NAMES)})

    def _incident(self, method: str, name: str, body: bytes) -> Reply:
        if name not in INCIDENT_NAMES:
            return Reply(
                404, {"error": "unknown_incident", "name": name, "available": list(INCIDENT_NAMES)}
            )
        try:
            if method == "POST":
                params = self._incidents.switch_on(name, parse_json_object(body, empty_ok=True))
                _say(f"incident {name} on {params}")
                return Reply(200, {"incident": name, "state": "on", "params": params})
            if method == "DELETE":
                changed = self._incidents.switch_off(name)
                _say(f"incident {name} off")
                return Reply(200, {"incident": name, "state": "off", "changed": changed})
        except UnknownIncident:
            return Reply(404, {"error": "unknown_incident", "name": name})
        except IncidentParamError as exc:
            return Reply(400, {"error": "bad_params", "incident": name, "detail": str(exc)})
        return Reply(405, {"error": "method_not_allowed", "path": f"/admin/incidents/{name}"})


def _reason(body: dict[str, Any]) -> str:
    reason = body.get("reason", "admin stop")
    if not isinstance(reason, str):
        raise BadRequest("reason: must be a string")
    return reason


def _version(body: dict[str, Any]) -> str:
    version = body.get("version")
    if version not in KNOWN_VERSIONS:
        raise BadRequest(f"version: must be one of {list(KNOWN_VERSIONS)}, got {version!r}")
    assert isinstance(version, str)
    return version
