"""The typed, frozen shape of drill and target files.

Everything a drill or target file may say is declared here; the loader turns a YAML file into
these objects or reports every problem at once. Nothing downstream sees a raw dict.
"""

from __future__ import annotations

import difflib
import enum
import signal as _signal
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BeforeValidator,
    ByteSize,
    Field,
    StrictBool,
    ValidationError,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from harness.sandbox_kind import SandboxKind
from harness.spec._base import Frozen as _Frozen
from harness.spec._base import UrlPath
from harness.spec.durations import Duration, to_ns
from harness.spec.load import (
    DEFAULT_MAX_BODY,
    DEFAULT_VERSION_HEADER,
    MAX_BODY_LIMIT,
    HarmRule,
    RequestSpec,
    SafeState,
    VersionSource,
)
from harness.spec.notify import NotifierSpec
from harness.spec.proxy import ProxyRule
from harness.spec.urls import check_base_url, loopback_addresses

__all__ = [
    "DEFAULT_MAX_BODY",
    "MAX_BODY_LIMIT",
    "MAX_NAME",
    "PROXY_PATH",
    "TLS_FILES",
    "Action",
    "CommandPath",
    "ComposeSandboxSpec",
    "ContainerLimits",
    "ContainerOp",
    "ContainerPath",
    "ContestSpec",
    "ControlPath",
    "Deadlines",
    "DockerSandboxSpec",
    "DrainPolicy",
    "Drill",
    "Expect",
    "ExternalSandboxSpec",
    "HarmRule",
    "HttpCall",
    "HttpPath",
    "InFlight",
    "InFlightPolicy",
    "IncidentHook",
    "LoadSpec",
    "MetricRange",
    "NotifierSpec",
    "OperatorStop",
    "ProcessSandboxSpec",
    "ReadySpec",
    "RequestSpec",
    "RunVerdict",
    "RungOutcome",
    "SafeState",
    "SecretSpec",
    "SignalPath",
    "Step",
    "Target",
    "Trigger",
    "VersionSource",
]

_NAME = r"^[a-z0-9][a-z0-9_.-]*$"
MAX_NAME = 64
"""Drill, target and step names become folder and file names: short enough for any filesystem
(a 300-character drill name validated, then its run folder could not be created)."""


def _not_bool(value: object) -> object:
    if isinstance(value, bool):  # YAML's yes/no is not a size
        raise ValueError("expected a size such as 1MiB or a number of bytes")
    return value


class RunVerdict(enum.StrEnum):
    """The verdict of one whole drill run."""

    PASSED = "passed"
    FAILED = "failed"
    ERROR = "error"
    INTERRUPTED = "interrupted"


class RungOutcome(enum.StrEnum):
    """How one rung of a stop ladder ended: its control call's answer, or that it had none.

    One vocabulary for the analysis, summary.json and a drill's ``expect.rungs``.
    """

    ACKED = "acked"
    FAILED = "failed"
    TIMED_OUT = "timed_out"
    PENDING = "pending"
    """Issued, but its call had not returned when the run ended."""
    NOT_REACHED = "not_reached"
    """The ladder never climbed to it."""

    @classmethod
    def _missing_(cls, value: object) -> RungOutcome | None:
        # The analysis called a rung with no answer "skipped"; drills that say so still load.
        return cls.PENDING if value == "skipped" else None


ExpectedRung = Annotated[
    RungOutcome,
    WithJsonSchema({"enum": [*(o.value for o in RungOutcome), "skipped"], "type": "string"}),
]
"""A rung outcome as a drill's ``expect.rungs`` writes it (``skipped``: old name of pending)."""


class Trigger(enum.StrEnum):
    """When a step fires."""

    AT = "at"
    """At a time after the load is ready."""
    HARM_DETECTED = "harm_detected"
    """When the load first observes a harmful response."""
    STOPPED = "stopped"
    """When the stop ladder has taken effect."""
    AFTER_STEP = "after_step"
    """When another step (named by ``after``) has completed."""


class Action(enum.StrEnum):
    """What a step does."""

    INJECT = "inject"
    CLEAR = "clear"
    STOP = "stop"
    ROLLBACK = "rollback"
    RESUME = "resume"
    CONTEST = "contest"
    """File a complaint as an affected user, through the service's own channel."""


# --------------------------------------------------------------------------- target


class HttpCall(_Frozen):
    """One HTTP request of a control path or incident hook."""

    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "POST"
    path: UrlPath
    json_body: Any = Field(default=None, alias="json")
    headers: dict[str, str] = Field(default_factory=dict)


class HttpPath(_Frozen):
    """A control plane spoken over HTTP, with one call per action; an ``https`` base_url is
    verified TLS (the system's CAs, or ``ca_file``), with a client certificate for mTLS."""

    base_url: Annotated[str, AfterValidator(check_base_url)] | None = None
    """Defaults to the target's own address; set for a separate admin port or host."""
    headers: dict[str, str] = Field(default_factory=dict)
    timeout: Duration = 1.0
    ca_file: str | None = None
    """PEM file of the CAs to trust instead of the system's (relative: the target's folder)."""
    client_cert: str | None = None
    """PEM client certificate (with its key, unless ``client_key`` is given) for mutual TLS."""
    client_key: str | None = None
    insecure: StrictBool = False
    """Skip verifying the server's certificate (still TLS); only a written ``true`` counts."""
    stop: HttpCall | None = None
    resume: HttpCall | None = None
    rollback: HttpCall | None = None
    contest: HttpCall | None = None
    """The complaint channel an affected user has (``POST /v1/feedback``)."""
    status: HttpCall | None = None

    @model_validator(mode="after")
    def _tls_coherent(self) -> HttpPath:
        written = [f for f in TLS_FILES if getattr(self, f) is not None]
        if self.insecure:
            written.append("insecure")
        if written and not (self.base_url or "").lower().startswith("https:"):
            raise ValueError(
                f"{', '.join(written)}: only for an https base_url (got"
                f" {self.base_url or 'the target address, which is http'})"
            )
        if self.client_key is not None and self.client_cert is None:
            raise ValueError("client_key needs client_cert")
        if self.insecure and self.ca_file is not None:
            raise ValueError("insecure: true skips the verification ca_file is for; choose one")
        return self

    @property
    def tls(self) -> bool:
        """Whether this path speaks TLS (its base_url is https)."""
        return (self.base_url or "").lower().startswith("https:")


