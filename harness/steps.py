"""The drill's steps as a state machine: triggers fire actions, a stop climbs its ladder.

The engine calls ``Steps.tick(now)`` every few milliseconds; each tick checks triggers, starts
control calls (on their own threads, bounded by their timeouts), collects their results and
moves the stop ladder on when a rung has not taken effect within its grace. Everything that
happens is recorded on the timeline with its monotonic instant.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field

from harness.control import (
    CallOutcome,
    ControlBackend,
    ControlResult,
    HttpAnswer,
    HttpBackend,
    PendingCall,
)
from harness.evidence import StatusProbe, snapshot_before_rollback
from harness.observations import ObservationLog
from harness.restore import Restored, RestorePlan, perform_restore
from harness.spec.durations import to_ns
from harness.spec.models import Action, Drill, Step, Trigger
from harness.timeline import Timeline
from harness.watch import HarmDetector, TransitionWatcher

__all__ = ["Ladder", "RungRecord", "StepPhase", "StepState", "Steps"]


class StepPhase(enum.StrEnum):
    """Where one step is."""

    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    NOT_FIRED = "not_fired"


@dataclass(slots=True)
class RungRecord:
    """One rung of a stop ladder as it was climbed."""

    name: str
    issued_ns: int
    call: PendingCall
    result: ControlResult | None = None


@dataclass(slots=True)
class StepState:
    """One step's progress."""

    id: str
    step: Step
    phase: StepPhase = StepPhase.PENDING
    fired_ns: int | None = None
    settled_ns: int | None = None
    call: PendingCall | None = None
    result: ControlResult | None = None
    ladder: Ladder | None = None
    detail: str = ""


@dataclass(slots=True)
class Ladder:
    """An escalation ladder: try each rung until the stop has taken effect and held.

    A rung is given up on ``grace`` after it was issued when the stop is not in effect then
    (at once when it failed and ``escalate_on_failure``); when the stop is in effect but has
    not held, a further ``grace`` after the hold could have completed. The last rung given up
    on exhausts the ladder. Only a stop that held names the rung that did it.
    """

    rungs: list[tuple[str, ControlBackend]]
    grace_ns: int
    log: ObservationLog
    timeline: Timeline
    hold_ns: int = 0
    escalate_on_failure: bool = True
    climbed: list[RungRecord] = field(default_factory=list)
    effective_ns: int | None = None
    """When the stop was first seen in effect (not yet held); None while it is not."""
    held_ns: int | None = None
    """When the stop had held for the hold, by the analysis's own definition."""
    exhausted_ns: int | None = None
    announced: bool = False
    watcher: TransitionWatcher = field(init=False)
    """Created when the first rung is issued: the stop counts from that instant."""

    def issue_next(self) -> None:
        """Issue the next rung's stop."""
        name, backend = self.rungs[len(self.climbed)]
        call = backend.call(Action.STOP)
        self.climbed.append(RungRecord(name, call.issued_ns, call))
        if len(self.climbed) == 1:
            self.watcher = TransitionWatcher(self.log, call.issued_ns, hold_ns=self.hold_ns)
        self.timeline.event(
            "stop_rung_issued", t_ns=call.issued_ns, rung=name, index=len(self.climbed) - 1
        )

    @property
    def current(self) -> RungRecord:
        """The rung issued last."""
        return self.climbed[-1]

    @property
    def can_acknowledge(self) -> bool:
        """Whether any rung of the ladder can answer (a signal cannot)."""
        return any(backend.acknowledges for _name, backend in self.rungs)

    @property
    def first_ack_ns(self) -> int | None:
        """When a rung first acknowledged the stop (a delivered signal is no acknowledgement)."""
        backends = dict(self.rungs)
        acks = [
            r.result.returned_ns
            for r in self.climbed
            if r.result is not None
            and r.result.outcome is CallOutcome.ACKED
            and backends[r.name].acknowledges
        ]
        return min(acks) if acks else None

    def rung_in_force(self) -> str | None:
        """The last rung issued before the gate had certainly closed, as the analysis names
        ``rung_used``; None until the stop has held."""
        upper = self.watcher.tracker.upper_ns
        if self.held_ns is None or upper is None:
            return None
        before = [r for r in self.climbed if r.issued_ns < upper]
        return max(before, key=lambda r: r.issued_ns).name if before else None

    def collect(self, *, wait: bool = False) -> None:
        """Record rungs whose calls have returned (with ``wait``, each within its timeout)."""
        for rung in self.climbed:
            if rung.result is None:
                rung.result = rung.call.result() if wait else rung.call.poll()
                if rung.result is not None:
                    self.timeline.event(
                        "stop_rung_returned",
                        t_ns=rung.result.returned_ns,
                        rung=rung.name,
                        outcome=rung.result.outcome.value,
                        detail=rung.result.detail,
                    )

    def check_held(self, now: int) -> bool:
        """Whether the stop has held; records it the first time (also after exhaustion)."""
        if self.held_ns is not None:
            return True
        if not self.watcher.held(now):
            return False
        self.held_ns = now
        self.timeline.event(
            "stop_confirmed",
            rung=self.rung_in_force(),
            held_s=self.hold_ns / 1e9,
            effective_t_ns=self.watcher.tracker.upper_ns,
        )
        return True

    def tick(self, now: int) -> bool:
        """Advance; True once the ladder is settled (held or exhausted)."""
        self.collect()
        if self.held_ns is not None or self.exhausted_ns is not None:
            return True
        if self.check_held(now):
            return True
        upper = self.watcher.tracker.upper_ns
        if upper is not None and self.effective_ns is None:
            self.effective_ns = now
            if not self.announced:  # once: a stop that flaps would fill the output
                self.announced = True
                self.timeline.event("stop_effective_seen", holding_s=self.hold_ns / 1e9)
        elif upper is None:
            self.effective_ns = None
        current = self.current
        if upper is not None:
            give_up = now >= max(current.issued_ns, upper + self.hold_ns) + self.grace_ns
            why = "in effect but did not hold"
        else:
            failed = (
                self.escalate_on_failure
                and current.result is not None
                and current.result.outcome is not CallOutcome.ACKED
            )
            give_up = failed or now - current.issued_ns >= self.grace_ns
            why = "rung failed" if failed else "not effective within grace"
        if not give_up:
            return False
        if len(self.climbed) < len(self.rungs):
            self.timeline.event("stop_escalated", from_rung=current.name, why=why)
            self.issue_next()
            return False
        if upper is None and now - current.issued_ns < self.grace_ns:
            return False  # the last rung failed at once: it still gets its grace
        self.exhausted_ns = now
        self.timeline.event("stop_ladder_exhausted", rungs=len(self.climbed), why=why)
        return True


