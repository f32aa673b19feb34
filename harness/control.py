"""Control paths: the real ways to stop, resume or roll back a target, each behind one method.

Every call is bounded by its timeout and returns a ControlResult; a hung control plane is a
finding recorded as TIMED_OUT, never a hung harness. The call runs on a daemon thread so the
engine keeps watching the load while it waits.

An ``https`` control path is verified TLS (never plain HTTP with the token in clear); a
command path fills drill values in one pass, each ``shlex.quote``d when a shell reads it.
"""

from __future__ import annotations

import abc
import enum
import http.client
import json
import os
import re
import shlex
import signal
import ssl
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

from harness.bounded_command import KEEP_BYTES, run_bounded
from harness.redact import redactor_for
from harness.sandbox.base import Endpoint, Sandbox
from harness.sandbox.container_runtime import ContainerRuntime
from harness.sandbox_kind import SandboxKind
from harness.spec.durations import to_ns
from harness.spec.models import (
    Action,
    CommandPath,
    ContainerPath,
    ControlPath,
    Drill,
    HttpCall,
    HttpPath,
    IncidentHook,
    SignalPath,
)
from harness.spec.proxy import ProxyRule
from harness.spec.urls import default_port
from harness.tls import client_context

__all__ = [
    "REFERENCE",
    "CallOutcome",
    "CommandBackend",
    "CommandHookBackend",
    "ContainerBackend",
    "ControlBackend",
    "ControlResult",
    "HookBackend",
    "HttpAnswer",
    "HttpBackend",
    "PendingCall",
    "PlannedCommand",
    "ProxyHookBackend",
    "ProxySwitch",
    "build_backend",
    "build_hook",
    "fill_command",
    "planned_commands",
    "resolve_refs",
]

REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
"""A ``${NAME}`` reference, resolved at run time and never written into evidence."""


class CallOutcome(enum.StrEnum):
    """How one control call ended."""

    ACKED = "acked"
    FAILED = "failed"
    TIMED_OUT = "timed_out"


@dataclass(frozen=True, slots=True)
class ControlResult:
    """What one control call returned, on the monotonic clock."""

    path: str
    action: Action
    outcome: CallOutcome
    issued_ns: int
    returned_ns: int
    detail: str


KEPT_HEADERS = ("content-type", "content-length", "retry-after", "location")
"""The answer headers an HttpAnswer keeps; the rest are the target's and not needed."""
MAX_HEADER_CHARS = 200
"""The most of one kept header value (the target chooses it: hostile until proven not)."""
READ_AT_LEAST = 2048
"""The least of a body that is read, whatever is kept: a redaction needs context."""


@dataclass(frozen=True, slots=True)
class HttpAnswer:
    """One HTTP control call as the harness keeps it. Everything from the target is bounded
    and passed through the run's redactor before it lands here."""

    outcome: CallOutcome
    status: int | None
    """The HTTP status, or None when no answer came (then ``error`` says why)."""
    headers: tuple[tuple[str, str], ...]
    """The headers of ``KEPT_HEADERS`` the target sent, lower-cased names, bounded values."""
    body: str
    """The answer's start, redacted, at most the ``keep_chars`` the caller asked for."""
    elapsed_ns: int
    """From sending the call to the end of the read, or to the failure."""
    error: str = ""
    """Why there is no answer (a timeout, a refused connection, a TLS setup failure)."""

    @property
    def detail(self) -> str:
        """The one-line detail of the evidence: ``HTTP <status> <body>``, or the error."""
        if self.status is None:
            return self.error
        return f"HTTP {self.status} {self.body}"


def resolve_refs(text: str, values: Mapping[str, str]) -> str:
    """Replace ``${NAME}`` from ``values``, the run's resolved ``${NAME}`` values (which its
    redactor hides); KeyError if unknown. Never the environment directly: a value the
    redactor does not know could reach the evidence."""
    return REFERENCE.sub(lambda match: values[match.group(1)], text)