TLS_FILES = ("ca_file", "client_cert", "client_key")
"""The fields of an http control path that name files (read at validation and at run time)."""


class SignalPath(_Frozen):
    """A POSIX signal to the target's process group or main process."""

    signal: str
    to: Literal["group", "main"] = "group"

    @field_validator("signal")
    @classmethod
    def _known_signal(cls, v: str) -> str:
        return _signal_name(v)


def _sandbox_kind(value: object) -> object:
    """Name the refused value and the built kinds: a sandbox that is planned but not built
    (``external``) used to validate and then fail the run; now loading refuses it."""
    if isinstance(value, str) and value not in tuple(SandboxKind):
        known = ", ".join(SandboxKind)
        raise ValueError(f"unknown sandbox {value!r} (choose one of: {known})")
    return value


SandboxName = Annotated[SandboxKind, BeforeValidator(_sandbox_kind)]
"""A sandbox kind as a drill or target file names it."""


def _signal_name(v: str) -> str:
    """The canonical ``SIGNAME`` of ``v`` (``term``, ``SIGTERM``); ValueError if unknown."""
    name = v.upper() if v.upper().startswith("SIG") else f"SIG{v.upper()}"
    if not isinstance(getattr(_signal, name, None), _signal.Signals):
        raise ValueError(f"unknown signal {v!r}")
    return name


class CommandPath(_Frozen):
    """A command run by the harness: an argv list, or a shell string only when declared.

    Its argv, ``env`` values and ``cwd`` may use ``{python}``, ``{host}``, ``{port}``,
    ``{base_url}``, ``{target_dir}``, ``{workdir}``, ``{secrets_dir}`` (and ``{to}`` in a
    rollback); a secret (``${NAME}``) only in ``env`` values, since argv is public.
    """

    stop: list[str] | str | None = None
    resume: list[str] | str | None = None
    rollback: list[str] | str | None = None
    contest: list[str] | str | None = None
    """A command that files a complaint (a ticketing CLI); ``{name}`` from the step's params."""
    shell: bool = False
    timeout: Duration = 5.0
    env: dict[str, str] = Field(default_factory=dict)
    """Environment variables added to the harness's own for every command of this path."""
    cwd: str | None = None
    """The folder the command runs in (default: the harness's)."""

    @model_validator(mode="after")
    def _shell_declared(self) -> CommandPath:
        for action in ("stop", "resume", "rollback", "contest"):
            problem = self.argv_problem(getattr(self, action))
            if problem:
                raise ValueError(f"{action}: {problem}")
        return self

    def argv_problem(self, value: list[str] | str | HttpCall | None) -> str:
        """Why ``value`` cannot be a command of this path ('' when it can)."""
        if isinstance(value, str) and not self.shell:
            return "a string is a shell command; give an argv list, or set shell: true"
        if isinstance(value, list) and not value:
            return "argv must not be empty"
        if isinstance(value, HttpCall):
            return "a command path runs an argv list (or a shell string), not an HTTP call"
        return ""


ContainerOpName = Literal["stop", "kill", "pause", "unpause", "start", "restart", "redeploy"]

_OPS_FOR_ACTION: dict[str, tuple[str, ...]] = {
    "stop": ("stop", "kill", "pause", "restart"),
    "resume": ("unpause", "start", "restart"),
    "rollback": ("redeploy",),
}


class ContainerOp(_Frozen):
    """One container-runtime operation; ``stop: kill`` is short for ``stop: {op: kill}``."""

    op: ContainerOpName
    stop_timeout: Duration = 10.0
    """For stop, restart and redeploy: the runtime's wait between SIGTERM and SIGKILL."""
    signal: str = "SIGKILL"
    """For kill: the signal the runtime delivers to the container's main process."""

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        return {"op": data} if isinstance(data, str) else data

    @field_validator("signal")
    @classmethod
    def _known_signal(cls, v: str) -> str:
        return _signal_name(v)


class ContainerPath(_Frozen):
    """A control path through the container runtime (docker SDK, or the compose CLI)."""

    stop: ContainerOp | None = None
    resume: ContainerOp | None = None
    rollback: ContainerOp | None = None
    timeout: Duration = 30.0
    """The longest one call may take (a redeploy waits for the new container to be ready)."""

    @model_validator(mode="after")
    def _ops_fit_actions(self) -> ContainerPath:
        for action, allowed in _OPS_FOR_ACTION.items():
            op = getattr(self, action)
            if op is not None and op.op not in allowed:
                raise ValueError(
                    f"{action}: op {op.op!r} cannot {action} (allowed: {', '.join(allowed)})"
                )
        if not any(getattr(self, a) is not None for a in _OPS_FOR_ACTION):
            raise ValueError("declare at least one of stop, resume, rollback")
        return self


_PATH_KINDS = ("http", "signal", "command", "docker", "compose")


class ControlPath(_Frozen):
    """One named real way to stop, resume or roll back the target: exactly one kind."""

    http: HttpPath | None = None
    signal: SignalPath | None = None
    command: CommandPath | None = None
    docker: ContainerPath | None = None
    """Container operations through the Docker Engine API (the docker sandbox only)."""
    compose: ContainerPath | None = None
    """Container operations through the compose CLI (the compose sandbox only)."""
    description: str = ""

    @model_validator(mode="after")
    def _one_kind(self) -> ControlPath:
        kinds = [k for k in _PATH_KINDS if getattr(self, k) is not None]
        if len(kinds) != 1:
            raise ValueError(
                "a control path needs exactly one of "
                + ", ".join(_PATH_KINDS)
                + (f" (got {', '.join(kinds)})" if kinds else "")
            )
        if self.compose is not None:
            for action in ("stop", "resume", "rollback"):
                op = getattr(self.compose, action)
                if op is not None and op.op in ("redeploy",):
                    raise ValueError(f"compose.{action}: a compose path cannot redeploy")
        return self

    @property
    def kind(self) -> str:
        """The control path's kind: http, signal, command, docker or compose."""
        for k in _PATH_KINDS:
            if getattr(self, k) is not None:
                return k
        raise AssertionError("validated to have one kind")

    @property
    def sandboxes(self) -> tuple[SandboxKind, ...] | None:
        """The only sandboxes this path works in, or None when it works in any."""
        if self.docker is not None:
            return (SandboxKind.DOCKER,)
        if self.compose is not None:
            return (SandboxKind.COMPOSE,)
        return None

    def supports(self, action: Action) -> bool:
        """Whether this path can perform ``action`` (signals can only stop)."""
        if self.signal is not None:
            return action is Action.STOP
        spec = getattr(self, self.kind)
        return getattr(spec, action.value, None) is not None


