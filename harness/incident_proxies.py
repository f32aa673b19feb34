"""The run's fault proxies: where they sit, what goes through them, and what they leave behind.

A drill with an incident ``via: proxy`` gets a :class:`FaultProxy` in front of the target for
the load (a data-path rule), and one in front of each http control path a rule names (a
control-path rule). The load then talks to the data proxy, and every call of a proxied
control path goes through its proxy, while the other control paths keep the real address: a
stop is measured on the real service. Rules are off until a step injects them.

At the end each proxy's counts go into the timeline, its events log is copied (bounded) into
the run folder as ``proxy.<where>.events.jsonl``, and the copy is read back as the ground
truth of when each rule was on.
"""

from __future__ import annotations

import contextlib
import importlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from harness.errors import SandboxError
from harness.spec.models import ControlPath, Drill
from harness.spec.proxy import ProxyRule
from harness.target_events import TargetEvents, copy_event_log, read_events

__all__ = [
    "DATA_PATH",
    "Emit",
    "FaultProxyLike",
    "ProxyEvidence",
    "RuleCountLike",
    "RunProxies",
    "proxy_log_name",
    "rule_kind",
]

DATA_PATH = "data"
"""Where a data-path proxy sits, as the evidence names it (control ones by their path)."""

Emit = Callable[..., None]
"""The timeline's ``event(name, **fields)``."""


class RuleCountLike(Protocol):
    """A rule's counts as the proxy reports them."""

    @property
    def touched(self) -> int: ...
    @property
    def seen(self) -> int: ...
    @property
    def unmatched(self) -> int: ...


class FaultProxyLike(Protocol):
    """The contract's FaultProxy (issue 16), as the wiring uses it."""

    base_url: str

    def enable(self, name: str, rule: ProxyRule) -> int: ...
    def disable(self, name: str) -> int: ...
    def counts(self) -> Mapping[str, RuleCountLike]: ...
    def close(self) -> None: ...


def _fault_proxy_class() -> Any:
    """The fault proxy (imported here: a drill without proxy incidents never loads it)."""
    return importlib.import_module("harness.proxy").FaultProxy


RULE_KINDS = ("rewrite", "latency", "error", "reset", "drop", "refuse", "lie")
"""Every fault a proxy rule can be, as the contract names them."""


def rule_kind(rule: ProxyRule) -> str:
    """The one fault ``rule`` declares (``rewrite``, ``latency``, ``refuse``, ...)."""
    return next((k for k in RULE_KINDS if getattr(rule, k, None) is not None), "unknown")


def proxy_log_name(where: str) -> str:
    """The file a proxy's events log is copied to in the run folder."""
    return f"proxy.{where}.events.jsonl"


@dataclass(frozen=True, slots=True)
class ProxyEvidence:
    """What one proxy left: where it sat, its rules' final counts, its events log as read."""

    where: str
    """``data``, or the name of the control path it sat in front of."""
    upstream: str
    counts: Mapping[str, tuple[int, int, int]]
    """Rule name → (touched, seen, unmatched) when the proxy was closed."""
    events: TargetEvents