class ControlBackend(abc.ABC):
    """One control path: performs an action and says how it went."""

    acknowledges = True
    """Whether success means the target acknowledged (an API answered, a command exited 0).
    A delivered signal is not an acknowledgement: nothing in the target said yes."""

    def __init__(self, name: str, clock: Callable[[], int]) -> None:
        self.name = name
        self._clock = clock

    @property
    @abc.abstractmethod
    def timeout_s(self) -> float:
        """The longest one call may take."""

    @abc.abstractmethod
    def _perform(self, action: Action, params: Mapping[str, Any]) -> tuple[CallOutcome, str]:
        """Do the action; return its outcome and a one-line detail."""

    def call(self, action: Action, params: Mapping[str, Any] | None = None) -> PendingCall:
        """Start the action on a daemon thread; the result arrives within the timeout."""
        pending = PendingCall(self.name, action, self._clock(), self.timeout_s, self._clock)
        thread = threading.Thread(
            target=self._run,
            args=(pending, action, dict(params or {})),
            daemon=True,
            name=f"control-{self.name}-{action.value}",
        )
        thread.start()
        return pending

    def _run(self, pending: PendingCall, action: Action, params: dict[str, Any]) -> None:
        try:
            outcome, detail = self._perform(action, params)
        except TimeoutError as exc:
            outcome, detail = CallOutcome.TIMED_OUT, str(exc) or "timed out"
        except Exception as exc:  # a control path failing is a finding, not a harness crash
            outcome, detail = CallOutcome.FAILED, f"{type(exc).__name__}: {exc}"
        pending._finish(outcome, detail)


class PendingCall:
    """A control call in flight; ``result()`` never waits past the call's timeout."""

    def __init__(
        self, path: str, action: Action, issued_ns: int, timeout_s: float, clock: Callable[[], int]
    ) -> None:
        self.path = path
        self.action = action
        self.issued_ns = issued_ns
        self._deadline_ns = issued_ns + to_ns(timeout_s)
        self._clock = clock
        self._done = threading.Event()
        self._result: ControlResult | None = None
        self._timeout_s = timeout_s

    def _finish(self, outcome: CallOutcome, detail: str) -> None:
        now = self._clock()
        if now > self._deadline_ns and outcome is not CallOutcome.TIMED_OUT:
            outcome, detail = CallOutcome.TIMED_OUT, f"answered after the timeout: {detail}"
        if self._result is None:
            self._result = ControlResult(
                self.path, self.action, outcome, self.issued_ns, now, detail
            )
        self._done.set()

    def poll(self) -> ControlResult | None:
        """The result if the call has ended (or its timeout passed), else None."""
        if self._result is not None:
            return self._result
        if self._clock() >= self._deadline_ns:
            self._result = ControlResult(
                self.path,
                self.action,
                CallOutcome.TIMED_OUT,
                self.issued_ns,
                self._deadline_ns,
                f"no answer within {self._timeout_s:g}s",
            )
            return self._result
        return None

    def result(self) -> ControlResult:
        """Wait (at most until the timeout) for the result."""
        remaining = max(0.0, (self._deadline_ns - self._clock()) / 1e9)
        self._done.wait(remaining)
        result = self.poll()
        while result is None:  # the clock has not quite reached the deadline yet
            time.sleep(0.001)
            result = self.poll()
        return result


