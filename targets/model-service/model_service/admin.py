"""The authenticated control plane: stop, resume, rollback, status, incident hooks and the
complaint queue.

Defects change what these handlers do; they are resolved once at construction so each
request runs one handler without branching on options. With ``log_control_calls`` every call
that asks for a change is logged (``control_call``: path, action, who) as it arrives, before
the token is checked or anything acts, so the log shows who pressed which button and when.
"""

from __future__ import annotations

import hmac
import os
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from .complaints import AlreadyResolved, ComplaintDesk, UnknownComplaint
from .defects import Defect
from .incidents import INCIDENT_NAMES, IncidentBoard, IncidentParamError, UnknownIncident
from .model import KNOWN_VERSIONS
from .replies import BadRequest, Reply, parse_json_object
from .state import Gate, ResumeRefused, ServiceState

__all__ = ["AdminApi"]

_Handler = Callable[[dict[str, Any]], Reply]

TOKEN_IDENTITY = "token:admin"
"""Who a call made with the admin token and no ``X-Operator`` header is logged as."""
MAX_OPERATOR_CHARS = 64
"""The most of an ``X-Operator`` header kept (a caller's text, logged verbatim otherwise)."""
_RESOLVE = "/resolve"
_COMPLAINTS = "/admin/complaints"


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
        desk: ComplaintDesk,
        log_control_calls: bool = False,
    ) -> None:
        self._state = state
        self._desk = desk
        self._log_control_calls = log_control_calls
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
            ("GET", _COMPLAINTS): self._list_complaints,
        }

    def handle(
        self,
        method: str,
        path: str,
        body: bytes,
        authorization: str | None,
        operator: str | None = None,
    ) -> Reply:
        """Answer one admin request (blocks while the ``hang_admin`` incident is on);
        ``operator`` is the caller's ``X-Operator`` header, logged as who made the call."""
        authorized = self._authorized(authorization)
        who = _identity(operator, authorized)
        if self._log_control_calls and method not in ("GET", "HEAD"):
            self._state.events.emit(
                "control_call",
                path=path[:200],
                method=method,
                action=_action(method, path),
                by=who,
                authorized=authorized,
            )
        self._incidents.wait_admin_open()
        if not authorized:
            return Reply(
                401, {"error": "unauthorized", "detail": "a valid bearer token is required"}
            )
        try:
            if path.startswith(_COMPLAINTS + "/") and path.endswith(_RESOLVE):
                if method != "POST":
                    return Reply(405, {"error": "method_not_allowed", "path": path})
                complaint_id = path.removeprefix(_COMPLAINTS + "/").removesuffix(_RESOLVE)
                return self._resolve(complaint_id, who)
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
                "complaints": self._desk.mode,
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

    # -- complaints ---------------------------------------------------------------------

    def _list_complaints(self, body: dict[str, Any]) -> Reply:
        return Reply(200, {"mode": self._desk.mode, "complaints": self._desk.listing()})

    def _resolve(self, complaint_id: str, who: str) -> Reply:
        try:
            done = self._desk.resolve(complaint_id, who)
        except UnknownComplaint:
            return Reply(404, {"error": "unknown_complaint", "complaint_id": complaint_id[:100]})
        except AlreadyResolved:
            return Reply(409, {"error": "already_resolved", "complaint_id": complaint_id})
        _say(f"complaint {complaint_id} resolved by {who}: rolled back to {done.model_version}")
        return Reply(
            200,
            {
                "complaint_id": done.complaint_id,
                "resolved": True,
                "model_version": done.model_version,
                "changed": done.changed,
            },
        )

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


def _identity(operator: str | None, authorized: bool) -> str:
    """Who made a call: its ``X-Operator`` header (printable ASCII, bounded), else the token's
    name when the token was valid, else ``anonymous``."""
    if operator is not None:
        kept = "".join(ch for ch in operator if " " <= ch <= "~").strip()[:MAX_OPERATOR_CHARS]
        if kept:
            return kept
    return TOKEN_IDENTITY if authorized else "anonymous"


_ACTIONS = {
    "/admin/stop": "stop",
    "/admin/resume": "resume",
    "/admin/rollback": "rollback",
}


def _action(method: str, path: str) -> str:
    """The control action a call asks for, named from its method and path."""
    if path in _ACTIONS:
        return _ACTIONS[path]
    if path.startswith("/admin/incidents/"):
        return "incident_off" if method == "DELETE" else "incident_on"
    if path.startswith(_COMPLAINTS + "/") and path.endswith(_RESOLVE):
        return "resolve"
    return "other"


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