class RunProxies:
    """Every fault proxy of one run, started after readiness and closed with the run."""

    def __init__(
        self,
        drill: Drill,
        *,
        run_id: str,
        workdir: Path,
        emit: Emit,
        clock: Callable[[], int] = time.monotonic_ns,
        factory: Any = None,
    ) -> None:
        self._drill = drill
        self._run_id = run_id
        self._workdir = workdir
        self._emit = emit
        self._clock = clock
        self._factory = factory
        self._proxies: dict[str, FaultProxyLike] = {}
        self._upstreams: dict[str, str] = {}
        self.evidence: tuple[ProxyEvidence, ...] = ()
        rules = [h.rule for h in drill.outside_incidents.values() if h.rule is not None]
        self.needed = tuple(dict.fromkeys(r.control or DATA_PATH for r in rules))
        """Where a proxy must sit: ``data`` and/or control path names, in incident order."""

    def start(self, target_base_url: str) -> None:
        """Start each proxy the drill needs in front of its upstream; SandboxError if one
        does not listen (those already started are closed by :meth:`close`)."""
        factory = self._factory or _fault_proxy_class()
        for where in self.needed:
            upstream = self._upstream(where, target_base_url)
            try:
                proxy = factory.start(
                    upstream=upstream,
                    events_path=self._workdir / proxy_log_name(where),
                    name=where,
                    run_id=self._run_id,
                    clock=self._clock,
                )
            except Exception as exc:
                raise SandboxError(f"the fault proxy for {where} did not start: {exc}") from None
            self._proxies[where] = proxy
            self._upstreams[where] = upstream
            self._emit("proxy_started", where=where, upstream=upstream, base_url=proxy.base_url)

    def _upstream(self, where: str, target_base_url: str) -> str:
        """The origin a proxy forwards to: the target's, or the control path's own."""
        if where == DATA_PATH:
            return target_base_url
        http = self._drill.target.control_paths[where].http
        assert http is not None  # validated: a rule's control names an http path
        if not http.base_url:
            return target_base_url
        parts = urlsplit(http.base_url)
        return f"{parts.scheme}://{parts.netloc}"

    def load_base_url(self, target_base_url: str) -> str:
        """Where the load sends its requests: the data proxy, else the target itself."""
        proxy = self._proxies.get(DATA_PATH)
        return target_base_url if proxy is None else proxy.base_url

    def routed(self, name: str, spec: ControlPath) -> ControlPath:
        """``spec`` with its address moved to its proxy when a rule sits on it (its path
        prefix kept), else unchanged."""
        proxy = self._proxies.get(name)
        if proxy is None or spec.http is None:
            return spec
        prefix = urlsplit(spec.http.base_url or "").path.rstrip("/")
        http = spec.http.model_copy(update={"base_url": proxy.base_url + prefix})
        return spec.model_copy(update={"http": http})

    def _counts_answers(self, name: str) -> bool:
        """Whether the rule of incident ``name`` acts on requests it could count: a ``refuse``
        closes the proxy's listener, so the connections it turns away never reach it."""
        hook = self._drill.target.incidents.get(name)
        return hook is None or hook.rule is None or rule_kind(hook.rule) != "refuse"

    def proxy_for(self, rule: ProxyRule) -> FaultProxyLike:
        """The proxy a rule is switched on: its control path's, or the data path's."""
        return self._proxies[rule.control or DATA_PATH]

    def close(self, staging: Path) -> None:
        """Close every proxy (never raising), record its counts in the timeline and copy its
        events log into ``staging``; the copies are read back as :attr:`evidence`."""
        found = []
        for where, proxy in self._proxies.items():
            counts: dict[str, tuple[int, int, int]] = {}
            with contextlib.suppress(Exception):  # a dead proxy has no counts, only its log
                counts = {n: (c.touched, c.seen, c.unmatched) for n, c in proxy.counts().items()}
            with contextlib.suppress(Exception):
                proxy.close()
            source = self._workdir / proxy_log_name(where)
            copied = staging / proxy_log_name(where)
            with contextlib.suppress(OSError):
                copy_event_log(source, copied)
            events = read_events(copied)
            for t_ns, event, line in events:
                if event in ("rule_on", "rule_off"):
                    self._emit(f"proxy_{event}", where=where, rule=str(line.get("rule")), t_ns=t_ns)
            for rule, (touched, seen, unmatched) in counts.items():
                self._emit(
                    "proxy_rule_counts",
                    where=where,
                    rule=rule,
                    touched=touched,
                    seen=seen,
                    unmatched=unmatched,
                )
                if touched == 0 and self._counts_answers(rule):
                    self._emit(
                        "proxy_rule_matched_nothing",
                        where=where,
                        rule=rule,
                        seen=seen,
                        unmatched=unmatched,
                    )
            self._emit("proxy_closed", where=where)
            found.append(ProxyEvidence(where, self._upstreams[where], counts, events))
        self._proxies.clear()
        self.evidence = tuple(found)