class HttpBackend(ControlBackend):
    """A control plane spoken over HTTP or, for an https base_url, verified TLS (a kill
    switch, an admin API)."""

    def __init__(
        self,
        name: str,
        spec: HttpPath,
        endpoint: Endpoint,
        values: Mapping[str, str],
        clock: Callable[[], int],
    ) -> None:
        super().__init__(name, clock)
        self._spec = spec
        if spec.base_url:
            base = urlsplit(spec.base_url)
            self._host = base.hostname or endpoint.host
            self._port = default_port(spec.base_url)
            self._prefix = base.path.rstrip("/")
        else:
            self._host, self._port, self._prefix = endpoint.host, endpoint.port, ""
        # Built once: a bad CA file fails the first call, and validation already read it.
        self._tls: ssl.SSLContext | None = None
        self._tls_problem = ""
        if spec.tls:
            try:
                self._tls = client_context(spec)
            except (ssl.SSLError, OSError) as exc:
                self._tls_problem = f"TLS setup failed: {type(exc).__name__}: {exc}"
        self._headers = {k: resolve_refs(v, values) for k, v in spec.headers.items()}
        self._redactor = redactor_for(values)

    @property
    def timeout_s(self) -> float:
        """The longest one call may take."""
        return self._spec.timeout

    def _perform(self, action: Action, params: Mapping[str, Any]) -> tuple[CallOutcome, str]:
        call = getattr(self._spec, action.value)
        assert isinstance(call, HttpCall)
        body = _fill_json(call.json_body, params) if call.json_body is not None else None
        answer = self.request(call, body)
        return answer.outcome, answer.detail

    def request(self, call: HttpCall, body: Any, *, keep_chars: int = 200) -> HttpAnswer:
        """Send one call with this path's address, headers and timeout; the answer keeps the
        status, a few headers and the first ``keep_chars`` of the body (a status snapshot
        wants more), all redacted."""
        headers = {**self._headers, **call.headers}
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        began = self._clock()

        def failed(outcome: CallOutcome, error: str) -> HttpAnswer:
            return HttpAnswer(outcome, None, (), "", self._clock() - began, error)

        conn: http.client.HTTPConnection
        if self._spec.tls:
            if self._tls is None:  # never fall back to plain HTTP: the token would go in clear
                return failed(CallOutcome.FAILED, self._tls_problem)
            conn = http.client.HTTPSConnection(
                self._host, self._port, timeout=self._spec.timeout, context=self._tls
            )
        else:
            conn = http.client.HTTPConnection(self._host, self._port, timeout=self._spec.timeout)
        try:
            conn.request(call.method, self._prefix + call.path, body=payload, headers=headers)
            response = conn.getresponse()
            limit = max(READ_AT_LEAST, keep_chars)
            raw = response.read(limit)
            # Redacted before it is cut, and its end too when the answer went on past it.
            text = self._redactor.redact(raw.decode("utf-8", "replace"), cut=len(raw) == limit)
            kept = self._kept_headers(response.getheaders())
        except TimeoutError:
            return failed(CallOutcome.TIMED_OUT, f"no answer within {self._spec.timeout:g}s")
        except OSError as exc:
            return failed(CallOutcome.FAILED, f"{type(exc).__name__}: {exc}")
        finally:
            conn.close()
        outcome = CallOutcome.ACKED if 200 <= response.status < 300 else CallOutcome.FAILED
        return HttpAnswer(
            outcome, response.status, kept, text.strip()[:keep_chars], self._clock() - began
        )

    def _kept_headers(self, sent: list[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
        """The ``KEPT_HEADERS`` among ``sent``, redacted and bounded, first of each name."""
        kept: dict[str, str] = {}
        for name, value in sent:
            key = name.lower()
            if key in KEPT_HEADERS and key not in kept:
                kept[key] = self._redactor.redact(value)[:MAX_HEADER_CHARS]
        return tuple(kept.items())


class SignalBackend(ControlBackend):
    """A POSIX signal delivered to the target's process group or main process."""

    acknowledges = False

    def __init__(
        self, name: str, spec: SignalPath, sandbox: Sandbox, clock: Callable[[], int]
    ) -> None:
        super().__init__(name, clock)
        self._signum = int(getattr(signal, spec.signal))
        self._to_group = spec.to == "group"
        self._sandbox = sandbox

    @property
    def timeout_s(self) -> float:
        """Delivering a signal does not wait for its effect; only for the delivery, which
        through a container engine is an API call."""
        return self._sandbox.signal_timeout_s

    def _perform(self, action: Action, params: Mapping[str, Any]) -> tuple[CallOutcome, str]:
        try:
            self._sandbox.send_signal(self._signum, to_group=self._to_group)
        except ProcessLookupError as exc:
            return CallOutcome.FAILED, f"not delivered: {exc}"
        where = "process group" if self._to_group else "main process"
        return CallOutcome.ACKED, f"{signal.Signals(self._signum).name} delivered to the {where}"


class CommandBackend(ControlBackend):
    """A command the harness runs: argv by default, a shell only when the target declares it.

    The command runs with the harness's environment plus the path's ``env`` (where its
    secrets are: never in argv), in the path's ``cwd``, in a session of its own that is
    killed whole at the timeout; its output's end is kept, redacted, in the detail.
    """

    def __init__(
        self,
        name: str,
        spec: CommandPath,
        endpoint: Endpoint,
        values: Mapping[str, str],
        clock: Callable[[], int],
        places: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(name, clock)
        self._spec = spec
        self._values = values
        self._redactor = redactor_for(values)
        self._templates = {
            **(places or {}),
            "python": sys.executable,
            "host": endpoint.host,
            "port": str(endpoint.port),
            "base_url": endpoint.base_url,
            "url": endpoint.base_url,
            "pid": "" if endpoint.pid is None else str(endpoint.pid),
        }
        """The harness's own values: a drill param cannot redefine them."""
        # Filled and resolved in one pass, so a secret's value is never scanned again.
        declared = {
            k: str(fill_command(v, self._templates, values, shell=False))
            for k, v in spec.env.items()
        }
        self._env = {
            **os.environ,
            "GOVDRILL_TARGET_URL": endpoint.base_url,
            "GOVDRILL_TARGET_PID": self._templates["pid"],
            **declared,
        }
        self._cwd = (
            None
            if spec.cwd is None
            else str(fill_command(spec.cwd, self._templates, None, shell=False))
        )

    @property
    def timeout_s(self) -> float:
        """The longest the command may run."""
        return self._spec.timeout

    def _perform(self, action: Action, params: Mapping[str, Any]) -> tuple[CallOutcome, str]:
        command = getattr(self._spec, action.value)
        assert isinstance(command, str | list)
        return self.run(command, params)

    def run(self, command: str | list[str], params: Mapping[str, Any]) -> tuple[CallOutcome, str]:
        """Run ``command`` (this path's, or an incident's through it) with ``params`` filling
        its ``{name}`` placeholders; its outcome and a one-line, redacted detail."""
        fill = {**{k: str(v) for k, v in params.items()}, **self._templates}
        # ``${NAME}`` is never resolved here: validation keeps secrets out of argv.
        argv = fill_command(command, fill, None, shell=self._spec.shell)
        done = run_bounded(
            argv,
            shell=self._spec.shell,
            env=self._env,
            cwd=self._cwd,
            timeout_s=self._spec.timeout,
            clock=self._clock,
        )
        tail = self._redactor.redact(done.output, cut=len(done.output) >= KEEP_BYTES)
        tail = tail.strip()[-200:]
        if done.timed_out:
            return (
                CallOutcome.TIMED_OUT,
                f"still running after {self._spec.timeout:g}s {tail}".strip(),
            )
        if done.returncode is None:
            return CallOutcome.FAILED, done.error
        outcome = CallOutcome.ACKED if done.returncode == 0 else CallOutcome.FAILED
        return outcome, f"exit {done.returncode} {tail}".strip()


class ContainerBackend(ControlBackend):
    """A container-runtime operation (stop, kill, pause, restart, redeploy) through the
    docker SDK or the compose CLI: success is the runtime's own acknowledgement."""

    def __init__(
        self,
        name: str,
        kind: SandboxKind,
        spec: ContainerPath,
        sandbox: Sandbox,
        clock: Callable[[], int],
    ) -> None:
        super().__init__(name, clock)
        self._kind = kind
        self._spec = spec
        self._sandbox = sandbox

    @property
    def timeout_s(self) -> float:
        """The longest one call may take."""
        return self._spec.timeout

    def _perform(self, action: Action, params: Mapping[str, Any]) -> tuple[CallOutcome, str]:
        op = getattr(self._spec, action.value)
        sandbox = self._sandbox
        if not isinstance(sandbox, ContainerRuntime) or sandbox.name != self._kind:
            return CallOutcome.FAILED, f"a {self._kind} control path needs the {self._kind} sandbox"
        version = params.get("to", params.get("version"))
        detail = sandbox.container_op(op, version=None if version is None else str(version))
        return CallOutcome.ACKED, detail


_PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\{([A-Za-z_][A-Za-z0-9_]*)\}")
"""A ``${NAME}`` reference or a ``{name}`` placeholder, matched in one pass over the template."""


def fill_command(
    template: str | list[str],
    fill: Mapping[str, str],
    refs: Mapping[str, str] | None,
    *,
    shell: bool,
) -> str | list[str]:
    """The command line of ``template``: ``{name}`` from ``fill`` and ``${NAME}`` resolved from
    ``refs`` (left as written when ``refs`` is None, or ``{name}`` has no value).

    One pass over the template, so a substituted value is never scanned again: a drill value
    holding ``${HOME}`` or ``{pid}`` stays literal. In a shell string every substitution is
    ``shlex.quote``d into one word, so a value like ``v1; id`` cannot run a second command.
    """

    def one(match: re.Match[str]) -> str:
        ref, key = match.group(1), match.group(2)
        if ref is not None:
            if refs is None:
                return match.group(0)
            value = resolve_refs(match.group(0), refs)
        elif key in fill:
            value = fill[key]
        else:
            return match.group(0)
        return shlex.quote(value) if shell else value

    if isinstance(template, str):
        return _PLACEHOLDER.sub(one, template)
    return [_PLACEHOLDER.sub(one, arg) for arg in template]


@dataclass(frozen=True, slots=True)
class PlannedCommand:
    """A command a drill may run, as ``govdrill validate`` shows it before anything runs."""

    what: str
    """``start``, or ``ACTION via PATH``."""
    command: str | tuple[str, ...]
    """The shell string, or the argv, with the drill's values filled in and run-time values
    (``{pid}``, ``{url}``, ``${NAME}``) left as placeholders."""

    @property
    def shell(self) -> bool:
        """Whether a shell interprets it."""
        return isinstance(self.command, str)

    def __str__(self) -> str:
        if isinstance(self.command, str):
            # Escaped when it holds a newline or a terminal escape, so what is shown is all.
            shown = self.command if self.command.isprintable() else json.dumps(self.command)
            return f"{self.what} (shell): {shown}"
        return f"{self.what} (argv): {json.dumps(self.command)}"


def planned_commands(drill: Drill) -> list[PlannedCommand]:
    """Every command ``drill`` may run on this machine: the process sandbox's start command,
    a readiness command, and each command its steps use (control paths and incidents through
    a command path), in step order."""
    planned: list[PlannedCommand] = []
    target = drill.target
    known = {"target_dir": target.directory}
    if drill.resolved_sandbox is SandboxKind.PROCESS and SandboxKind.PROCESS in target.sandboxes:
        argv = [*target.process_spec().command, *drill.target_args]
        filled = fill_command(argv, known, None, shell=False)
        planned.append(PlannedCommand("start", tuple(filled)))
    if target.ready.command is not None:
        filled = fill_command(target.ready.command, known, None, shell=False)
        planned.append(PlannedCommand("ready", tuple(filled)))
    for step in drill.steps:
        action = step.action
        params = {k: str(v) for k, v in step.params.items() if k not in _HARNESS_PLACEHOLDERS}
        if action is Action.STOP:
            params = {}  # a stop rung is called without the step's params
        elif action is Action.ROLLBACK and step.rollback is not None:
            params["to"] = step.rollback["to"]
        commands: list[tuple[str, CommandPath | None, str | list[str] | None]] = []
        incident = target.incidents.get(step.inject or step.clear or "")
        if incident is not None:
            path = target.control_paths.get(incident.via)
            call = incident.enable if action is Action.INJECT else incident.disable
            params = {**{k: str(v) for k, v in incident.params.items()}, **params}
            spec = path.command if path is not None else None
            template = call if isinstance(call, str | list) else None
            what = f"{action.value} {step.inject or step.clear} via {incident.via}"
            commands.append((what, spec, template))
        for name in step.control_paths():
            path = target.control_paths.get(name)
            spec = path.command if path is not None else None
            template = getattr(spec, action.value, None) if spec is not None else None
            commands.append((f"{action.value} via {name}", spec, template))
        for what, spec, template in commands:
            if spec is None or template is None:
                continue
            line = fill_command(template, {**params, **known}, None, shell=spec.shell)
            shown = line if isinstance(line, str) else tuple(line)
            planned.append(PlannedCommand(what, shown))
    return planned


_HARNESS_PLACEHOLDERS = frozenset(
    {"python", "url", "pid", "host", "port", "base_url", "target_dir", "workdir", "secrets_dir"}
)
"""Placeholders only the harness fills: a drill's step param of that name is not shown."""


def _fill_text(text: str, params: Mapping[str, str]) -> str:
    for key, value in params.items():
        text = text.replace("{" + key + "}", value)
    return text


def _fill_json(template: Any, params: Mapping[str, Any]) -> Any:
    """Fill ``{name}`` placeholders in a JSON template; a whole-string one keeps its type."""
    if isinstance(template, str):
        for key, value in params.items():
            if template == "{" + key + "}":
                return value
        return _fill_text(template, {k: str(v) for k, v in params.items()})
    if isinstance(template, dict):
        return {k: _fill_json(v, params) for k, v in template.items()}
    if isinstance(template, list):
        return [_fill_json(v, params) for v in template]
    return template


def build_backend(
    name: str,
    spec: ControlPath,
    *,
    endpoint: Endpoint,
    sandbox: Sandbox,
    values: Mapping[str, str],
    clock: Callable[[], int] = time.monotonic_ns,
    places: Mapping[str, str] | None = None,
) -> ControlBackend:
    """The backend for one declared control path; ``places`` are the run's folders a command
    may name (``{target_dir}``, ``{workdir}``, ``{secrets_dir}``)."""
    if spec.http is not None:
        return HttpBackend(name, spec.http, endpoint, values, clock)
    if spec.signal is not None:
        return SignalBackend(name, spec.signal, sandbox, clock)
    if spec.docker is not None:
        return ContainerBackend(name, SandboxKind.DOCKER, spec.docker, sandbox, clock)
    if spec.compose is not None:
        return ContainerBackend(name, SandboxKind.COMPOSE, spec.compose, sandbox, clock)
    assert spec.command is not None
    return CommandBackend(name, spec.command, endpoint, values, clock, places)


class ProxySwitch(Protocol):
    """The part of a fault proxy an incident uses: switch a rule on and off, each returning
    the instant the proxy stamped in its own log."""

    def enable(self, name: str, rule: ProxyRule) -> int: ...
    def disable(self, name: str) -> int: ...


def build_hook(
    name: str,
    hook: IncidentHook,
    backends: Mapping[str, ControlBackend],
    clock: Callable[[], int] = time.monotonic_ns,
    *,
    proxy: ProxySwitch | None = None,
) -> ControlBackend:
    """The backend for one incident hook, through its ``via`` path: HTTP calls, commands,
    a redeploy through a docker path (validation matched the hook to the path's kind), or a
    rule of the run's fault ``proxy`` for an incident injected from outside."""
    if hook.rule is not None:
        assert proxy is not None, "an incident via proxy needs the run's proxy"
        return ProxyHookBackend(name, hook.rule, proxy, clock)
    via = backends[hook.via]
    if hook.redeploy is not None:
        assert isinstance(via, ContainerBackend)
        return RedeployHookBackend(name, hook.redeploy, via, clock)
    if isinstance(via, CommandBackend):
        return CommandHookBackend(name, hook, via, clock)
    assert isinstance(via, HttpBackend)
    return HookBackend(name, hook, via, clock)


class HookBackend(ControlBackend):
    """An incident hook: switches one simulated incident on or off through the target's API."""

    def __init__(
        self, name: str, hook: IncidentHook, http: HttpBackend, clock: Callable[[], int]
    ) -> None:
        super().__init__(name, clock)
        self._hook = hook
        self._http = http

    @property
    def timeout_s(self) -> float:
        """The hook uses its control path's timeout."""
        return self._http.timeout_s

    def _perform(self, action: Action, params: Mapping[str, Any]) -> tuple[CallOutcome, str]:
        if action is Action.INJECT:
            assert isinstance(self._hook.enable, HttpCall)
            answer = self._http.request(self._hook.enable, {**self._hook.params, **params})
        else:
            assert isinstance(self._hook.disable, HttpCall)
            answer = self._http.request(self._hook.disable, None)
        return answer.outcome, answer.detail


class CommandHookBackend(ControlBackend):
    """An incident hook through a command path: its enable or disable command, run with the
    path's environment, folder and timeout; the hook's ``params`` (under the drill's) fill the
    command's ``{name}`` placeholders."""

    def __init__(
        self, name: str, hook: IncidentHook, command: CommandBackend, clock: Callable[[], int]
    ) -> None:
        super().__init__(name, clock)
        self._hook = hook
        self._command = command

    @property
    def timeout_s(self) -> float:
        """The hook uses its control path's timeout."""
        return self._command.timeout_s

    def _perform(self, action: Action, params: Mapping[str, Any]) -> tuple[CallOutcome, str]:
        command = self._hook.enable if action is Action.INJECT else self._hook.disable
        assert isinstance(command, str | list)
        return self._command.run(command, {**self._hook.params, **params})


class RedeployHookBackend(ControlBackend):
    """A bad-release incident: the running container is replaced by another version's image,
    through the rollback (redeploy) of a docker control path."""

    def __init__(
        self, name: str, version: str, deploy: ContainerBackend, clock: Callable[[], int]
    ) -> None:
        super().__init__(name, clock)
        self._version = version
        self._deploy = deploy

    @property
    def timeout_s(self) -> float:
        """The redeploy uses its control path's timeout."""
        return self._deploy.timeout_s

    def _perform(self, action: Action, params: Mapping[str, Any]) -> tuple[CallOutcome, str]:
        if action is not Action.INJECT:
            return CallOutcome.FAILED, "a redeploy incident is undone by a rollback"
        return self._deploy._perform(Action.ROLLBACK, {"to": self._version})


class ProxyHookBackend(ControlBackend):
    """An incident injected from outside: its rule switched on (inject) or off (clear) on the
    fault proxy in front of the target or of one control path; the proxy's own stamp, which
    its events log keeps as ground truth, is in the detail."""

    def __init__(
        self, name: str, rule: ProxyRule, proxy: ProxySwitch, clock: Callable[[], int]
    ) -> None:
        super().__init__(name, clock)
        self._rule = rule
        self._proxy = proxy

    @property
    def timeout_s(self) -> float:
        """Switching a rule is a local call to a loopback proxy."""
        return PROXY_SWITCH_TIMEOUT_S

    def _perform(self, action: Action, params: Mapping[str, Any]) -> tuple[CallOutcome, str]:
        where = self._rule.control or "the data path"
        if action is Action.INJECT:
            t_ns = self._proxy.enable(self.name, self._rule)
            return CallOutcome.ACKED, f"proxy rule {self.name} on ({where}) at t_ns={t_ns}"
        t_ns = self._proxy.disable(self.name)
        return CallOutcome.ACKED, f"proxy rule {self.name} off ({where}) at t_ns={t_ns}"


PROXY_SWITCH_TIMEOUT_S = 5.0
"""The longest switching a proxy rule may take (the proxy is a loopback child process)."""
