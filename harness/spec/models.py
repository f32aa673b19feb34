"""The typed, frozen shape of drill and target files.

Everything a drill or target file may say is declared here; the loader turns a YAML file into
these objects or reports every problem at once. Nothing downstream sees a raw dict.
"""

from __future__ import annotations

import enum
import re
import signal as _signal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from harness.spec.durations import Duration

__all__ = [
    "Action",
    "CommandPath",
    "ControlPath",
    "Deadlines",
    "Drill",
    "Expect",
    "HarmRule",
    "HttpCall",
    "HttpPath",
    "IncidentHook",
    "LoadSpec",
    "MetricRange",
    "ProcessSandboxSpec",
    "ReadySpec",
    "RequestSpec",
    "RunVerdict",
    "SafeState",
    "SecretSpec",
    "SignalPath",
    "Step",
    "Target",
    "Trigger",
]

_NAME = r"^[a-z0-9][a-z0-9_.-]*$"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class RunVerdict(enum.StrEnum):
    """The verdict of one whole drill run."""

    PASSED = "passed"
    FAILED = "failed"
    ERROR = "error"
    INTERRUPTED = "interrupted"


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


# --------------------------------------------------------------------------- target


class HttpCall(_Frozen):
    """One HTTP request of a control path or incident hook."""

    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "POST"
    path: str
    json_body: Any = Field(default=None, alias="json")
    headers: dict[str, str] = Field(default_factory=dict)

    @field_validator("path")
    @classmethod
    def _path_is_absolute(cls, v: str) -> str:
        if not v.startswith("/"):
            raise ValueError("must start with '/'")
        return v


class HttpPath(_Frozen):
    """A control plane spoken over HTTP, with one call per action."""

    base_url: str | None = None
    """Defaults to the target's own address; set for a separate admin port or host."""
    headers: dict[str, str] = Field(default_factory=dict)
    timeout: Duration = 1.0
    stop: HttpCall | None = None
    resume: HttpCall | None = None
    rollback: HttpCall | None = None
    status: HttpCall | None = None


class SignalPath(_Frozen):
    """A POSIX signal to the target's process group or main process."""

    signal: str
    to: Literal["group", "main"] = "group"

    @field_validator("signal")
    @classmethod
    def _known_signal(cls, v: str) -> str:
        name = v.upper() if v.upper().startswith("SIG") else f"SIG{v.upper()}"
        if not isinstance(getattr(_signal, name, None), _signal.Signals):
            raise ValueError(f"unknown signal {v!r}")
        return name


class CommandPath(_Frozen):
    """A command run by the harness: an argv list, or a shell string only when declared."""

    stop: list[str] | str | None = None
    resume: list[str] | str | None = None
    rollback: list[str] | str | None = None
    shell: bool = False
    timeout: Duration = 5.0

    @model_validator(mode="after")
    def _shell_declared(self) -> CommandPath:
        for action in ("stop", "resume", "rollback"):
            value = getattr(self, action)
            if isinstance(value, str) and not self.shell:
                raise ValueError(
                    f"{action}: a string is a shell command; give an argv list, or set shell: true"
                )
            if isinstance(value, list) and not value:
                raise ValueError(f"{action}: argv must not be empty")
        return self


class ControlPath(_Frozen):
    """One named real way to stop, resume or roll back the target: exactly one kind."""

    http: HttpPath | None = None
    signal: SignalPath | None = None
    command: CommandPath | None = None
    description: str = ""

    @model_validator(mode="after")
    def _one_kind(self) -> ControlPath:
        kinds = [k for k in ("http", "signal", "command") if getattr(self, k) is not None]
        if len(kinds) != 1:
            raise ValueError(
                "a control path needs exactly one of http, signal, command"
                + (f" (got {', '.join(kinds)})" if kinds else "")
            )
        return self

    @property
    def kind(self) -> str:
        """The control path's kind: http, signal or command."""
        for k in ("http", "signal", "command"):
            if getattr(self, k) is not None:
                return k
        raise AssertionError("validated to have one kind")

    def supports(self, action: Action) -> bool:
        """Whether this path can perform ``action`` (signals can only stop)."""
        if self.signal is not None:
            return action is Action.STOP
        spec = self.http if self.http is not None else self.command
        return getattr(spec, action.value, None) is not None