class Steps:
    """Fires the drill's steps on their triggers."""

    def __init__(
        self,
        drill: Drill,
        *,
        backends: Mapping[str, ControlBackend],
        hooks: Mapping[str, ControlBackend],
        detector: HarmDetector,
        log: ObservationLog,
        timeline: Timeline,
    ) -> None:
        self._drill = drill
        self._backends = backends
        self._hooks = hooks
        self._detector = detector
        self._log = log
        self._timeline = timeline
        self.states = [StepState(i, s) for i, s in zip(drill.step_ids(), drill.steps, strict=True)]
        self._by_id = {s.id: s for s in self.states}
        self.t0_ns: int | None = None
        self._hold_ns = drill.hold_ns
        self.stopped_ns: int | None = None
        """When the stop had held for the drill's hold: ``after: stopped`` fires then."""
        self.ladder: Ladder | None = None
        self.rollbacks: list[TransitionWatcher] = []
        """One watcher per rollback issued: when every answer came from the new version."""
        self.failed_injects: list[StepState] = []
        """Inject steps whose call failed: the incident the drill tests never happened."""
        self._undone: set[str] = set()
        """Incidents switched off since the drill ended (acknowledged by the target)."""

    # ------------------------------------------------------------------ queries

    @property
    def active(self) -> list[StepState]:
        """Steps that are running now."""
        return [s for s in self.states if s.phase is StepPhase.RUNNING]

    def settled(self) -> bool:
        """True when nothing runs and nothing more can fire."""
        return not self.active and not any(
            s.phase is StepPhase.PENDING and self._can_still_fire(s) for s in self.states
        )

    def last_settled_ns(self) -> int | None:
        """The latest instant a step settled."""
        times = [s.settled_ns for s in self.states if s.settled_ns is not None]
        return max(times) if times else None

    def end_ns(self, hold_ns: int, now: int) -> int | None:
        """When the drill may end: the hold after the last step settled and, for each
        rollback, until it has held; one that has not held by then is watched until its
        deadline has passed by a hold (so the analysis can prove it missed), or, with no
        deadline, until it could have held once in effect."""
        last = self.last_settled_ns()
        if last is None:
            return None
        end = last + hold_ns
        limit = self._drill.deadlines.rollback
        for watcher in self.rollbacks:
            if watcher.held(now):
                assert watcher.held_ns is not None
                end = max(end, watcher.held_ns)
            elif limit is not None:
                end = max(end, watcher.tracker.issued_ns + to_ns(limit) + hold_ns)
            elif (upper := watcher.tracker.upper_ns) is not None:
                end = max(end, upper + hold_ns)
        return end

    def waiting_only_on_harm(self) -> bool:
        """Whether nothing runs, no timed step is due later, and some step still waits for
        harm to be detected (if harm never comes, nothing more will happen)."""
        pending = [s.step.trigger for s in self.states if s.phase is StepPhase.PENDING]
        return not self.active and Trigger.AT not in pending and Trigger.HARM_DETECTED in pending

    def _can_still_fire(self, state: StepState) -> bool:
        trigger = state.step.trigger
        if trigger is Trigger.STOPPED:
            return self.ladder is None or self.ladder.exhausted_ns is None
        if trigger is Trigger.AFTER_STEP:
            other = self._by_id[str(state.step.after)]
            if other.phase in (StepPhase.FAILED, StepPhase.NOT_FIRED):
                return False
            return other.phase is not StepPhase.PENDING or self._can_still_fire(other)
        return True

    # ------------------------------------------------------------------ ticking

    def start(self, t0_ns: int) -> None:
        """Start the step clock (``at`` times count from here)."""
        self.t0_ns = t0_ns

    def tick(self, now: int) -> None:
        """Fire what is due and collect what has returned."""
        self._confirm_stop(now)
        for state in self.states:
            if state.ladder is not None and state.phase is not StepPhase.RUNNING:
                state.ladder.collect()  # calls still in flight after the stop took effect
        for state in self.states:
            if state.phase is StepPhase.PENDING and self._due(state, now):
                self._fire(state, now)
            if state.phase is StepPhase.RUNNING:
                self._progress(state, now)

    def _confirm_stop(self, now: int) -> None:
        """``after: stopped`` waits until the stop has held for the drill's hold, as the
        final analysis defines it (also after the ladder was exhausted, until the end)."""
        ladder = self.ladder
        if self.stopped_ns is not None or ladder is None:
            return
        if ladder.check_held(now):
            self.stopped_ns = now

    def undo_incidents(self) -> None:
        """Switch off every incident this drill switched on and did not clear (on an
        interrupted or failed run: stop injecting before leaving). Bounded by each hook's
        timeout; what cannot be undone is recorded."""
        injected = [
            s.step.inject
            for s in self.states
            if s.step.inject is not None and s.phase in (StepPhase.RUNNING, StepPhase.DONE)
        ]
        cleared = {s.step.clear for s in self.states if s.phase is StepPhase.DONE}
        for name in dict.fromkeys(n for n in injected if n is not None and n not in cleared):
            if self._drill.target.incidents[name].disable is None:
                self._timeline.event("incident_not_undone", incident=name, why="no disable call")
                continue
            result = self._hooks[name].call(Action.CLEAR).result()
            if result.outcome is CallOutcome.ACKED:
                self._undone.add(name)
            self._timeline.event(
                "incident_undone",
                incident=name,
                outcome=result.outcome.value,
                detail=result.detail,
                t_ns=result.returned_ns,
            )

    def restore_plan(self) -> RestorePlan:
        """What the drill changed and left changed: incidents fired and not cleared after (nor
        undone since), and the last stop's rungs when no resume succeeded after it."""
        fired = sorted(
            (s for s in self.states if s.fired_ns is not None), key=lambda s: s.fired_ns or 0
        )
        on: dict[str, None] = {}
        for state in fired:
            if state.step.inject is not None:
                on[state.step.inject] = None
            elif state.step.clear is not None and state.phase is StepPhase.DONE:
                on.pop(state.step.clear, None)
        ladders = [s.ladder for s in fired if s.ladder is not None and s.ladder.climbed]
        stopped_via: tuple[str, ...] = ()
        if ladders:
            last = ladders[-1]
            last_ns = last.current.issued_ns
            resumed = any(
                s.step.resume is not None
                and s.phase is StepPhase.DONE
                and (s.fired_ns or 0) >= last_ns
                for s in fired
            )
            if not resumed:
                stopped_via = tuple(r.name for r in last.climbed)
        return RestorePlan(
            incidents_on=tuple(n for n in on if n not in self._undone), stopped_via=stopped_via
        )

    def restore(self) -> Restored:
        """Put back what the drill changed (for a service the harness does not own): clear
        its incidents, resume its stop; each action bounded by its path's timeout."""
        return perform_restore(
            self.restore_plan(),
            target=self._drill.target,
            backends=self._backends,
            hooks=self._hooks,
        )

    def abandon(self, now: int) -> None:
        """Mark what never fired and collect calls still in flight (the drill is ending)."""
        for state in self.states:
            if state.ladder is not None:
                state.ladder.collect(wait=True)
            if state.phase is StepPhase.PENDING:
                state.phase = StepPhase.NOT_FIRED
                self._timeline.event("step_not_fired", step=state.id)
            elif state.phase is StepPhase.RUNNING:
                self._progress(state, now)

    def _due(self, state: StepState, now: int) -> bool:
        step = state.step
        delay = step.delay_ns
        trigger = step.trigger
        if trigger is Trigger.AT:
            assert self.t0_ns is not None and step.at_ns is not None
            since: int | None = self.t0_ns + step.at_ns
        elif trigger is Trigger.HARM_DETECTED:
            since = self._detector.detected_ns
        elif trigger is Trigger.STOPPED:
            since = self.stopped_ns
        else:
            other = self._by_id[str(step.after)]
            since = other.settled_ns if other.phase is StepPhase.DONE else None
        return since is not None and now >= since + delay

    def _fire(self, state: StepState, now: int) -> None:
        step = state.step
        action = step.action
        state.phase = StepPhase.RUNNING
        state.fired_ns = now
        self._timeline.event("step_fired", step=state.id, action=action.value, t_ns=now)
        if action is Action.STOP:
            assert step.stop is not None
            rungs = [(name, self._backends[name]) for name in step.stop]
            ladder = Ladder(
                rungs,
                step.grace_ns,
                self._log,
                self._timeline,
                hold_ns=self._hold_ns,
                escalate_on_failure=step.escalate == "on_failure",
            )
            ladder.issue_next()
            state.ladder = ladder
            if self.ladder is None:
                self.ladder = ladder
            return
        if action in (Action.INJECT, Action.CLEAR):
            name = step.inject if action is Action.INJECT else step.clear
            assert name is not None
            state.call = self._hooks[name].call(action, step.params)
        elif action is Action.ROLLBACK:
            assert step.rollback is not None
            via = step.rollback["via"]
            self._snapshot_before_rollback(via)  # a rollback must not destroy evidence
            state.call = self._backends[via].call(
                Action.ROLLBACK, {**step.params, "to": step.rollback["to"]}
            )
            self._timeline.event("rollback_issued", t_ns=state.call.issued_ns, via=via)
            self.rollbacks.append(
                TransitionWatcher(
                    self._log,
                    state.call.issued_ns,
                    hold_ns=self._hold_ns,
                    version=step.rollback["to"],
                )
            )
        else:
            assert step.resume is not None
            state.call = self._backends[step.resume].call(Action.RESUME, step.params)

    def _snapshot_before_rollback(self, via: str) -> None:
        backend = self._backends[via]
        http = self._drill.target.control_paths[via].http
        probe: StatusProbe | None = None
        if isinstance(backend, HttpBackend) and http is not None and http.status is not None:
            status_call = http.status

            def probe() -> HttpAnswer:
                return backend.request(status_call, None, keep_chars=65536)

        snapshot_before_rollback(
            timeline=self._timeline,
            log=self._log,
            via=via,
            status=probe,
            timeout_s=backend.timeout_s,
        )

    def _progress(self, state: StepState, now: int) -> None:
        if state.ladder is not None:
            if state.ladder.tick(now):
                upper = state.ladder.watcher.tracker.upper_ns
                if state.ladder.held_ns is not None and upper is not None:
                    # Settled when it took effect: the hold after it has already passed.
                    state.settled_ns = min(now, upper)
                    state.phase = StepPhase.DONE
                else:
                    state.settled_ns = now
                    state.phase = StepPhase.FAILED
                    state.detail = "the stop ladder was exhausted without the stop holding"
            return
        assert state.call is not None
        result = state.call.poll()
        if result is None:
            return
        state.result = result
        state.settled_ns = result.returned_ns
        state.phase = StepPhase.DONE if result.outcome is CallOutcome.ACKED else StepPhase.FAILED
        state.detail = result.detail
        self._timeline.event(
            "step_returned",
            step=state.id,
            action=state.step.action.value,
            t_ns=result.returned_ns,
            outcome=result.outcome.value,
            detail=result.detail,
        )
        if state.step.action is Action.INJECT and state.phase is StepPhase.FAILED:
            self.failed_injects.append(state)
            self._timeline.event(
                "incident_not_injected",
                step=state.id,
                incident=state.step.inject,
                outcome=result.outcome.value,
                detail=result.detail,
                t_ns=result.returned_ns,
            )
