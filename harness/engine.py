"""One drill run, in explicit phases: spec → sandbox → load and steps → observations → verdict.

``run_drill`` is the composition root. Its phases run in order with cleanup in ``finally``:
the load is stopped and the target torn down whatever happens (success, failure, Ctrl-C),
and the harness's own teardown is recorded as such, never as a stop. Then the observations
are analysed and the evidence written into a staging folder that is sealed by one rename.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import os
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import structlog
import yaml
from pydantic import ValidationError

from harness import __version__, runs
from harness.artefacts import attempt
from harness.control import (
    ControlBackend,
    build_backend,
    build_hook,
    resolve_refs,
)
from harness.errors import (
    EXIT_FAILED,
    EXIT_OK,
    EvidenceError,
    GovdrillError,
    Interrupted,
    LoadError,
    SandboxError,
)
from harness.evidence import RunDir, write_atomic, write_json
from harness.expect import ExpectationCheck, check_expectation
from harness.export import RunRecord, junit_xml
from harness.halt import Halt
from harness.incident_proxies import RunProxies
from harness.integrity import Signer, seal_run, stamp_attestation
from harness.load import process as load_process
from harness.load.config import LoadConfig
from harness.load.factory import Load, make_load
from harness.load.fleet import LoadFleet
from harness.load.process import LoadStatus
from harness.load.warm import LoadPool, LoadSource, SpawnedLoadChild, spawn_load_child
from harness.metrics import decide_verdict
from harness.observations import ObservationLog
from harness.operator import Notifier
from harness.redact import scrub_folder
from harness.report import REPORT, Observations, write_report
from harness.restore import Restored
from harness.run_facts import RunFacts
from harness.run_summary import (
    ArtefactFailure,
    HaltNote,
    RunSummary,
    SweptProcess,
    SweptResource,
    read_summary,
)
from harness.sandbox import reaper
from harness.sandbox.base import Sandbox, TeardownReport
from harness.sandbox.containment import sweep_stale_cgroups
from harness.sandbox.factory import make_sandbox, sweep_leftovers
from harness.secrets import RunSecrets, resolve_secrets
from harness.spec.durations import to_ns
from harness.spec.models import Drill, RequestSpec, RunVerdict
from harness.steps import StepPhase, Steps
from harness.summary import analyse_run, build_summary, operator_acts
from harness.target_events import TargetEvents, read_events
from harness.timeline import Timeline
from harness.unsealed import seal_dead_runs
from harness.watch import HarmDetector

__all__ = ["LiveStatus", "RunResult", "View", "human_clock_line", "run_drill"]

TICK_S = 0.005
"""How often the engine looks at the load and the steps (5 ms); while the steps only wait
on a person, less often (``Steps.pause_ns``)."""


@dataclass(frozen=True, slots=True)
class LiveStatus:
    """What the live view shows, refreshed every few ticks."""

    elapsed_s: float
    step: str
    requests: int
    rate: float
    harmful: int
    stop_state: str
    clock: str = ""
    """A wait on a person against its deadline (``operator: 41 s left of 60 s to stop``);
    '' when there is none."""


class View(Protocol):
    """Something that shows a run as it happens."""

    def event(self, event: dict[str, Any]) -> None:
        """One timeline event."""

    def status(self, status: LiveStatus) -> None:
        """A periodic status refresh."""


@dataclass(frozen=True, slots=True)
class RunResult:
    """What one run concluded and where its evidence is."""

    drill: str
    run_id: str
    verdict: RunVerdict
    run_dir: Path
    summary: RunSummary
    """The sealed summary.json, typed: ``result.summary.metrics.time_to_stop.upper``."""
    expectation: ExpectationCheck | None = None
    message: str = ""
    timestamp_error: str = ""
    """Why the TSA gave no token (``tsa_url`` given, the run sealed without trusted time)."""

    @property
    def exit_code(self) -> int:
        """0 passed (or failed exactly as expected), 1 otherwise; errors raise instead."""
        if self.expectation is not None:
            return EXIT_OK if self.expectation.met else EXIT_FAILED
        return EXIT_OK if self.verdict is RunVerdict.PASSED else EXIT_FAILED


@dataclass
class _Run:
    """Mutable state of one run, kept in one place for the finally-phase."""

    drill: Drill
    run_id: str
    run_dir: RunDir
    zero_ns: int
    log: ObservationLog = field(default_factory=ObservationLog)
    timeline: Timeline | None = None
    sandbox: Sandbox | None = None
    load: Load | None = None
    steps: Steps | None = None
    detector: HarmDetector | None = None
    proxies: RunProxies | None = None
    """The fault proxies of incidents injected from outside (``via: proxy``)."""
    target_starting_ns: int | None = None
    target_ready_ns: int | None = None
    load_start_ns: int | None = None
    load_end_ns: int | None = None
    load_failed_ns: int | None = None
    load_failure: str = ""
    teardown: TeardownReport | None = None
    restored: Restored | None = None
    """What teardown put back in a service the harness does not own (external)."""
    swept: list[reaper.Leftover] = field(default_factory=list)
    swept_resources: list[dict[str, str]] = field(default_factory=list)
    """Containers and networks of dead harnesses this run removed."""
    error: GovdrillError | None = None
    interrupted: Interrupted | None = None
    halted_by: dict[str, Any] | None = None
    report_template: Path | None = None
    signer: Signer | None = None
    notifier: Notifier | None = None
    started_at: str = ""
    authorized_by: str | None = None
    tsa_url: str | None = None
    load_child: SpawnedLoadChild | None = None
    """Spawned before the run began; adopted by ``load`` once the target is ready."""
    load_pool: LoadPool | None = None


def run_drill(
    drill: Drill,
    *,
    results: Path,
    view: View | None = None,
    halt: Halt | None = None,
    signer: Signer | None = None,
    clock: Callable[[], int] = time.monotonic_ns,
    sleep: Callable[[float], None] = time.sleep,
    report_template: Path | None = None,
    notifier: Notifier | None = None,
    authorized_by: str | None = None,
    tsa_url: str | None = None,
    load_pool: LoadPool | None = None,
) -> RunResult:
    """Run one drill end to end and write its evidence; raises only for bad input or I/O.

    Everything the run depends on from outside is handed in here: ``signer`` signs its
    attestation (None: unsigned), ``halt`` ends it early, ``clock`` and ``sleep`` pace it,
    ``report_template`` is a folder of report templates replacing the installed ones,
    ``notifier`` alerts the people an operator stop hands the stop to (None: the drill's own
    ``notify:`` senders, and without any every notification is recorded as skipped),
    ``authorized_by`` (already checked) goes into the signed statement, ``tsa_url``
    names the RFC 3161 TSA that timestamps the sealed attestation, and ``load_pool`` serves
    the load child (the invocation's spare; None: one spawned now). Call it from a thread
    that outlives the run: the load child dies with the thread that spawned it.
    """
    secrets = resolve_secrets(drill)  # bad input fails here, before any process starts
    # The load child imports Locust while the harness sweeps, registers and starts the
    # target (a spare has done so already); it gets its config once the target is ready.
    load_child = (load_pool or LoadPool(spares=0, clock=clock)).take()
    try:
        return _run_drill(
            drill,
            secrets,
            load_child,
            load_pool,
            results=results,
            view=view,
            halt=halt,
            signer=signer,
            clock=clock,
            sleep=sleep,
            report_template=report_template,
            notifier=notifier,
            authorized_by=authorized_by,
            tsa_url=tsa_url,
        )
    finally:
        load_child.discard()  # never adopted (the run ended before its load): killed here


def _run_drill(
    drill: Drill,
    secrets: RunSecrets,
    load_child: SpawnedLoadChild,
    load_pool: LoadPool | None,
    *,
    results: Path,
    view: View | None,
    halt: Halt | None,
    signer: Signer | None,
    clock: Callable[[], int],
    sleep: Callable[[float], None],
    report_template: Path | None,
    notifier: Notifier | None,
    authorized_by: str | None,
    tsa_url: str | None,
) -> RunResult:
    run_id = load_child.run_id  # the child was labelled for this run when it was spawned
    stamp = _dt.datetime.now(_dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    redactor = secrets.redactor
    senders = None
    if notifier is None and drill.notify:
        from harness.notify import OperatorNotifiers  # only a drill that notifies loads them

        notifier = senders = OperatorNotifiers(drill.notify, secrets=secrets.values, clock=clock)
    run_dir = RunDir(results, drill.drill, stamp, run_id, redactor=redactor)
    # The report and the seal come once the verdict is final: the run keeps what they need.
    state = _Run(
        drill=drill,
        run_id=run_id,
        run_dir=run_dir,
        zero_ns=clock(),
        report_template=report_template,
        signer=signer,
        notifier=notifier,
        started_at=_dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        authorized_by=authorized_by,
        tsa_url=tsa_url,
        load_child=load_child,
        load_pool=load_pool,
    )
    # The versions a drill rolls back to keep their own entry however many a target sprays.
    # Rows beyond the memory budget go to an unnamed file in the run folder (on results'
    # disk, not a tmpfs), opened at the first spill, long after the folder exists.
    state.log = ObservationLog(
        pinned=[s.rollback["to"] for s in drill.steps if s.rollback],
        spill_dir=run_dir.staging,
    )
    swept = reaper.sweep()
    state.swept = list(swept.processes)
    state.swept_resources = [
        {"kind": "work_folder", "name": str(folder), "run_id": dead}
        for dead, folder in swept.work_folders
    ]
    # Daemons that left their session and cleared their environment, found by their cgroup.
    stale = sweep_stale_cgroups()
    # Registered (and locked) before the run folder exists: no sweep ever sees it unowned.
    registration = runs.register(run_id, drill.drill, run_dir.staging)
    try:
        # Runs of dead harnesses left unsealed are sealed as interrupted before this one.
        left_unsealed = seal_dead_runs(
            results, sealed_by=f"run {run_id}", signer=signer, tsa_url=tsa_url
        )
        staging = run_dir.create()  # locked by the run's RunLock until released
        timeline = Timeline(
            staging / "timeline.jsonl", zero_ns=state.zero_ns, clock=clock, redactor=redactor
        )
    except BaseException:
        registration.close()
        run_dir.release()
        raise
    state.timeline = timeline
    if view is not None:
        timeline.listen(view.event)
    structlog.contextvars.bind_contextvars(drill=drill.drill, run_id=run_id)
    halt = halt or Halt()
    try:
        write_atomic(staging / "drill.yaml", _drill_as_run(drill))
        timeline.event(
            "run_started",
            zero_ns=state.zero_ns,
            govdrill=__version__,
            python=sys.version.split()[0],
            target=drill.target.target,
            sandbox=drill.resolved_sandbox,
        )
        timeline.event(
            "load_spawned",
            pid=load_child.pid,
            spawned_ns=load_child.spawned_ns,
            source=load_child.source.value,
        )
        for left in state.swept:
            timeline.event(
                "swept_leftover",
                pid=left.pid,
                run_id=left.run_id,
                cmdline=redactor.redact(left.cmdline)[:200],
            )
        for unsealed in left_unsealed:
            timeline.event("unsealed_run_swept", **unsealed.to_event())
        for orphan in stale:
            state.swept_resources.append(
                {"kind": "cgroup_process", "name": f"pid {orphan.pid}", "run_id": orphan.run_id}
            )
            timeline.event(
                "swept_leftover",
                kind="cgroup_process",
                pid=orphan.pid,
                run_id=orphan.run_id,
                owner_pid=orphan.owner_pid,
                cmdline=redactor.redact(orphan.cmdline)[:200],
            )
        for resource in state.swept_resources:
            if resource["kind"] == "work_folder":
                timeline.event(
                    "swept_leftover",
                    kind=resource["kind"],
                    resource=resource["name"],
                    run_id=resource["run_id"],
                )
        # A sweep finds this folder by its name if the harness dies with it still there.
        with tempfile.TemporaryDirectory(prefix=reaper.work_folder_prefix(run_id)) as workdir:
            try:
                _run_phases(state, Path(workdir), secrets, view, halt, clock, sleep)
            except Interrupted as exc:
                state.interrupted = exc
                state.halted_by = registration.halt_note()
                timeline.event("interrupted", signal=exc.signum, halted_by=state.halted_by)
                if state.steps is not None:
                    # A wait on a person ends here: the harness's own fallback stops it.
                    state.steps.fallback_on_halt(clock())
                    state.steps.undo_incidents()
            except (SandboxError, LoadError) as exc:
                redactor.redact_error(exc)  # in place: a harness error's message is its args
                state.error = exc
                timeline.event("harness_error", error=str(exc))
            finally:
                _finish(state, clock)
            if state.interrupted is None and halt.is_set():
                # A signal that lands while the target is torn down still ends the command:
                # recorded here, it makes the run interrupted (exit 130) and stops the batch.
                state.interrupted = halt.interrupted()
                state.halted_by = registration.halt_note()
                timeline.event(
                    "interrupted",
                    signal=state.interrupted.signum,
                    halted_by=state.halted_by,
                    during="teardown",
                )
        return _conclude(state)
    except Exception as exc:  # no error message carries a secret out of a run
        clean = redactor.redact_error(exc)
        if clean is exc:
            raise
        raise clean from None
    finally:
        structlog.contextvars.unbind_contextvars("drill", "run_id")
        try:
            timeline.close()
        finally:
            run_dir.release()
            registration.close()
            if senders is not None:
                senders.close()


def _run_phases(
    state: _Run,
    workdir: Path,
    secrets: RunSecrets,
    view: View | None,
    halt: Halt,
    clock: Callable[[], int],
    sleep: Callable[[float], None],
) -> None:
    drill, timeline = state.drill, state.timeline
    assert timeline is not None
    sandbox = state.sandbox = make_sandbox(
        drill,
        workdir=workdir,
        secrets=secrets,
        run_id=state.run_id,
        log_dir=state.run_dir.staging,
        emit=timeline.event,
        clock=clock,
    )
    for left in sweep_leftovers(sandbox):
        state.swept_resources.append({"kind": left.kind, "name": left.name, "run_id": left.run_id})
        timeline.event(
            "swept_leftover",
            kind=left.kind,
            resource=left.name,
            run_id=left.run_id,
            owner_pid=left.owner_pid,
        )
    timeline.event("sandbox_starting", sandbox=sandbox.name)
    state.target_starting_ns = clock()
    endpoint = sandbox.start(halt)
    state.target_ready_ns = clock()
    timeline.event(
        "target_ready",
        base_url=endpoint.base_url,
        startup_s=(state.target_ready_ns - state.target_starting_ns) / 1e9,
        pid=endpoint.pid,
        port_held_by=list(endpoint.port_held_by),
    )
    _check_halt(halt)
    # In front of the target for the load, and of each control path a rule sits on; the
    # other control paths keep the real address, so a stop is measured on the real service.
    proxies = state.proxies = RunProxies(
        drill, run_id=state.run_id, workdir=workdir, emit=timeline.event, clock=clock
    )
    proxies.start(endpoint.base_url)

    places = {
        "target_dir": drill.target.directory,
        "workdir": str(workdir),
        "secrets_dir": str(workdir / "secrets"),
    }
    backends: dict[str, ControlBackend] = {
        name: build_backend(
            name,
            proxies.routed(name, spec),
            endpoint=endpoint,
            sandbox=sandbox,
            values=secrets.values,
            clock=clock,
            places=places,
        )
        for name, spec in drill.target.control_paths.items()
    }
    hooks: dict[str, ControlBackend] = {
        name: build_hook(
            name,
            hook,
            backends,
            clock,
            proxy=None if hook.rule is None else proxies.proxy_for(hook.rule),
        )
        for name, hook in drill.target.incidents.items()
    }

    detector = HarmDetector(clock)
    state.detector = detector
    load = make_load(
        config=_load_config(drill, proxies.load_base_url(endpoint.base_url), secrets.values),
        log=state.log,
        stderr_path=state.run_dir.staging / "load.stderr.log",
        on_observation=detector,
        clock=clock,
        labels=reaper.labels(state.run_id),
        emit=timeline.event,
        child=_live_load_child(state, clock),
    )
    state.load = load
    load.start()  # adopts the child spawned before the run: it only needs its config now
    state.load_start_ns = clock()
    timeline.event("load_starting", users=drill.load.users)
    try:
        load.wait_ready(timeout_s=30.0)
    except load_process.LoadError as exc:
        raise LoadError(f"load did not start: {exc}") from None
    steps = Steps(
        drill,
        backends=backends,
        hooks=hooks,
        detector=detector,
        log=state.log,
        timeline=timeline,
        notifier=state.notifier,
        run_id=state.run_id,
        base_url=endpoint.base_url,
        started_at=state.started_at,
    )
    state.steps = steps
    t0 = clock()
    steps.start(t0)
    timeline.event("load_ready", t_ns=t0, users=drill.load.users, warm_ns=load.warm_ns)
    if state.load_pool is not None:
        # The next drill's child imports Locust during this drill's steps, not during a
        # target's start or a verdict: those are every drill's overhead.
        state.load_pool.refill()
    _loop(state, steps, detector, load, view, halt, clock, sleep, t0)


def _live_load_child(state: _Run, clock: Callable[[], int]) -> SpawnedLoadChild:
    """The child spawned for this run, or a fresh one with its labels if it died meanwhile."""
    child = state.load_child
    assert child is not None and state.timeline is not None
    if child.alive():
        return child
    child.discard()
    state.load_child = spawn_load_child(
        labels=reaper.labels(state.run_id), clock=clock, source=LoadSource.RESPAWNED
    )
    state.timeline.event(
        "load_spawned",
        pid=state.load_child.pid,
        spawned_ns=state.load_child.spawned_ns,
        source=LoadSource.RESPAWNED.value,
        replaces_pid=child.pid,
        replaced_exit_code=child.proc.returncode,
    )
    return state.load_child


def _loop(
    state: _Run,
    steps: Steps,
    detector: HarmDetector,
    load: Load,
    view: View | None,
    halt: Halt,
    clock: Callable[[], int],
    sleep: Callable[[float], None],
    t0: int,
) -> None:
    drill, timeline = state.drill, state.timeline
    assert timeline is not None
    cap_ns = t0 + drill.max_duration_ns
    hold_ns = drill.hold_ns
    harm_patience_ns = to_ns(drill.deadlines.detect or 5.0) + hold_ns
    detected_logged = False
    next_status = 0
    while True:
        _check_halt(halt)
        now = clock()
        if not detected_logged and detector.detected_ns is not None:
            detected_logged = True
            timeline.event("harm_detected", t_ns=detector.detected_ns)
        health = load.health(now)
        if health.status is LoadStatus.READER_FAILED:  # the harness's fault, not the load's
            raise LoadError(f"the load reader failed: {health.detail}")
        if not health.ok:
            state.load_failed_ns = now
            state.load_failure = f"{health.status.value}: {health.detail}"
            timeline.event("load_failed", state=health.status.value, detail=health.detail)
            break
        steps.tick(now)
        if view is not None and now >= next_status:
            next_status = now + 100_000_000
            view.status(_status(state, steps, load, detector, now, t0))
        if now >= cap_ns:
            timeline.event("max_duration_reached", max_duration_s=drill.max_duration)
            break
        last = steps.last_settled_ns()
        end = steps.end_ns(hold_ns, now)
        if steps.settled() and end is not None and now >= end:
            timeline.event("hold_complete", hold_s=drill.hold)
            break
        if (
            detector.detected_ns is None
            and steps.waiting_only_on_harm()
            and now >= (last or t0) + harm_patience_ns
        ):
            timeline.event("no_harm_detected", waited_s=harm_patience_ns / 1e9)
            break
        sleep(steps.pause_ns(now, to_ns(TICK_S)) / 1e9)
    steps.abandon(clock())


def _status(
    state: _Run, steps: Steps, load: Load, detector: HarmDetector, now: int, t0: int
) -> LiveStatus:
    running = [s.id for s in steps.active]
    done = [s.id for s in steps.states if s.phase in (StepPhase.DONE, StepPhase.FAILED)]
    label = running[0] if running else (f"after {done[-1]}" if done else "baseline")
    ladder = steps.ladder
    if ladder is None:
        stop_state = "not issued"
    elif ladder.held_ns is not None:
        stop_state = f"held (rung {ladder.rung_in_force()})"
    elif ladder.exhausted_ns is not None:
        stop_state = "ladder exhausted"
    elif ladder.effective_ns is not None:
        stop_state = f"in effect, holding ({ladder.current.name} issued last)"
    else:
        stop_state = f"waiting on {ladder.current.name}"
    wait = next((s.operator for s in steps.active if s.operator is not None), None)
    if wait is not None and ladder is None:
        stop_state = "operator acting" if wait.effective_ns is not None else "waiting on operator"
    return LiveStatus(
        elapsed_s=(now - t0) / 1e9,
        step=label,
        requests=len(state.log),
        rate=load.observed_rate(1.0),
        harmful=detector.harmful,
        stop_state=stop_state,
        clock=human_clock_line(steps, now),
    )


def human_clock_line(steps: Steps, now: int) -> str:
    """The wait on a person against its deadline, as the live view shows it ('' if none)."""
    for state in steps.active:
        wait = state.operator
        if wait is None:
            continue
        waited = (now - wait.notified_ns) / 1e9
        if wait.fallback_started_ns is not None:
            return f"operator: {waited:.0f} s; {wait.deadline} deadline MISSED, fallback running"
        if wait.deadline_ns is None:
            return f"operator: waiting {waited:.0f} s (no deadline)"
        left = (wait.deadline_ns - now) / 1e9
        limit = (wait.deadline_ns - wait.notified_ns) / 1e9
        if left < 0:
            return f"operator: {wait.deadline} deadline passed {-left:.0f} s ago"
        return f"operator: {left:.0f} s left of {limit:.0f} s to {wait.deadline}"
    for watch in steps.reversals:
        if watch.settled_ns is not None or watch.held_ns is not None:
            continue
        waited = (now - watch.issued_ns) / 1e9
        if watch.deadline_ns is None:
            return f"complaint via {watch.via}: {waited:.0f} s, no reversal yet"
        left = (watch.deadline_ns - now) / 1e9
        if watch.fallback_started_ns is not None or left < 0:
            return f"complaint via {watch.via}: reversal deadline passed {-left:.0f} s ago"
        return f"complaint via {watch.via}: {left:.0f} s left to reversal"
    return ""


def _finish(state: _Run, clock: Callable[[], int]) -> None:
    """Always: stop the load, tear the target down, collect its logs."""
    timeline = state.timeline
    assert timeline is not None
    if state.load_child is not None:
        state.load_child.discard()  # killed unless a load adopted it (that load is stopped below)
    try:
        if state.load is not None:
            # The observation window ends when the harness decides to stop the load; answers
            # that arrive while the child shuts down are kept but prove nothing beyond it.
            state.load_end_ns = clock()
            with contextlib.suppress(Exception):
                state.load.stop()
            failed = state.load.reader_error  # after the loop, while the stream drained
            if failed is not None and state.error is None and state.interrupted is None:
                state.error = LoadError(f"the load reader failed: {state.load.health().detail}")
                timeline.event("harness_error", error=str(state.error))
            timeline.event(
                "load_stopped", window_end_ns=state.load_end_ns, observations=len(state.log)
            )
    finally:
        try:
            if state.sandbox is not None:
                _teardown(state, timeline)
        finally:
            if state.proxies is not None:
                # After the target's teardown: putting back an external service may clear
                # a proxy's rule, and its log must hold every rule until then.
                state.proxies.close(state.run_dir.staging)
            # What was copied in rather than written through a redacting writer (the load's
            # stderr, container logs, the target's and proxies' event logs); the journal is
            # redacted per event and its hash chain must not change.
            scrub_folder(state.run_dir.staging, state.run_dir.redactor, skip=["timeline.jsonl"])


def _teardown(state: _Run, timeline: Timeline) -> None:
    """Tear the target down first; only then record it (recording may fail, teardown not)."""
    assert state.sandbox is not None
    exited_ns = getattr(state.sandbox, "exited_ns", None)
    if not state.sandbox.owns_target and state.steps is not None:
        # Not ours to end: put back what the drill changed instead (never a kill).
        state.restored = state.steps.restore()
    alive_before = state.sandbox.alive()
    report = state.sandbox.teardown()
    state.teardown = report
    try:
        if state.restored is not None:
            for action in state.restored.actions:
                timeline.event("restore", **action.to_event())
            if state.restored.left:
                timeline.event("restore_incomplete", left=list(state.restored.left))
        timeline.event(
            "teardown",
            way=report.way.value,
            exit_code=report.exit_code,
            target_exited_before_teardown=not alive_before,
            target_exit_seen_ns=exited_ns,
            detail=report.detail,
            leftovers_killed=[k.to_summary() for k in report.leftovers_killed],
        )
    finally:
        with contextlib.suppress(OSError):
            state.sandbox.collect(state.run_dir.staging)


def _facts(state: _Run, events: TargetEvents) -> RunFacts:
    """The run's facts, frozen for the analysis once the target is torn down."""
    swept: list[SweptProcess | SweptResource] = [
        SweptProcess(kind="process", pid=s.pid, run_id=s.run_id, cmdline=s.cmdline[:200])
        for s in state.swept
    ]
    swept += [SweptResource(**r) for r in state.swept_resources]
    halted_by = None
    if state.halted_by is not None:
        # The note is a file anyone with the runtime folder may have written: kept only
        # when it is the shape `govdrill halt` leaves.
        with contextlib.suppress(ValidationError):
            halted_by = HaltNote.model_validate(state.halted_by)
    return RunFacts(
        drill=state.drill,
        run_id=state.run_id,
        zero_ns=state.zero_ns,
        log=state.log,
        steps=state.steps,
        detected_ns=None if state.detector is None else state.detector.detected_ns,
        load_start_ns=state.load_start_ns,
        load_end_ns=state.load_end_ns,
        load_failed_ns=state.load_failed_ns,
        load_failure=state.load_failure,
        teardown=state.teardown,
        restored=state.restored,
        swept=tuple(swept),
        error=None if state.error is None else str(state.error),
        interrupted_by_signal=None if state.interrupted is None else state.interrupted.signum,
        halted_by=halted_by,
        target_events=events,
        target_starting_ns=state.target_starting_ns,
        target_ready_ns=state.target_ready_ns,
        proxies=() if state.proxies is None else state.proxies.evidence,
        load_workers=state.load.clocks if isinstance(state.load, LoadFleet) else (),
        clock_uncertainty_ns=0 if state.load is None else state.load.clock_uncertainty_ns,
    )


def _conclude(state: _Run) -> RunResult:
    drill, timeline, staging = state.drill, state.timeline, state.run_dir.staging
    assert timeline is not None
    facts = _facts(state, read_events(staging / "target.events.jsonl"))
    for act in operator_acts(facts):  # seen only now: the target's log is read after the run
        timeline.event("operator_acted", path=act.path, action=act.action, by=act.by, t_ns=act.t_ns)
    analysis = analyse_run(facts)
    decision = decide_verdict(
        () if analysis is None else analysis.deadlines,
        measured=analysis is not None,
        ground_truth=None if analysis is None else analysis.ground_truth,
        load_failure=facts.load_failure,
        error=facts.error,
        interrupted_by_signal=facts.interrupted_by_signal,
    )
    verdict = decision.verdict
    summary = build_summary(facts, analysis, verdict)
    if state.authorized_by is not None:
        summary = summary.with_changes(authorized_by=state.authorized_by)
    expectation = None
    if drill.expect is not None and verdict in (RunVerdict.PASSED, RunVerdict.FAILED):
        expectation = check_expectation(drill.expect, summary)
        summary = summary.with_changes(expectation=expectation.as_summary())
    timeline.event("verdict", verdict=verdict.value, reasons=list(decision.reasons))
    state.run_dir.write_observations(state.log, state.zero_ns)
    write_json(staging / "summary.json", summary.document())
    # The verdict is final. The artefacts below read the run's own files, as `govdrill
    # report` does; one that fails is recorded and the run sealed all the same.
    name = state.run_dir.name
    failures = [
        failure
        for failure in (
            attempt(
                "junit.xml",
                lambda: write_atomic(
                    staging / "junit.xml", junit_xml([RunRecord.read(staging, name)])
                ),
            ),
            attempt(
                REPORT,
                lambda: write_report(
                    staging,
                    observations=Observations.from_log(state.log, state.zero_ns),
                    template_dir=state.report_template,
                ),
            ),
        )
        if failure is not None
    ]
    for failure in failures:
        timeline.event("artefact_failed", **failure.to_summary())
    if failures:
        summary = summary.with_changes(
            artefact_errors=[
                ArtefactFailure(artefact=f.artefact, error=f.error, where=f.where) for f in failures
            ]
        )
        write_json(staging / "summary.json", summary.document())
    timeline.close()
    seal_run(staging, run_name=name, signer=state.signer)
    timestamp_error = ""
    if state.tsa_url is not None:
        # Before the rename: the run appears with its token, or visibly without one.
        try:
            stamp_attestation(staging, state.tsa_url)
        except EvidenceError as exc:
            timestamp_error = str(exc)
    run_path = state.run_dir.seal()
    return RunResult(
        drill=drill.drill,
        run_id=state.run_id,
        verdict=verdict,
        run_dir=run_path,
        summary=read_summary(run_path),  # as sealed: redacted, as every reader sees it
        expectation=expectation,
        message=str(state.error) if state.error else "",
        timestamp_error=timestamp_error,
    )


def _check_halt(halt: Halt) -> None:
    halt.raise_if_set()


def _drill_as_run(drill: Drill) -> bytes:
    data = drill.model_dump(mode="json", by_alias=True, exclude_none=True)
    data["target"].pop("directory", None)
    header = "# The drill as run: target resolved, overrides applied; ${...} left unresolved.\n"
    return (header + yaml.safe_dump(data, sort_keys=False, allow_unicode=True)).encode()


def _load_config(drill: Drill, base_url: str, secrets: Mapping[str, str]) -> LoadConfig:
    request = drill.load.request
    headers = {k: resolve_refs(v, secrets) for k, v in request.headers.items()}
    return LoadConfig(
        base_url=base_url,
        users=drill.load.users,
        spawn_rate=drill.load.spawn_rate or float(drill.load.users),
        # validated again: a resolved secret must still be a valid header value
        request=RequestSpec.model_validate({**request.model_dump(), "headers": headers}),
        parent_pid=os.getpid(),
        timeout_s=drill.load.timeout,
        per_user_rate=drill.load.per_user_rate,
        harm=tuple(drill.harm),
        safe_state=drill.safe_state,
        version=drill.target.version_source,
        max_body=int(drill.load.max_body),
        stream=drill.load.stream,
        workers=drill.load.workers,
    )