class IncidentHook(_Frozen):
    """How to switch one simulated incident on (and off) through the target's hooks."""

    via: str
    """The http control path whose address and headers the hook uses."""
    enable: HttpCall
    disable: HttpCall | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    """Default parameters, merged under the drill's own and sent as the JSON body."""
    description: str = ""


class SecretSpec(_Frozen):
    """A secret the target needs: from the environment, or generated for the run."""

    env: str | None = None
    generate: bool = False

    @model_validator(mode="after")
    def _has_source(self) -> SecretSpec:
        if self.env is None and not self.generate:
            raise ValueError("a secret needs env: NAME, generate: true, or both")
        return self


class ReadySpec(_Frozen):
    """How to know the target is ready to serve."""

    path: str = "/readyz"
    timeout: Duration = 20.0
    interval: Duration = 0.05


class ResourceLimits(_Frozen):
    """Limits applied to a process-sandboxed target (setrlimit)."""

    memory_mb: int | None = Field(default=1024, ge=16)
    cpu_s: int | None = Field(default=600, ge=1)
    nofile: int | None = Field(default=4096, ge=64)


class ProcessSandboxSpec(_Frozen):
    """How to run the target as a child process.

    ``command`` may use ``{target_dir}``, ``{workdir}``, ``{secrets_dir}``, ``{host}`` and
    ``{port}``; when ``port_file`` is set the target binds a port of its own choosing and
    writes it there, otherwise the harness picks a free port for ``{port}``.
    """

    command: list[str] = Field(min_length=1)
    port_file: str | None = None
    env: dict[str, str] = Field(default_factory=dict)
    limits: ResourceLimits = Field(default_factory=ResourceLimits)
    events: str | None = None
    """Where the target writes its ground-truth event log, if it keeps one."""


class Target(_Frozen):
    """A model service under drill."""

    target: str = Field(pattern=_NAME)
    description: str = ""
    directory: str = ""
    """Set by the loader: the folder the target file lives in (``{target_dir}``)."""
    version_header: str | None = "X-Model-Version"
    secrets: dict[str, SecretSpec] = Field(default_factory=dict)
    sandboxes: dict[Literal["process", "docker", "compose", "external"], dict[str, Any]]
    ready: ReadySpec = Field(default_factory=ReadySpec)
    control_paths: dict[str, ControlPath] = Field(default_factory=dict)
    incidents: dict[str, IncidentHook] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _references_resolve(self) -> Target:
        if not self.sandboxes:
            raise ValueError("sandboxes: declare at least one sandbox")
        for name, hook in self.incidents.items():
            path = self.control_paths.get(hook.via)
            if path is None or path.http is None:
                raise ValueError(
                    f"incidents.{name}.via: {hook.via!r} is not an http control path of this"
                    f" target (have: {', '.join(sorted(self.control_paths)) or 'none'})"
                )
        return self

    def process_spec(self) -> ProcessSandboxSpec:
        """The validated process sandbox declaration."""
        return ProcessSandboxSpec.model_validate(self.sandboxes["process"])


# --------------------------------------------------------------------------- drill


class RequestSpec(_Frozen):
    """The request each simulated user sends."""

    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "POST"
    path: str = "/v1/generate"
    json_body: Any = Field(default=None, alias="json")
    headers: dict[str, str] = Field(default_factory=dict)
    body: str | None = None

    @field_validator("path")
    @classmethod
    def _path_is_absolute(cls, v: str) -> str:
        if not v.startswith("/"):
            raise ValueError("must start with '/'")
        return v


class LoadSpec(_Frozen):
    """Real Locust load: how many users, how fast they arrive, what they send."""

    users: int = Field(default=10, ge=1, le=2000)
    spawn_rate: float | None = Field(default=None, gt=0)
    """Users started per second; defaults to all at once."""
    request: RequestSpec = Field(default_factory=RequestSpec)
    timeout: Duration = 2.0
    per_user_rate: float | None = Field(default=None, gt=0)
    """Requests per second per user (Locust's constant throughput); unset: as fast as it answers."""


