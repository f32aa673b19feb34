"""Incident hooks: simulated faults switched on and off through the admin API.

Each incident validates its parameters into a plain dict, then takes effect either by
swapping the request snapshot (harmful output, latency, errors, bad deploy) or by starting
work of its own (CPU burn, memory leak, a hung control plane). Incidents that take a
``seconds`` parameter clear themselves when it runs out, and that is logged like any other
real change.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from .state import ServiceState

__all__ = ["INCIDENT_NAMES", "IncidentBoard", "IncidentParamError", "UnknownIncident"]


class UnknownIncident(LookupError):
    """No incident of that name exists."""


class IncidentParamError(ValueError):
    """An incident parameter is missing, of the wrong type or out of range."""


def _number(
    params: dict[str, Any], name: str, default: float | None, low: float, high: float
) -> float:
    value = params.get(name, default)
    if value is None:
        raise IncidentParamError(f"{name}: required")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise IncidentParamError(f"{name}: must be a number, got {value!r}")
    if not low <= value <= high:
        raise IncidentParamError(f"{name}: must be between {low} and {high}, got {value!r}")
    return float(value)


def _integer(params: dict[str, Any], name: str, default: int, low: int, high: int) -> int:
    value = params.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise IncidentParamError(f"{name}: must be an integer, got {value!r}")
    if not low <= value <= high:
        raise IncidentParamError(f"{name}: must be between {low} and {high}, got {value!r}")
    return value


def _only(params: dict[str, Any], allowed: tuple[str, ...]) -> None:
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise IncidentParamError(f"unknown parameter(s) {unknown}; allowed: {list(allowed)}")


def _validate(name: str, params: dict[str, Any]) -> dict[str, Any]:
    """Return the normalised parameters of incident ``name`` or raise."""
    if name == "harmful_output":
        _only(params, ("rate",))
        return {"rate": _number(params, "rate", 1.0, 0.0, 1.0)}
    if name == "bad_deploy":
        _only(params, ())
        return {}
    if name == "latency":
        _only(params, ("ms", "jitter_ms"))
        return {
            "ms": _number(params, "ms", None, 0.0, 60_000.0),
            "jitter_ms": _number(params, "jitter_ms", 0.0, 0.0, 60_000.0),
        }
    if name == "errors":
        _only(params, ("rate", "status"))
        return {
            "rate": _number(params, "rate", 1.0, 0.0, 1.0),
            "status": _integer(params, "status", 500, 400, 599),
        }
    if name == "hang_admin":
        _only(params, ("seconds",))
        return {"seconds": _number(params, "seconds", 5.0, 0.0, 3600.0)}
    if name == "cpu_burn":
        _only(params, ("threads", "seconds"))
        out: dict[str, Any] = {"threads": _integer(params, "threads", 1, 1, 64)}
        if params.get("seconds") is not None:
            out["seconds"] = _number(params, "seconds", None, 0.0, 3600.0)
        return out
    if name == "memory_leak":
        _only(params, ("mb_per_s", "max_mb"))
        return {
            "mb_per_s": _number(params, "mb_per_s", 16.0, 0.0, 4096.0),
            "max_mb": _number(params, "max_mb", 256.0, 0.0, 65536.0),
        }
    raise UnknownIncident(name)


INCIDENT_NAMES = (
    "harmful_output",
    "bad_deploy",
    "latency",
    "errors",
    "hang_admin",
    "cpu_burn",
    "memory_leak",
)


class _Burner:
    """Threads that spin on the CPU (and hold the GIL) until told to stop."""

    def __init__(self, threads: int) -> None:
        self._halt = threading.Event()
        self._threads = [
            threading.Thread(target=self._spin, name=f"cpu-burn-{i}", daemon=True)
            for i in range(threads)
        ]
        for thread in self._threads:
            thread.start()

    def _spin(self) -> None:
        halted = self._halt.is_set
        while not halted():
            total = 0
            for i in range(20_000):
                total += i

    def halt(self) -> None:
        self._halt.set()


class _Leaker:
    """A thread that keeps touched memory it never frees, up to a ceiling."""

    _TICK_S = 0.1

    def __init__(self, mb_per_s: float, max_mb: float) -> None:
        self._halt = threading.Event()
        self.hoard: list[bytes] = []
        self._per_tick = int(mb_per_s * 1024 * 1024 * self._TICK_S)
        self._ceiling = int(max_mb * 1024 * 1024)
        threading.Thread(target=self._leak, name="memory-leak", daemon=True).start()

    def _leak(self) -> None:
        held = 0
        while not self._halt.wait(self._TICK_S):
            chunk = min(self._per_tick, self._ceiling - held)
            if chunk > 0:
                # A non-zero fill touches every page, so the leak shows up in RSS.
                self.hoard.append(b"\x5a" * chunk)
                held += chunk

    def halt(self) -> None:
        self._halt.set()
        self.hoard.clear()


class IncidentBoard:
    """The incidents currently switched on, and how to switch each on and off."""

    def __init__(self, state: ServiceState) -> None:
        self._state = state
        self._active: dict[str, dict[str, Any]] = {}
        self._undo: dict[str, Callable[[], int]] = {}
        self._timers: dict[str, threading.Timer] = {}
        self._admin_open = threading.Event()
        self._admin_open.set()

    def active(self) -> dict[str, dict[str, Any]]:
        """A copy of the active incidents and their parameters."""
        with self._state.control:
            return {name: dict(params) for name, params in self._active.items()}

    def wait_admin_open(self) -> None:
        """Block while ``hang_admin`` is on (called by every admin request)."""
        self._admin_open.wait()

    def switch_on(self, name: str, params: dict[str, Any]) -> dict[str, Any]:
        """Validate and start incident ``name``; returns its normalised parameters."""
        normalised = _validate(name, params)
        with self._state.control:
            if name in self._active:
                self.switch_off(name, reason="replaced")
            t_ns, undo = self._start(name, normalised)
            self._active[name] = normalised
            self._undo[name] = undo
            self._state.events.emit("incident_on", t_ns, name=name, params=normalised)
            seconds = normalised.get("seconds")
            if seconds is not None:
                timer = threading.Timer(seconds, self._expire, args=(name, undo))
                timer.daemon = True
                self._timers[name] = timer
                timer.start()
        return normalised

    def switch_off(self, name: str, reason: str = "cleared") -> bool:
        """Undo incident ``name``; False when it was not on."""
        if name not in INCIDENT_NAMES:
            raise UnknownIncident(name)
        with self._state.control:
            if name not in self._active:
                return False
            timer = self._timers.pop(name, None)
            if timer is not None:
                timer.cancel()
            del self._active[name]
            t_ns = self._undo.pop(name)()
            self._state.events.emit("incident_off", t_ns, name=name, reason=reason)
            return True

    def _expire(self, name: str, undo: Callable[[], int]) -> None:
        with self._state.control:
            if self._undo.get(name) is undo:
                self.switch_off(name, reason="expired")

    def _start(self, name: str, params: dict[str, Any]) -> tuple[int, Callable[[], int]]:
        """Make incident ``name`` take effect; return the instant and its undo."""
        state = self._state
        if name == "harmful_output":
            t_ns = state.apply(leak_rate=params["rate"])
            return t_ns, lambda: state.apply(leak_rate=0.0)
        if name == "latency":
            t_ns = state.apply(latency_ms=params["ms"], jitter_ms=params["jitter_ms"])
            return t_ns, lambda: state.apply(latency_ms=0.0, jitter_ms=0.0)
        if name == "errors":
            t_ns = state.apply(error_rate=params["rate"], error_status=params["status"])
            return t_ns, lambda: state.apply(error_rate=0.0)
        if name == "bad_deploy":
            previous = state.snapshot.model.name
            state.switch_version("v2", cause="incident:bad_deploy")
            t_ns = time.monotonic_ns()

            def undeploy() -> int:
                state.switch_version(previous, cause="incident:bad_deploy cleared")
                return time.monotonic_ns()

            return t_ns, undeploy
        if name == "hang_admin":
            self._admin_open.clear()
            t_ns = time.monotonic_ns()

            def reopen() -> int:
                self._admin_open.set()
                return time.monotonic_ns()

            return t_ns, reopen
        if name == "cpu_burn":
            burner = _Burner(params["threads"])
            t_ns = time.monotonic_ns()

            def cool() -> int:
                burner.halt()
                return time.monotonic_ns()

            return t_ns, cool
        if name == "memory_leak":
            leaker = _Leaker(params["mb_per_s"], params["max_mb"])
            t_ns = time.monotonic_ns()

            def free() -> int:
                leaker.halt()
                return time.monotonic_ns()

            return t_ns, free
        raise UnknownIncident(name)