Command = list[str] | str
"""A command as a file writes it: an argv list, or a shell string (``shell: true`` only)."""


PROXY_PATH = "proxy"
"""The built-in path of an incident injected from outside, through the harness's fault proxy
(``via: proxy``): no hook in the service. A target's own control path may not take the name."""


class IncidentHook(_Frozen):
    """How to switch one simulated incident on (and off), through one control path; the
    kind of that path (``via``) decides what ``enable`` and ``disable`` are:

    - http: an HTTP call each, with the path's address and headers;
    - command: a command each (argv, or a string when the path has ``shell: true``), run with
      the path's ``env``, ``cwd`` and ``timeout``; ``params`` fill its ``{name}`` placeholders;
    - docker: no enable/disable but ``redeploy: VERSION`` (a bad release), undone by a rollback;
    - ``proxy`` (built in): a fault ``rule`` the harness's own proxy puts on the data path, or
      on one http control path (``rule.control``); switched on and off from outside, so the
      service needs no hook.
    """

    via: str
    """The control path the hook goes through (http, command, docker for ``redeploy``, or
    the built-in ``proxy``)."""
    enable: HttpCall | Command | None = None
    disable: HttpCall | Command | None = None
    redeploy: str | None = None
    """The version (image tag) the incident deploys, e.g. ``v2``."""
    rule: ProxyRule | None = None
    """For ``via: proxy``: the fault the proxy applies while the incident is on."""
    params: dict[str, Any] = Field(default_factory=dict)
    """Default parameters, merged under the drill's own: the JSON body of an HTTP hook, the
    ``{name}`` placeholders of a command hook."""
    description: str = ""

    @model_validator(mode="after")
    def _one_way(self) -> IncidentHook:
        if self.via == PROXY_PATH:
            given = [f for f in ("enable", "disable", "redeploy") if getattr(self, f) is not None]
            if given:
                raise ValueError(
                    f"{', '.join(given)}: an incident via proxy is its rule alone (the proxy"
                    " switches it on and off)"
                )
            if self.rule is None:
                raise ValueError("an incident via proxy needs rule: {...}")
            return self
        if self.rule is not None:
            raise ValueError(
                f"rule: only for via: {PROXY_PATH} (this incident goes via {self.via!r})"
            )
        if (self.enable is None) == (self.redeploy is None):
            raise ValueError(
                "an incident needs exactly one of enable (an HTTP call or a command) or redeploy"
            )
        if self.redeploy is not None and self.disable is not None:
            raise ValueError("a redeploy incident is undone by a rollback, not by disable")
        return self

    @property
    def outside(self) -> bool:
        """Whether the incident is injected from outside the service (the fault proxy)."""
        return self.rule is not None

    @property
    def clearable(self) -> bool:
        """Whether a ``clear:`` step (or teardown) can switch the incident off."""
        return self.disable is not None or self.rule is not None


def _incident_problems(
    incidents: dict[str, IncidentHook], paths: dict[str, ControlPath]
) -> list[tuple[tuple[str, ...], str]]:
    """Every incident whose ``via`` is not a path its hook can go through, or whose
    enable/disable do not fit that path's kind, with the field to blame."""
    found: list[tuple[tuple[str, ...], str]] = []
    have = ", ".join(sorted(paths)) or "none"
    for name, hook in incidents.items():
        path = paths.get(hook.via)
        via = ("incidents", name, "via")
        if hook.rule is not None:
            problem = _proxy_rule_problem(hook.rule, paths)
            if problem:
                found.append((("incidents", name, "rule", "control"), problem))
        elif path is None:
            close = difflib.get_close_matches(hook.via, [*paths, PROXY_PATH], n=1, cutoff=0.6)
            hint = f"did you mean {close[0]!r}?" if close else f"have: {have} (or {PROXY_PATH})"
            found.append((via, f"{hook.via!r} is not a control path of this target; {hint}"))
        elif hook.redeploy is not None:
            if path.docker is None or path.docker.rollback is None:
                why = "a redeploy incident goes through a docker path with a rollback"
                found.append((via, f"{hook.via!r} ({path.kind}) cannot redeploy: {why}"))
        elif path.http is None and path.command is None:
            why = "an incident goes through an http or command path (or docker, with redeploy)"
            found.append((via, f"{hook.via!r} is a {path.kind} control path; {why}"))
        else:
            for field in ("enable", "disable"):
                problem = _hook_call_problem(getattr(hook, field), path)
                if problem:
                    found.append((("incidents", name, field), f"via {hook.via!r}: {problem}"))
    return found


def _proxy_rule_problem(rule: ProxyRule, paths: dict[str, ControlPath]) -> str:
    """Why a proxy rule's ``control:`` cannot be proxied ('' when it can, or when the rule is
    on the data path)."""
    if rule.control is None:
        return ""
    path = paths.get(rule.control)
    if path is None:
        http = sorted(n for n, p in paths.items() if p.http is not None)
        close = difflib.get_close_matches(rule.control, http, n=1, cutoff=0.6)
        hint = (
            f"did you mean {close[0]!r}?" if close else f"http paths: {', '.join(http) or 'none'}"
        )
        return f"{rule.control!r} is not a control path of this target; {hint}"
    if path.http is None:
        return (
            f"{rule.control!r} is a {path.kind} control path; the proxy sits only in front of"
            " an http one"
        )
    if path.http.tls:
        return (
            f"{rule.control!r} speaks TLS; the proxy would have to end the TLS the harness"
            " verifies, so an https control path cannot be proxied"
        )
    return ""