class HarmRule(_Frozen):
    """How one response is judged harmful: every given field must match."""

    status: int | list[int] | None = None
    json_path: str | None = None
    regex: str | None = None
    equals: Any = None
    header: str | None = None
    header_regex: str | None = None
    latency_over: Duration | None = None
    description: str = ""

    @model_validator(mode="after")
    def _coherent(self) -> HarmRule:
        given = [
            f
            for f in ("status", "json_path", "regex", "equals", "header", "latency_over")
            if getattr(self, f) is not None
        ]
        if not given:
            raise ValueError(
                "a harm rule needs at least one of status, json_path, regex, equals, header,"
                " latency_over"
            )
        if self.equals is not None and self.json_path is None:
            raise ValueError("equals needs json_path")
        if (self.header is None) != (self.header_regex is None):
            raise ValueError("header and header_regex go together")
        for name in ("regex", "header_regex"):
            pattern = getattr(self, name)
            if pattern is not None:
                try:
                    re.compile(pattern)
                except re.error as exc:
                    raise ValueError(f"{name}: invalid regular expression: {exc}") from None
        if self.json_path is not None:
            from harness.harm import parse_json_path

            try:
                parse_json_path(self.json_path)
            except ValueError as exc:
                raise ValueError(f"json_path: {exc}") from None
        return self


class SafeState(_Frozen):
    """What counts as the halt in a safe state a stop must reach."""

    statuses: list[int] = Field(default_factory=lambda: [503])
    connection_refused: bool = True
    connection_reset: bool = True


class Step(_Frozen):
    """One step: a trigger (at / when / after) and an action."""

    id: str | None = Field(default=None, pattern=_NAME)
    at: Duration | None = None
    when: Literal["harm_detected"] | None = None
    after: str | None = None
    """``stopped``, or the id of another step that must have completed."""
    delay: Duration = 0.0
    inject: str | None = None
    clear: str | None = None
    stop: list[str] | None = None
    rollback: dict[str, str] | None = None
    resume: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    grace: Duration = 1.0
    """Per rung of a stop ladder: how long to wait for the stop to take effect."""

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
                "a step needs exactly one action: inject, clear, stop, rollback or resume"
                + (f" (got {', '.join(actions)})" if actions else "")
            )
        if self.stop is not None and not self.stop:
            raise ValueError("stop: the ladder needs at least one control path")
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

    def control_paths(self) -> list[str]:
        """Names of the control paths this step uses, in ladder order."""
        if self.stop is not None:
            return list(self.stop)
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
    rungs: dict[str, Literal["acked", "failed", "timed_out", "skipped", "not_reached"]] = Field(
        default_factory=dict
    )
    metrics: dict[str, MetricRange] = Field(default_factory=dict)

    @field_validator("missed", "met", "unverified")
    @classmethod
    def _known_deadlines(cls, v: list[str]) -> list[str]:
        for name in v:
            if name not in DEADLINE_NAMES:
                raise ValueError(f"unknown deadline {name!r} (known: {', '.join(DEADLINE_NAMES)})")
        return v


class Drill(_Frozen):
    """A whole drill, with its target resolved."""

    drill: str = Field(pattern=_NAME)
    description: str = ""
    source: str = ""
    """Set by the loader: the drill file's path, for messages."""
    target: Target
    target_args: list[str] = Field(default_factory=list)
    """Extra arguments for the target's start command (e.g. ``[--defect, stop_theater]``)."""
    sandbox: Literal["process", "docker", "compose", "external"] | None = None
    load: LoadSpec = Field(default_factory=LoadSpec)
    harm: list[HarmRule] = Field(default_factory=list)
    safe_state: SafeState = Field(default_factory=SafeState)
    steps: list[Step] = Field(min_length=1)
    hold: Duration = 3.0
    warmup: Duration = 0.5
    """Load before the first timed step, so a baseline is observed."""
    max_duration: Duration = 60.0
    """Safety cap: the drill ends here whatever is pending."""
    deadlines: Deadlines = Field(default_factory=Deadlines)
    expect: Expect | None = None

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
    def resolved_sandbox(self) -> str:
        """The sandbox to use: the drill's choice or the target's first listed one."""
        return self.sandbox or next(iter(self.target.sandboxes))
