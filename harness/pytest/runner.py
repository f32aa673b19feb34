"""Running drills under pytest: quietly, interruptible by Ctrl-C with the evidence kept, every
run's facts recorded as JUnit properties, the session's load children served by one pool (a
spare warms up during each drill for the next); and ``DrillRunner``, the ``drill_runner``
fixture."""

from __future__ import annotations

import contextlib
import json
import signal
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

import pytest
import yaml

from harness.halt import Halt
from harness.pytest.settings import DrillSettings

if TYPE_CHECKING:
    from harness.engine import RunResult
    from harness.load.warm import LoadPool
    from harness.spec.models import Drill

__all__ = [
    "DrillRunner",
    "close_session_pool",
    "junit_properties",
    "run_recorded",
    "session_pool",
]

_POOL = pytest.StashKey["LoadPool"]()


def session_pool(config: pytest.Config) -> LoadPool:
    """The session's pool of load children, made on the first drill (from pytest's main
    thread, which outlives every drill: a spare dies with the thread that spawned it).

    An xdist worker keeps no spare: it cannot know whether another drill comes its way, and
    an unused spare's Locust import competes with the drills other workers run meanwhile. A
    plain session keeps one (at most one is wasted, at its end)."""
    pool = config.stash.get(_POOL, None)
    if pool is None:
        from harness.load.warm import LoadPool

        under_xdist = hasattr(config, "workerinput")
        pool = config.stash[_POOL] = LoadPool(spares=0 if under_xdist else None)
    return pool


def close_session_pool(config: pytest.Config) -> None:
    """Kill the session's spare load child, if a drill ever ran."""
    pool = config.stash.get(_POOL, None)
    if pool is not None:
        pool.close()


Properties = list[tuple[str, object]]
Overrides = Sequence[str] | Mapping[str, Any]


def run_recorded(
    drill: Drill,
    settings: DrillSettings,
    properties: Properties,
    pool: LoadPool | None = None,
) -> RunResult:
    """Run one drill with no live view, append its facts to ``properties``; Ctrl-C ends the
    run the way the CLI does (teardown, evidence marked interrupted) and then stops pytest.
    ``pool`` serves its load child (the session's: :func:`session_pool`)."""
    from harness.engine import run_drill
    from harness.integrity import check_tsa_url, choose_authorized_by, choose_signer
    from harness.spec.models import RunVerdict

    # Bad input (a key, a name, a TSA address) fails the item before anything runs.
    signer = choose_signer()
    authorized_by = choose_authorized_by(settings.authorized_by)
    tsa_url = None if settings.tsa_url is None else check_tsa_url(settings.tsa_url)
    with _halt_on_sigint() as halt:
        result = run_drill(
            drill,
            results=settings.results,
            view=None,
            halt=halt,
            signer=signer,
            load_pool=pool,
            authorized_by=authorized_by,
            tsa_url=tsa_url,
        )
    properties.extend(junit_properties(result))
    if result.verdict is RunVerdict.INTERRUPTED:
        raise KeyboardInterrupt(f"drill {drill.drill} interrupted; evidence: {result.run_dir}")
    return result


def junit_properties(result: RunResult) -> Properties:
    """A run's facts as JUnit ``<property>`` pairs: verdicts, metric values with their bounds,
    and where the evidence is."""
    summary = result.summary
    props: Properties = [
        ("drill", result.drill),
        ("verdict", result.verdict.value),
        ("run_id", result.run_id),
        ("evidence", str(result.run_dir)),
        ("target", summary.target or ""),
        ("sandbox", summary.sandbox or ""),
    ]
    for name, deadline in summary.deadlines.items():
        props.append((f"deadline.{name}", deadline.verdict.value))
    for name, metric in summary.metrics.items():
        sides = ((metric.value, ""), (metric.lower, ".lower"), (metric.upper, ".upper"))
        for value, suffix in sides:
            if value is not None:
                props.append((f"{name}{suffix}", value))
    facts = (
        ("rung_used", summary.rung_used),
        ("resurrected", summary.resurrected),
        ("stop_theater", summary.stop_theater),
    )
    props.extend((fact, value) for fact, value in facts if value is not None)
    if result.expectation is not None:
        props.append(("expectation_met", result.expectation.met))
    if summary.authorized_by is not None:
        props.append(("authorized_by", summary.authorized_by))
    if result.timestamp_error:
        props.append(("timestamp_missing", result.timestamp_error))
    return props