def _hook_call_problem(value: HttpCall | Command | None, path: ControlPath) -> str:
    """Why ``value`` cannot be an enable/disable of a hook through ``path`` ('' if it can)."""
    if value is None:
        return ""
    if path.command is not None:
        return path.command.argv_problem(value)
    if not isinstance(value, HttpCall):
        return "an http path takes an HTTP call ({path: ..., json: ...}), not a command"
    return ""


class SecretSpec(_Frozen):
    """A secret the target needs: from the environment, a file, or generated for the run
    (tried in that order; see ``harness.secrets``)."""

    env: str | None = None
    file: str | None = None
    """A file holding the secret, relative to the target's folder; one trailing newline
    is stripped."""
    generate: bool = False

    @model_validator(mode="after")
    def _has_source(self) -> SecretSpec:
        if self.env is None and self.file is None and not self.generate:
            raise ValueError("a secret needs env: NAME, file: PATH or generate: true")
        return self


class ReadySpec(_Frozen):
    """How to know the target is ready to serve: ``GET path`` answers 200, or ``command``
    exits 0 (one or the other; ``path`` is the default)."""

    path: str | None = "/readyz"
    command: list[str] | None = Field(default=None, min_length=1)
    """An argv run until it exits 0; it may use ``{python}``, ``{host}``, ``{port}``,
    ``{base_url}``, ``{target_dir}``, ``{workdir}`` and ``{secrets_dir}``. Each attempt
    is bounded by what is left of ``timeout`` and killed with its process group."""
    timeout: Duration = 20.0
    interval: Duration = 0.05

    @model_validator(mode="before")
    @classmethod
    def _path_or_command(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("command") is not None:
            if data.get("path") is not None:
                raise ValueError("give path (an HTTP check) or command, not both")
            data = {**data, "path": None}
        return data

    @property
    def timeout_ns(self) -> int:
        """``timeout`` on the monotonic clock."""
        return to_ns(self.timeout)


class ResourceLimits(_Frozen):
    """Limits applied to a process-sandboxed target (setrlimit)."""

    memory_mb: int | None = Field(default=1024, ge=16)
    cpu_s: int | None = Field(default=600, ge=1)
    nofile: int | None = Field(default=4096, ge=64)


class ContainerLimits(_Frozen):
    """Limits of a containerised target (cgroups)."""

    memory_mb: int = Field(default=512, ge=16)
    cpus: float = Field(default=1.0, gt=0)
    pids: int = Field(default=256, ge=8)


class DockerSandboxSpec(_Frozen):
    """How to build and run the target as a hardened container.

    Every version is one tag of ``image``, built from the Dockerfile's stage of that name
    (``versions: {v1: v1}``) with the ``BASE_IMAGE`` build argument (``base_image``, or the
    ``GOVDRILL_BASE_IMAGE`` environment variable when set). ``command`` follows the image's
    entrypoint (the drill's ``target_args`` follow it); each secret is a read-only file
    ``secrets_dir/<name>`` in the container, and ``events``' folder is a host bind mount.
    """

    image: str = Field(pattern=r"^[a-z0-9][a-z0-9_./-]*$")
    context: str = "."
    """The build context, relative to the target's folder."""
    dockerfile: str = "Dockerfile"
    base_image: str = "python:3.12-slim"
    versions: dict[str, str] = Field(min_length=1)
    """Image tag → Dockerfile stage; every one is built before the target starts."""
    version: str
    """The tag the target starts from."""
    port: int = Field(default=8000, ge=1, le=65535)
    command: list[str] = Field(default_factory=list)
    secrets_dir: str = "/run/secrets"
    events: str | None = None
    """The ground-truth event log inside the container; its folder is a host bind mount."""
    tmpfs: dict[str, str] = Field(default_factory=lambda: {"/tmp": "size=16m"})
    user: str | None = None
    """Default: 65534:65534 (nobody) when the harness runs as root, else the harness's uid:gid."""
    limits: ContainerLimits = Field(default_factory=ContainerLimits)
    teardown_grace: Duration = 2.0

    @model_validator(mode="after")
    def _version_declared(self) -> DockerSandboxSpec:
        if self.version not in self.versions:
            raise ValueError(
                f"version: {self.version!r} is not one of versions ({', '.join(self.versions)})"
            )
        return self


class ComposeSandboxSpec(_Frozen):
    """How to run the target as one service of a compose project (one project per run).

    The compose file takes ``GOVDRILL_PORT``, ``GOVDRILL_EVENTS_DIR``, ``GOVDRILL_SECRETS_DIR``
    and ``GOVDRILL_BASE_IMAGE`` from the environment; the harness adds its labels and the
    drill's ``target_args`` (after ``command``) in an override file of its own.
    """

    file: str
    """The compose file, relative to the target's folder."""
    service: str
    port: int = Field(default=8000, ge=1, le=65535)
    command: list[str] = Field(default_factory=list)
    events: str | None = None
    teardown_grace: Duration = 2.0


class ProcessSandboxSpec(_Frozen):
    """How to run the target as a child process.

    ``command``, ``env`` values and ``cwd`` may use ``{python}``, ``{target_dir}``,
    ``{workdir}``, ``{secrets_dir}``, ``{host}``, ``{port}`` and ``{base_url}``. The port is
    ``port`` when given (a fixed port: someone else on it stops the run, naming them), else
    the one the target writes to ``port_file``, else a free port the harness picks. ``env``
    values may use ``${NAME}``: that is how a secret reaches the target as an environment
    variable (besides its file in ``{secrets_dir}``); ``command`` may not, since argv is public.
    """

    command: list[str] = Field(min_length=1)
    port: int | None = Field(default=None, ge=1, le=65535)
    port_file: str | None = None
    env: dict[str, str] = Field(default_factory=dict)
    cwd: str | None = None
    """The folder the target runs in (default: the run's private ``{workdir}``)."""
    limits: ResourceLimits = Field(default_factory=ResourceLimits)
    events: str | None = None
    """Where the target writes its ground-truth event log, if it keeps one."""

    @model_validator(mode="after")
    def _one_port_source(self) -> ProcessSandboxSpec:
        if self.port is not None and self.port_file is not None:
            raise ValueError("give port (a fixed port) or port_file, not both")
        return self


class ExternalSandboxSpec(_Frozen):
    """A service that is already running at ``base_url``: the harness attaches to it, waits
    for its readiness and drives it through its control paths, but never starts, signals or
    kills it, and at teardown puts back what the drill changed (incidents, a stop).

    Only a loopback host (127.0.0.0/8, ::1, or ``localhost`` when it resolves to loopback)
    is allowed unless ``allow_remote: true`` says the drill may reach beyond this machine.
    An ``https`` base_url is verified TLS with the system's CAs.
    """

    allow_remote: StrictBool = False
    """Declared first so that ``base_url`` is checked knowing it; only a written ``true``."""
    base_url: Annotated[str, AfterValidator(check_base_url)]
    """The service's root, e.g. ``http://127.0.0.1:8080`` (no path: put paths in ``ready``,
    ``load.request`` and the control paths)."""

    @field_validator("base_url")
    @classmethod
    def _root_and_reach(cls, v: str, info: ValidationInfo) -> str:
        path = v.split("://", 1)[1].partition("/")[2]
        if path:
            raise ValueError(
                f"give the service's root without a path (got /{path}): the control paths"
                " that default to the target's address would not see a path prefix"
            )
        remote_ok = info.data.get("allow_remote") is True
        if not remote_ok and not loopback_addresses(v):
            raise ValueError(
                f"{v} is not a loopback address; an external service beyond this machine"
                " needs allow_remote: true beside base_url"
            )
        return v


class _BothSpellings:
    """Stands for ``version_header`` when ``version`` is given too (refused at its line)."""


def _one_version_spelling(value: object) -> object:
    if isinstance(value, _BothSpellings):
        raise ValueError("give version: {header: ...} or the older version_header, not both")
    return value


class Target(_Frozen):
    """A model service under drill."""

    target: str = Field(pattern=_NAME, max_length=MAX_NAME)
    description: str = ""
    directory: str = ""
    """Set by the loader: the folder the target file lives in (``{target_dir}``)."""
    version: VersionSource | None = None
    """Where answers name their model version: ``{header: X-Model-Version}``,
    ``{json_path: $.model_version}`` or both (the header wins when an answer has it);
    ``null``: answers name none. Unset, with no ``version_header``: the X-Model-Version
    header."""
    version_header: Annotated[str | None, BeforeValidator(_one_version_spelling)] = None
    """The older spelling of ``version: {header: NAME}`` (``null``: no version source)."""
    safe_state: SafeState | None = None
    """The safe state of every drill of this target that does not give its own (which
    replaces this one whole). Unset: the drill's default."""
    secrets: dict[str, SecretSpec] = Field(default_factory=dict)
    sandboxes: dict[SandboxName, dict[str, Any]]
    ready: ReadySpec = Field(default_factory=ReadySpec)
    control_paths: dict[str, ControlPath] = Field(default_factory=dict)
    incidents: dict[str, IncidentHook] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _both_version_spellings(cls, data: Any) -> Any:
        # Marked here, refused by the field's own validator: so the problem is reported at
        # version_header's line, not at the top of the target.
        if isinstance(data, dict) and "version" in data and "version_header" in data:
            return {**data, "version_header": _BothSpellings()}
        return data

    @field_validator("version")
    @classmethod
    def _names_a_source(cls, v: VersionSource | None) -> VersionSource | None:
        if v is not None and not v.declared:
            raise ValueError(
                "name a header, a json_path or both (version: null for answers that name none)"
            )
        return v

    @property
    def version_source(self) -> VersionSource:
        """Where answers name their version, as the file says (either spelling), else the
        X-Model-Version header."""
        if "version" in self.model_fields_set:
            return self.version or VersionSource()
        if "version_header" in self.model_fields_set:
            return VersionSource(header=self.version_header)
        return VersionSource(header=DEFAULT_VERSION_HEADER)

    @model_validator(mode="after")
    def _references_resolve(self) -> Target:
        if not self.sandboxes:
            raise ValueError("sandboxes: declare at least one sandbox")
        found = _incident_problems(self.incidents, self.control_paths)
        if PROXY_PATH in self.control_paths:
            found.insert(
                0,
                (
                    ("control_paths", PROXY_PATH),
                    f"{PROXY_PATH!r} is the built-in fault proxy's name (via: {PROXY_PATH});"
                    " give this control path another",
                ),
            )
        if found:
            # Raised with each field's own location, so the loader names its line.
            raise ValidationError.from_exception_data(
                "Target",
                [
                    InitErrorDetails(
                        type=PydanticCustomError("incident_via", message), loc=loc, input=None
                    )
                    for loc, message in found
                ],
            )
        return self

    def process_spec(self) -> ProcessSandboxSpec:
        """The validated process sandbox declaration."""
        return ProcessSandboxSpec.model_validate(self.sandboxes[SandboxKind.PROCESS])

    def docker_spec(self) -> DockerSandboxSpec:
        """The validated docker sandbox declaration."""
        return DockerSandboxSpec.model_validate(self.sandboxes[SandboxKind.DOCKER])

    def compose_spec(self) -> ComposeSandboxSpec:
        """The validated compose sandbox declaration."""
        return ComposeSandboxSpec.model_validate(self.sandboxes[SandboxKind.COMPOSE])

    def external_spec(self) -> ExternalSandboxSpec:
        """The validated external sandbox declaration."""
        return ExternalSandboxSpec.model_validate(self.sandboxes[SandboxKind.EXTERNAL])


# --------------------------------------------------------------------------- drill


MAX_LOAD_WORKERS = 16
"""The most Locust workers one drill may start (each is a process on this host)."""


class LoadSpec(_Frozen):
    """Real Locust load: how many users, how fast they arrive, what they send."""

    users: int = Field(default=10, ge=1, le=2000)
    spawn_rate: float | None = Field(default=None, gt=0)
    """Users started per second; defaults to all at once."""
    request: RequestSpec = Field(default_factory=RequestSpec)
    timeout: Duration = 2.0
    per_user_rate: float | None = Field(default=None, gt=0)
    """Requests per second per user (Locust's constant throughput); unset: as fast as it answers."""
    max_body: Annotated[ByteSize, BeforeValidator(_not_bool)] = Field(
        default=ByteSize(DEFAULT_MAX_BODY), ge=1, le=MAX_BODY_LIMIT
    )
    """The most bytes of an answer's body read and judged (``512KiB``, ``4MiB`` or a number of
    bytes); a longer body is cut there and its answer counted as truncated."""
    stream: StrictBool = False
    """Read answers as server-sent events: every chunk timed and judged as it arrives."""
    workers: int = Field(default=1, ge=1, le=MAX_LOAD_WORKERS)
    """Locust worker processes under one master (Locust's distributed mode); 1: one process,
    no master. Each worker needs at least one user."""

    @field_validator("workers")
    @classmethod
    def _a_user_per_worker(cls, workers: int, info: ValidationInfo) -> int:
        users = info.data.get("users")
        if isinstance(users, int) and workers > users:
            raise ValueError(
                f"{workers} workers need at least {workers} users (users: {users});"
                " each worker runs at least one"
            )
        return workers


FALLBACK_DEADLINES = ("stop", "reversal", "time_in_harm")
"""The deadlines whose passing can start a fallback ladder: each has a clock the harness
knows live (stop: from the notification; reversal: from the complaint; time_in_harm: from the
first harm detected)."""


class OperatorStop(_Frozen):
    """A stop a person performs: the harness notifies, then waits and watches.

    The harness never calls the stop itself; the operator's control call on one of ``paths``,
    seen in the target's event log, is the acknowledgement. If ``fallback_after``'s deadline
    passes with no held stop, the harness climbs ``fallback`` as a normal ladder, and that
    deadline is missed.
    """

    by: Literal["operator"]
    notify: list[str] = Field(default_factory=list)
    """Names of the drill's notifiers (its ``notify:`` map) to alert, in order."""
    paths: list[str] = Field(min_length=1)
    """The control paths the operator is told to use; their calls are the acknowledgement."""
    fallback: list[str] = Field(default_factory=list)
    """The harness's own stop ladder when the deadline passes (empty: no fallback)."""
    fallback_after: Literal["stop", "reversal", "time_in_harm"] = "stop"
    """The deadline whose passing starts the fallback."""


class ContestSpec(_Frozen):
    """A complaint filed as an affected user through a control path's ``contest`` call."""

    via: str
    params: dict[str, Any] = Field(default_factory=dict)
    """Fill the call's ``{name}`` placeholders (an HTTP body, a command's argv)."""


def _stop_message(error: Any) -> str:
    """One problem of an operator stop as the loader would say it at that field."""
    if error["type"] == "missing":
        return "missing required field"
    if error["type"] == "extra_forbidden":
        known = list(OperatorStop.model_fields)
        close = difflib.get_close_matches(str(error["loc"][-1]), known, n=1, cutoff=0.6)
        hint = f"did you mean {close[0]!r}?" if close else f"allowed: {', '.join(known)}"
        return f"unknown key; {hint}"
    return str(error["msg"]).removeprefix("Value error, ")


class Step(_Frozen):
    """One step: a trigger (at / when / after) and an action."""

    id: str | None = Field(default=None, pattern=_NAME, max_length=MAX_NAME)
    at: Duration | None = None
    when: Literal["harm_detected"] | None = None
    after: str | None = None
    """``stopped``, or the id of another step that must have completed."""
    delay: Duration = 0.0
    inject: str | None = None
    clear: str | None = None
    stop: list[str] | OperatorStop | None = None
    """A ladder of control paths the harness calls, or ``{by: operator, ...}``."""
    rollback: dict[str, str] | None = None
    resume: str | None = None
    contest: ContestSpec | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    fallback: list[str] | None = None
    """For a contest: the harness's own stop ladder if the ``reversal`` deadline passes with
    harm still served (an operator stop gives its fallback inside ``stop:``)."""
    grace: Duration = 1.0
    """Per rung of a stop ladder: how long to wait for the stop to take effect."""
    escalate: Literal["on_failure", "after_grace"] = "on_failure"
    """``on_failure``: a rung whose call fails or times out gives way to the next at once;
    ``after_grace``: every rung gets its whole grace (to prove a refused call changed nothing)."""

    @model_validator(mode="before")
    @classmethod
    def _operator_stop(cls, data: Any) -> Any:
        """The mapping form of ``stop`` is validated here, so its problems name its own fields
        (``stop.fallback_after``) rather than each member of the list-or-mapping union."""
        if not isinstance(data, dict) or not isinstance(data.get("stop"), dict):
            return data
        try:
            return {**data, "stop": OperatorStop.model_validate(data["stop"])}
        except ValidationError as exc:
            raise ValidationError.from_exception_data(
                "Step",
                [
                    InitErrorDetails(
                        type=PydanticCustomError("operator_stop", _stop_message(e)),
                        loc=("stop", *e["loc"]),
                        input=e.get("input"),
                    )
                    for e in exc.errors()
                ],
            ) from None

    @property
    def at_ns(self) -> int | None:
        """``at`` on the monotonic clock (from the drill's start), if this step is timed."""
        return None if self.at is None else to_ns(self.at)

    @property
    def delay_ns(self) -> int:
        """``delay`` on the monotonic clock."""
        return to_ns(self.delay)

    @property
    def grace_ns(self) -> int:
        """``grace`` (per rung) on the monotonic clock."""
        return to_ns(self.grace)

    @model_validator(mode="after")
    def _one_trigger_one_action(self) -> Step:
        triggers = [t for t in ("at", "when", "after") if getattr(self, t) is not None]
        if len(triggers) != 1:
            raise ValueError(
                "a step needs exactly one trigger: at, when or after"
                + (f" (got {', '.join(triggers)})" if triggers else "")
            )
        actions = [a.value for a in Action if getattr(self, a.value) is not None]
        if len(actions) != 1:
            raise ValueError(
                "a step needs exactly one action: inject, clear, stop, rollback, resume or"
                " contest" + (f" (got {', '.join(actions)})" if actions else "")
            )
        if isinstance(self.stop, list) and not self.stop:
            raise ValueError("stop: the ladder needs at least one control path")
        if self.fallback is not None and self.contest is None:
            raise ValueError(
                "fallback: only a contest step takes one here (an operator stop gives it"
                " inside stop: {by: operator, fallback: [...]})"
            )
        if self.rollback is not None:
            unknown = set(self.rollback) - {"via", "to"}
            if unknown or "via" not in self.rollback or "to" not in self.rollback:
                raise ValueError("rollback needs exactly {via: CONTROL_PATH, to: VERSION}")
        return self

    @property
    def trigger(self) -> Trigger:
        """The kind of trigger this step has."""
        if self.at is not None:
            return Trigger.AT
        if self.when is not None:
            return Trigger.HARM_DETECTED
        return Trigger.STOPPED if self.after == "stopped" else Trigger.AFTER_STEP

    @property
    def action(self) -> Action:
        """The kind of action this step takes."""
        for a in Action:
            if getattr(self, a.value) is not None:
                return a
        raise AssertionError("validated to have one action")

    @property
    def operator(self) -> OperatorStop | None:
        """The operator stop this step hands to a person, if it is one."""
        return self.stop if isinstance(self.stop, OperatorStop) else None

    @property
    def ladder(self) -> list[str]:
        """The stop ladder the harness itself may climb: the list form of ``stop``, or the
        fallback of an operator stop or a contest."""
        if isinstance(self.stop, list):
            return list(self.stop)
        if self.stop is not None:
            return list(self.stop.fallback)
        return list(self.fallback or ())

    def control_paths(self) -> list[str]:
        """Names of the control paths this step calls as its action, in ladder order (an
        operator stop calls none; its paths and fallback are checked on their own)."""
        if isinstance(self.stop, list):
            return list(self.stop)
        if self.contest is not None:
            return [self.contest.via]
        if self.rollback is not None:
            return [self.rollback["via"]]
        if self.resume is not None:
            return [self.resume]
        return []


class Deadlines(_Frozen):
    """Limits the drill judges: times in seconds, counts in requests."""

    detect: Duration | None = None
    ack: Duration | None = None
    stop: Duration | None = None
    time_in_harm: Duration | None = None
    harmful_after_stop: int | None = Field(default=None, ge=0)
    harmful_after_ack: int | None = Field(default=None, ge=0)
    rollback: Duration | None = None
    reversal: Duration | None = None
    """From a complaint (``contest:``) to harm-free answers that hold."""
    harmful_chunks_after_stop: int | None = Field(default=None, ge=0)
    """Harmful chunks streams delivered after the effective stop (``load.stream: true``)."""
    stream_cut_time: Duration | None = None
    """From the effective stop to the last chunk any stream delivered after it."""


DEADLINE_NAMES = tuple(Deadlines.model_fields)


class MetricRange(_Frozen):
    """An expected range for one measured value."""

    min: float | None = None
    max: float | None = None


class Expect(_Frozen):
    """What a regression drill expects of itself, so it keeps failing in exactly that way."""

    verdict: Literal["passed", "failed"] = "failed"
    missed: list[str] = Field(default_factory=list)
    met: list[str] = Field(default_factory=list)
    unverified: list[str] = Field(default_factory=list)
    resurrected: bool | None = None
    stop_theater: bool | None = None
    rung_used: str | None = None
    rungs: dict[str, ExpectedRung] = Field(default_factory=dict)
    metrics: dict[str, MetricRange] = Field(default_factory=dict)

    @field_validator("missed", "met", "unverified")
    @classmethod
    def _known_deadlines(cls, v: list[str]) -> list[str]:
        for name in v:
            if name not in DEADLINE_NAMES:
                raise ValueError(f"unknown deadline {name!r} (known: {', '.join(DEADLINE_NAMES)})")
        return v


class DrainPolicy(_Frozen):
    """``in_flight: {drain: 2s}``: streams may finish within ``drain`` of the effective stop,
    with no harmful chunk after it."""

    drain: Duration


class InFlight(enum.StrEnum):
    """``in_flight: cut``: no stream delivers a chunk after the effective stop (within the
    resolution the analysis has of it)."""

    CUT = "cut"


InFlightPolicy = InFlight | DrainPolicy
"""What a drill demands of the streams in flight when the stop takes effect."""


class Drill(_Frozen):
    """A whole drill, with its target resolved."""

    drill: str = Field(pattern=_NAME, max_length=MAX_NAME)
    description: str = ""
    source: str = ""
    """Set by the loader: the drill file's path, for messages."""
    target: Target
    target_args: list[str] = Field(default_factory=list)
    """Extra arguments for the target's start command (e.g. ``[--defect, stop_theater]``)."""
    sandbox: SandboxName | None = None
    load: LoadSpec = Field(default_factory=LoadSpec)
    harm: list[HarmRule] = Field(default_factory=list)
    safe_state: SafeState = Field(default_factory=SafeState)
    """Unset: the target's ``safe_state``, else connection refused or reset, or HTTP 503."""
    steps: list[Step] = Field(min_length=1)
    hold: Duration = 3.0
    warmup: Duration = 0.5
    """Load before the first timed step, so a baseline is observed."""
    max_duration: Duration = 60.0
    """Safety cap: the drill ends here whatever is pending. Unset, a drill with a person in
    it (an operator stop, a contest) gets enough to let its deadline pass and its fallback
    run (:attr:`human_wait_s`)."""
    deadlines: Deadlines = Field(default_factory=Deadlines)
    in_flight: InFlightPolicy | None = None
    """The policy for streams in flight at the effective stop (needs ``load.stream: true``),
    judged as the deadlines ``stream_cut_time`` and ``harmful_chunks_after_stop``."""
    notify: dict[str, NotifierSpec] = Field(default_factory=dict)
    """Notifiers by name, for ``stop: {by: operator, notify: [NAME, ...]}``."""
    incidents: dict[str, IncidentHook] = Field(default_factory=dict)
    """The drill's own incidents (``via: proxy`` ones, typically), merged over the target's:
    a drill's incident of the same name wins. Once loaded, ``target.incidents`` holds both."""
    expect: Expect | None = None
    allow_remote: bool = False
    """HTTP control paths are limited to loopback unless the drill says otherwise, so a drill
    cannot hit production by accident. Command paths are not limited: a command can reach any
    host, which is why ``govdrill validate`` lists every command a drill may run."""

    @model_validator(mode="before")
    @classmethod
    def _target_safe_state(cls, data: Any) -> Any:
        """A drill that gives no safe_state of its own takes its target's, if it has one."""
        if not isinstance(data, dict) or "safe_state" in data:
            return data
        target = data.get("target")
        if isinstance(target, dict):
            try:  # a bad one is reported where the target is validated, not twice
                target = Target.model_validate(target)
            except ValueError:
                return data
        if isinstance(target, Target) and target.safe_state is not None:
            return {**data, "safe_state": target.safe_state}
        return data

    @model_validator(mode="before")
    @classmethod
    def _incidents_over_target(cls, data: Any) -> Any:
        """The drill's own incidents join its target's (the drill's win), so everything that
        runs the drill finds every incident in ``target.incidents``. One that does not
        validate, or does not fit the target, is left out here and reported at its own line
        (the target is validated again with what is merged into it)."""
        if not isinstance(data, dict) or not isinstance(data.get("incidents"), dict):
            return data
        target = data.get("target")
        if isinstance(target, dict):
            try:
                target = Target.model_validate(target)
            except ValueError:
                return data
        if not isinstance(target, Target):
            return data
        own: dict[str, IncidentHook] = {}
        for name, raw in data["incidents"].items():
            try:
                hook = IncidentHook.model_validate(raw)
            except ValueError:
                continue
            # One that does not fit the target's paths is reported at the drill's line only.
            if not _incident_problems({str(name): hook}, target.control_paths):
                own[str(name)] = hook
        merged = {**target.incidents, **own}
        return {**data, "target": target.model_copy(update={"incidents": merged})}

    @model_validator(mode="after")
    def _own_incidents_fit_target(self) -> Drill:
        found = _incident_problems(self.incidents, self.target.control_paths)
        if found:
            raise ValidationError.from_exception_data(
                "Drill",
                [
                    InitErrorDetails(
                        type=PydanticCustomError("incident_via", message), loc=loc, input=None
                    )
                    for loc, message in found
                ],
            )
        return self

    @field_validator("in_flight", mode="before")
    @classmethod
    def _one_policy(cls, v: Any) -> Any:
        """Parse the policy here, so a bad one gets one message at its line rather than one
        per member of the union."""
        if v is None or isinstance(v, InFlight | DrainPolicy):
            return v
        if isinstance(v, dict):
            try:
                return DrainPolicy.model_validate(v)
            except ValidationError as exc:
                # A misspelt key explains the missing one: name it first.
                errors = sorted(exc.errors(), key=lambda e: e["type"] != "extra_forbidden")
                first = errors[0]
                where = ".".join(str(part) for part in first["loc"])
                message = (
                    "unknown key; allowed: drain"
                    if first["type"] == "extra_forbidden"
                    else _stop_message(first)
                )
                raise ValueError(f"{where}: {message}" if where else message) from None
        if v == InFlight.CUT.value:
            return InFlight.CUT
        raise ValueError(f"expected cut or {{drain: DURATION}}, got {v!r}")

    @model_validator(mode="after")
    def _in_flight_streams(self) -> Drill:
        # ``load.stream`` arrives with the streaming load; read it defensively until then.
        if self.in_flight is not None and not self.load.stream:
            raise ValidationError.from_exception_data(
                "Drill",
                [
                    InitErrorDetails(
                        type=PydanticCustomError(
                            "in_flight_needs_stream",
                            "a policy for streams in flight needs load.stream: true"
                            " (without it no stream is read)",
                        ),
                        loc=("in_flight",),
                        input=None,
                    )
                ],
            )
        return self

    @property
    def outside_incidents(self) -> dict[str, IncidentHook]:
        """Every incident of the drill injected from outside (``via: proxy``), by name."""
        return {n: h for n, h in self.target.incidents.items() if h.outside}

    @property
    def hold_ns(self) -> int:
        """``hold`` on the monotonic clock."""
        return to_ns(self.hold)

    @property
    def max_duration_ns(self) -> int:
        """``max_duration`` on the monotonic clock; unset, at least :attr:`human_wait_s`."""
        if "max_duration" in self.model_fields_set:
            return to_ns(self.max_duration)
        return to_ns(max(self.max_duration, self.human_wait_s))

    @property
    def human_wait_s(self) -> float:
        """How long the drill must be able to run for each step with a person in it to reach
        its deadline and climb its fallback: the step's ``at`` (when timed), its deadline,
        two holds, a grace per fallback rung and one more, and a minute of margin for what
        comes before (start-up, detection); 0 without such a step."""
        longest = 0.0
        for step in self.steps:
            deadline = self.human_deadline_s(step)
            if deadline is None:
                continue
            wait = (step.at or 0.0) + step.delay + deadline + 2 * self.hold
            wait += step.grace * (len(step.ladder) + 1) + 60.0
            longest = max(longest, wait)
        return longest

    def human_deadline_s(self, step: Step) -> float | None:
        """The deadline a step with a person in it waits against (an operator stop's
        ``fallback_after``, a contest's ``reversal``), when the drill sets it."""
        if step.operator is not None:
            return getattr(self.deadlines, step.operator.fallback_after)  # type: ignore[no-any-return]
        if step.contest is not None:
            return self.deadlines.reversal
        return None

    def step_ids(self) -> list[str]:
        """Every step's id: its own, or its action name (numbered when repeated)."""
        seen: dict[str, int] = {}
        ids = []
        for step in self.steps:
            if step.id is not None:
                ids.append(step.id)
                continue
            base = step.action.value
            seen[base] = seen.get(base, 0) + 1
            ids.append(base if seen[base] == 1 else f"{base}-{seen[base]}")
        return ids

    @property
    def resolved_sandbox(self) -> SandboxKind:
        """The sandbox to use: the drill's choice or the target's first listed one."""
        return self.sandbox or next(iter(self.target.sandboxes))