@contextlib.contextmanager
def _halt_on_sigint() -> Iterator[Halt]:
    """While a drill runs in the main thread, Ctrl-C asks the engine to halt instead of
    raising mid-teardown; elsewhere the event is simply never set."""
    halt = Halt()
    if threading.current_thread() is not threading.main_thread():
        yield halt
        return

    def handler(signum: int, _frame: FrameType | None) -> None:
        halt.set(signum)

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield halt
    finally:
        signal.signal(signal.SIGINT, previous)


class DrillRunner:
    """Loads, builds and runs drills from Python tests with the session's ``--drill-*``
    settings (the test's own overrides first, then ``--drill-set``, then ``--drill-sandbox``).

    Built drills are written to a scratch file first, so problems and failure reports still
    point at a file and line; their target is looked up in ``--drill-targets``, then as the
    loader does, then in ``targets/`` of the rootdir.
    """

    def __init__(
        self,
        settings: DrillSettings,
        *,
        scratch: Path,
        properties: Properties,
        pool: LoadPool | None = None,
    ) -> None:
        self.settings = settings
        self._scratch = scratch
        self._properties = properties
        self._pool = pool
        self._built = 0

    @property
    def results(self) -> Path:
        """Where runs write their evidence."""
        return self.settings.results

    def load(self, path: Path | str, *, overrides: Overrides = ()) -> Drill:
        """Load a drill file; raises SpecError listing every problem as file:line: field."""
        from harness.spec import load_drill

        return load_drill(
            path,
            overrides=self.settings.overrides_for(_as_overrides(overrides)),
            targets_dirs=self.settings.targets,
        )

    def build(
        self, source: Mapping[str, Any] | str, *, overrides: Overrides = (), name: str = ""
    ) -> Drill:
        """Build a drill from a mapping or YAML text, as if it were a file."""
        from harness.spec import load_drill

        text = source if isinstance(source, str) else yaml.safe_dump(dict(source), sort_keys=False)
        self._built += 1
        path = self._scratch / f"{name or 'drill'}-{self._built}.yaml"
        path.write_text(text, encoding="utf-8")
        fallback = self.settings.rootdir / "targets"
        return load_drill(
            path,
            overrides=self.settings.overrides_for(_as_overrides(overrides)),
            targets_dirs=(*self.settings.targets, *([fallback] if fallback.is_dir() else [])),
        )

    def run(self, drill: Drill | Path | str, *, overrides: Overrides = ()) -> RunResult:
        """Run a drill (or load the drill file at a path and run it) and return its result;
        the run's facts are added to the test's JUnit properties."""
        from harness.spec.models import Drill

        if not isinstance(drill, Drill):
            drill = self.load(drill, overrides=overrides)
        elif overrides:
            raise TypeError("overrides apply when loading; pass them to load() or build()")
        return run_recorded(drill, self.settings, self._properties, self._pool)

    def check(self, drill: Drill, result: RunResult) -> None:
        """Raise DrillFailed, with the short drill report, unless the run ended as the drill
        declares (passed, or failed exactly as its ``expect`` block says)."""
        from harness.pytest.outcome import judge_outcome

        judge_outcome(drill, result, shown_from=self.settings.rootdir)


def _as_overrides(overrides: Overrides) -> tuple[str, ...]:
    """``{"load.users": 5}`` or ``["load.users=5"]`` as ``key=value`` strings (values as
    JSON, which the loader reads as YAML)."""
    if isinstance(overrides, Mapping):
        return tuple(f"{key}={json.dumps(value)}" for key, value in overrides.items())
    return tuple(overrides)
