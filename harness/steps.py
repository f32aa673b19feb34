"""The drill's steps as a state machine: triggers fire actions, a stop climbs its ladder.

The engine calls ``Steps.tick(now)`` every few milliseconds; each tick checks triggers, starts
control calls (on their own threads, bounded by their timeouts), collects their results and
moves the stop ladder on when a rung has not taken effect within its grace. Everything that
happens is recorded on the timeline with its monotonic instant.
"""

from __future__ import annotations

import datetime as _dt
import enum
import threading
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
from harness.operator import (
    Alert,
    NoNotifier,
    Notifier,
    NotifyOutcome,
    NotifyResult,
    PromptAnswer,
)
from harness.restore import Restored, RestorePlan, perform_restore
from harness.spec.durations import to_ns
from harness.spec.models import Action, Drill, OperatorStop, Step, Trigger
from harness.timeline import Timeline
from harness.watch import HarmDetector, TransitionWatcher

__all__ = [
    "IDLE_TICK_NS",
    "Ladder",
    "OperatorWait",
    "ReversalWatch",
    "RungRecord",
    "StepPhase",
    "StepState",
    "Steps",
]

IDLE_TICK_NS = 250_000_000
"""How often the steps want a tick while they only wait on a person (an operator stop, a
complaint's reversal) and no control call is in flight: a wait of hours costs a few ticks a
second, not two hundred. Every figure in the evidence comes from observations, never from
when a tick ran."""


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
    operator: OperatorWait | None = None
    """An operator stop's wait, when this step hands the stop to a person."""
    reversal: ReversalWatch | None = None
    """A contest's watch for harm to end, once its complaint was filed."""
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

    def climb_now(self) -> None:
        """Climb the rungs left at once, each call awaited (bounded by its timeout), until one
        acknowledges: the drill is ending and must not leave harm running."""
        while len(self.climbed) < len(self.rungs):
            self.issue_next()
            self.collect(wait=True)
            result = self.current.result
            if result is not None and result.outcome is CallOutcome.ACKED:
                return

    @property
    def climbing(self) -> bool:
        """Whether rungs were issued and the ladder has not settled."""
        return bool(self.climbed) and self.held_ns is None and self.exhausted_ns is None


def _climb_on_halt(ladder: Ladder, timeline: Timeline, now: int, started_ns: int | None) -> int:
    """Climb a fallback at once because the drill is interrupted, recording its start unless
    it had already started; return when it started."""
    if started_ns is None:
        started_ns = now
        timeline.event(
            "fallback_started",
            t_ns=now,
            deadline=None,
            why="interrupted",
            ladder=[name for name, _backend in ladder.rungs],
        )
    ladder.climb_now()
    return started_ns


def _start_fallback(ladder: Ladder, timeline: Timeline, now: int, *, deadline: str) -> None:
    """Record the fallback, then issue its first rung: the deadline was missed."""
    timeline.event(
        "fallback_started",
        t_ns=now,
        deadline=deadline,
        ladder=[name for name, _backend in ladder.rungs],
    )
    ladder.issue_next()


@dataclass(slots=True)
class OperatorWait:
    """A stop handed to a person: notified, then watched until it has held.

    The harness calls no stop. Its watcher counts from the notification (the stop's clock);
    when the ``fallback_after`` deadline passes with the stop neither held nor in effect
    (or in effect but not held a grace after the hold could have completed), the fallback
    ladder is climbed and ``fallback_started`` recorded. With no fallback, the wait gives up
    a hold after the deadline (long enough for the analysis to prove it missed).
    """

    spec: OperatorStop
    notified_ns: int
    deadline: str
    deadline_ns: int | None
    watcher: TransitionWatcher
    fallback: Ladder
    timeline: Timeline
    hold_ns: int
    grace_ns: int
    results: list[NotifyResult] = field(default_factory=list)
    answers: list[PromptAnswer] = field(default_factory=list)
    fallback_started_ns: int | None = None
    held_ns: int | None = None
    effective_ns: int | None = None
    exhausted_ns: int | None = None
    announced: bool = False
    _inbox: list[NotifyResult | PromptAnswer] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _sender: threading.Thread | None = None

    def send(self, notifier: Notifier, alert: Alert) -> None:
        """Notify on a thread of its own: a slow webhook never holds the steps up."""
        names = list(self.spec.notify)

        def run() -> None:
            try:
                results = notifier.notify(names, alert)
            except Exception as exc:  # a notifier must not raise; if it does, say so
                now = alert.notified_ns
                detail = f"{type(exc).__name__}: {exc}"[:200]
                results = [NotifyResult(n, NotifyOutcome.FAILED, detail, now, now) for n in names]
            with self._lock:
                self._inbox.extend(results)

        if names:
            self._sender = threading.Thread(target=run, name="operator-notify", daemon=True)
            self._sender.start()

    def answered(self, answer: PromptAnswer) -> None:
        """A person answered a prompt (called from the prompt's thread)."""
        with self._lock:
            self._inbox.append(answer)

    def drain(self, *, wait: bool = False) -> None:
        """Record what the notifiers and prompts reported since the last tick."""
        if wait and self._sender is not None:
            self._sender.join(timeout=10.0)
        with self._lock:
            inbox, self._inbox = self._inbox, []
        for item in inbox:
            if isinstance(item, PromptAnswer):
                self.answers.append(item)
                self.timeline.event("operator_prompt_answer", who=item.who, t_ns=item.t_ns)
            else:
                self.results.append(item)
                self.timeline.event(
                    "operator_notified",
                    notifier=item.notifier,
                    outcome=item.outcome.value,
                    detail=item.detail,
                    t_ns=item.sent_ns,
                    returned_ns=item.returned_ns,
                )

    def check_held(self, now: int) -> bool:
        """Whether the stop has held (sticky), whoever did it."""
        if self.held_ns is not None:
            return True
        if not self.watcher.held(now):
            return False
        self.held_ns = now
        self.timeline.event(
            "stop_confirmed",
            rung=self.fallback.rung_in_force() if self.fallback.climbed else None,
            by="fallback" if self.fallback_started_ns is not None else "operator",
            held_s=self.hold_ns / 1e9,
            effective_t_ns=self.watcher.tracker.upper_ns,
        )
        return True

    @property
    def climbing(self) -> bool:
        """Whether the fallback ladder is being climbed now (calls and graces need ticks)."""
        return self.fallback.climbing and self.held_ns is None

    def due_ns(self) -> int | None:
        """The next instant this wait must look again without a new observation."""
        if self.held_ns is not None or self.exhausted_ns is not None:
            return None
        if self.deadline_ns is None:
            return None
        upper = self.watcher.tracker.upper_ns
        due = self.deadline_ns
        if upper is not None:
            due = max(due, upper + self.hold_ns + self.grace_ns)
        return due

    def tick(self, now: int) -> bool:
        """Advance; True once settled (held, fallback exhausted, or given up)."""
        self.drain()
        if self.exhausted_ns is not None:
            return True
        if self.check_held(now):
            return True
        if self.fallback_started_ns is not None:
            if self.fallback.tick(now):
                if self.check_held(now):
                    return True
                self.exhausted_ns = now
                return True
            return False
        upper = self.watcher.tracker.upper_ns
        if upper is not None and not self.announced:
            self.announced = True
            self.timeline.event("stop_effective_seen", holding_s=self.hold_ns / 1e9, by="operator")
        self.effective_ns = None if upper is None else (self.effective_ns or now)
        if self.deadline_ns is None or now < self.deadline_ns:
            return False
        if upper is not None and now < upper + self.hold_ns + self.grace_ns:
            return False  # in effect: it gets its hold before the harness steps in
        if self.fallback.rungs:
            self.fallback_started_ns = now
            _start_fallback(self.fallback, self.timeline, now, deadline=self.deadline)
            return False
        if now >= self.deadline_ns + self.hold_ns:
            self.exhausted_ns = now
            self.timeline.event("operator_deadline_passed", deadline=self.deadline, t_ns=now)
            return True
        return False

    def fallback_on_halt(self, now: int) -> None:
        """The drill is being interrupted during the wait: climb the fallback at once."""
        if self.held_ns is not None or not self.fallback.rungs:
            return
        self.fallback_started_ns = _climb_on_halt(
            self.fallback, self.timeline, now, self.fallback_started_ns
        )


@dataclass(slots=True)
class ReversalWatch:
    """A complaint filed, watched until harm-free answers hold (the reversal), with the
    fallback ladder climbed when the ``reversal`` deadline passes first."""

    via: str
    issued_ns: int
    deadline_ns: int | None
    watcher: TransitionWatcher
    fallback: Ladder
    timeline: Timeline
    hold_ns: int
    grace_ns: int
    fallback_started_ns: int | None = None
    settled_ns: int | None = None
    deadline: str = "reversal"
    """The deadline this watch works against."""

    @property
    def held_ns(self) -> int | None:
        """When harm-free answers had held, once they have."""
        return self.watcher.held_ns

    @property
    def climbing(self) -> bool:
        """Whether the fallback ladder is being climbed now (until it has settled too)."""
        return self.fallback.climbing

    def due_ns(self) -> int | None:
        """The next instant this watch must look again without a new observation."""
        if self.settled_ns is not None or self.deadline_ns is None:
            return None
        upper = self.watcher.tracker.upper_ns
        if upper is not None:
            return max(self.deadline_ns, upper + self.hold_ns + self.grace_ns)
        return self.deadline_ns

    def tick(self, now: int, *, fallen_back: bool = False) -> None:
        """Check the reversal; climb the fallback when its deadline passed without one.
        ``fallen_back``: another complaint's fallback was climbed, so a reversal now is its
        work, not this complaint's."""
        if self.fallback.climbing:
            self.fallback.tick(now)
        elif self.fallback.climbed:
            self.fallback.collect()
        if self.settled_ns is not None:
            return
        if self.watcher.held(now):
            self.settled_ns = now
            self.timeline.event(
                "reversal_confirmed",
                via=self.via,
                effective_t_ns=self.watcher.tracker.upper_ns,
                by="fallback"
                if self.fallback_started_ns is not None or fallen_back
                else "complaint",
            )
            return
        if self.fallback_started_ns is not None:
            if not self.fallback.climbing:
                self.settled_ns = now
            return
        if self.deadline_ns is None or now < self.deadline_ns:
            return
        upper = self.watcher.tracker.upper_ns
        if upper is not None and now < upper + self.hold_ns + self.grace_ns:
            return
        if self.fallback.rungs:
            self.fallback_started_ns = now
            _start_fallback(self.fallback, self.timeline, now, deadline="reversal")
        elif now >= self.deadline_ns + self.hold_ns:
            self.settled_ns = now

    def fallback_on_halt(self, now: int) -> None:
        """The drill is being interrupted: climb the fallback at once, unless harm ended."""
        if self.watcher.held_ns is not None or not self.fallback.rungs:
            return
        self.fallback_started_ns = _climb_on_halt(
            self.fallback, self.timeline, now, self.fallback_started_ns
        )


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
        notifier: Notifier | None = None,
        run_id: str = "",
        base_url: str = "",
        started_at: str = "",
    ) -> None:
        self._drill = drill
        self._notifier = notifier
        self._alerting = (run_id, base_url, started_at)
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
        """The first stop ladder the harness climbed (its own, or a fallback)."""
        self.stop_watch: Ladder | OperatorWait | None = None
        """The drill's first stop, whoever performs it: ``after: stopped`` waits on it."""
        self.operator: OperatorWait | None = None
        """The first operator stop, when the first stop was handed to a person."""
        self.reversals: list[ReversalWatch] = []
        """One watch per complaint filed: until harm-free answers held."""
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
        """True when nothing runs, no fallback is being climbed and nothing more can fire."""
        return (
            not self.active
            and not any(r.climbing for r in self.reversals)
            and not any(
                s.phase is StepPhase.PENDING and self._can_still_fire(s) for s in self.states
            )
        )

    def pause_ns(self, now: int, busy_ns: int) -> int:
        """How long the engine may sleep before the next tick: ``busy_ns`` (its fast tick)
        unless the steps only wait on a person, with no control call in flight and no ladder
        climbing; then until the next due instant, at most :data:`IDLE_TICK_NS`."""
        waiting: list[OperatorWait | ReversalWatch] = [
            s.operator for s in self.active if s.operator is not None
        ]
        waiting += [r for r in self.reversals if r.settled_ns is None]
        others = [s for s in self.active if s.operator is None]
        if not waiting or others or any(w.climbing for w in waiting):
            return busy_ns
        if self.ladder is not None and self.ladder.climbing:
            return busy_ns
        due = [d for d in (w.due_ns() for w in waiting) if d is not None]
        if self.t0_ns is not None:
            for state in self.states:
                at = state.step.at_ns
                if state.phase is StepPhase.PENDING and at is not None:
                    due.append(self.t0_ns + at + state.step.delay_ns)
        if self._detector.detected_ns is None and any(
            s.phase is StepPhase.PENDING and s.step.trigger is Trigger.HARM_DETECTED
            for s in self.states
        ):
            return busy_ns  # a stop waiting for harm is issued on the tick that sees it
        wake = min(due, default=now + IDLE_TICK_NS)
        return max(busy_ns, min(IDLE_TICK_NS, wake - now))

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
        for watch in self.reversals:
            end = max(end, self._reversal_end(watch, hold_ns, now))
        deadlines = self._drill.deadlines
        for watcher in self.rollbacks:
            end = max(end, _watch_end(watcher, deadlines.rollback, hold_ns, now))
        ladder = self.ladder
        if ladder is not None and ladder.held_ns is None and ladder.exhausted_ns is not None:
            # A ladder given up on may still take effect later (streams admitted before the
            # stop keep its users busy past the grace): the analysis needs the hold after it.
            end = max(end, _watch_end(ladder.watcher, deadlines.stop, hold_ns, now))
        return end

    def _reversal_end(self, watch: ReversalWatch, hold_ns: int, now: int) -> int:
        """When a complaint's watch lets the drill end: once harm-free answers held; after a
        fallback settled, a hold later; else its deadline passed by a hold and the fallback's
        graces (so the analysis can prove a reversal that never came missed)."""
        if watch.held_ns is not None:
            return watch.held_ns
        if watch.fallback_started_ns is not None:
            return now + 1 if watch.settled_ns is None else watch.settled_ns + hold_ns
        if watch.deadline_ns is not None:
            rungs = len(watch.fallback.rungs)
            return watch.deadline_ns + hold_ns + (watch.grace_ns * (rungs + 1) if rungs else 0)
        upper = watch.watcher.tracker.upper_ns
        return watch.issued_ns if upper is None else upper + hold_ns

    def waiting_only_on_harm(self) -> bool:
        """Whether nothing runs, no timed step is due later, and some step still waits for
        harm to be detected (if harm never comes, nothing more will happen)."""
        pending = [s.step.trigger for s in self.states if s.phase is StepPhase.PENDING]
        return not self.active and Trigger.AT not in pending and Trigger.HARM_DETECTED in pending

    def _can_still_fire(self, state: StepState) -> bool:
        trigger = state.step.trigger
        if trigger is Trigger.STOPPED:
            return self.stop_watch is None or self.stop_watch.exhausted_ns is None
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
        fallen_back = any(w.fallback_started_ns is not None for w in self.reversals)
        for watch in self.reversals:
            watch.tick(now, fallen_back=fallen_back)
            if watch.fallback.climbed and self.ladder is None:
                self.ladder = watch.fallback

    def _confirm_stop(self, now: int) -> None:
        """``after: stopped`` waits until the stop has held for the drill's hold, as the
        final analysis defines it (also after the ladder was exhausted, until the end)."""
        watch = self.stop_watch
        if self.stopped_ns is not None or watch is None:
            return
        if watch.check_held(now):
            self.stopped_ns = now

    def fallback_on_halt(self, now: int) -> None:
        """The drill is being interrupted: every wait on a person that has a fallback and no
        held stop climbs it at once (each call bounded by its timeout), so an interrupted drill
        never leaves harm running on the harness's word that someone would stop it."""
        for state in self.states:
            if state.operator is not None and state.phase is StepPhase.RUNNING:
                state.operator.fallback_on_halt(now)
                if state.operator.fallback.climbed and self.ladder is None:
                    self.ladder = state.operator.fallback  # its rungs go into the evidence
        for watch in self.reversals:
            if watch.settled_ns is None:
                watch.fallback_on_halt(now)
                if watch.fallback.climbed and self.ladder is None:
                    self.ladder = watch.fallback

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
            if not self._drill.target.incidents[name].clearable:
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
        ladders = [
            ladder
            for ladder in (self._ladder_of(s) for s in fired)
            if ladder is not None and ladder.climbed
        ]
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

    @staticmethod
    def _ladder_of(state: StepState) -> Ladder | None:
        """The ladder the harness climbed for a step: its own, or a fallback."""
        if state.ladder is not None:
            return state.ladder
        if state.operator is not None:
            return state.operator.fallback
        if state.reversal is not None:
            return state.reversal.fallback
        return None

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
            if state.operator is not None:
                state.operator.drain(wait=True)
            fallback = self._ladder_of(state)
            if fallback is not None and fallback is not state.ladder and fallback.climbed:
                fallback.collect(wait=True)
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
        if step.operator is not None:
            self._hand_to_operator(state, step.operator, now)
            return
        if action is Action.STOP:
            assert isinstance(step.stop, list)
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
            if self.stop_watch is None:
                self.stop_watch = ladder
            return
        if action is Action.CONTEST:
            assert step.contest is not None
            via = step.contest.via
            call = self._backends[via].call(Action.CONTEST, {**step.params, **step.contest.params})
            state.call = call
            limit = self._drill.deadlines.reversal
            state.reversal = ReversalWatch(
                via=via,
                issued_ns=call.issued_ns,
                deadline_ns=None if limit is None else call.issued_ns + to_ns(limit),
                watcher=TransitionWatcher(
                    self._log, call.issued_ns, hold_ns=self._hold_ns, harm_free=True
                ),
                fallback=self._fallback_ladder(step, step.ladder),
                timeline=self._timeline,
                hold_ns=self._hold_ns,
                grace_ns=step.grace_ns,
            )
            self.reversals.append(state.reversal)
            self._timeline.event("contest_issued", via=via, t_ns=call.issued_ns)
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

    def _fallback_ladder(self, step: Step, names: list[str]) -> Ladder:
        """The harness's own ladder behind a wait on a person (not issued yet)."""
        return Ladder(
            [(name, self._backends[name]) for name in names],
            step.grace_ns,
            self._log,
            self._timeline,
            hold_ns=self._hold_ns,
            escalate_on_failure=step.escalate == "on_failure",
        )

    def _hand_to_operator(self, state: StepState, spec: OperatorStop, now: int) -> None:
        """Notify, and start watching: the stop's clock runs from here."""
        step = state.step
        limit = self._drill.human_deadline_s(step)
        deadline_ns = None if limit is None else now + to_ns(limit)
        if spec.fallback_after == "time_in_harm" and limit is not None:
            first = self._detector.detected_ns
            deadline_ns = (first if first is not None else now) + to_ns(limit)
        wait = OperatorWait(
            spec=spec,
            notified_ns=now,
            deadline=spec.fallback_after,
            deadline_ns=deadline_ns,
            watcher=TransitionWatcher(self._log, now, hold_ns=self._hold_ns),
            fallback=self._fallback_ladder(step, spec.fallback),
            timeline=self._timeline,
            hold_ns=self._hold_ns,
            grace_ns=step.grace_ns,
        )
        state.operator = wait
        if self.operator is None and self.stop_watch is None:
            self.operator = wait
        if self.stop_watch is None:
            self.stop_watch = wait
        incident = next(
            (
                s
                for s in self.states
                if s.step.inject is not None and s.phase is StepPhase.DONE and s.call is not None
            ),
            None,
        )
        run_id, base_url, started_at = self._alerting
        deadline_text = "" if limit is None else f"{spec.fallback_after} in {limit:g} s"
        alert = Alert(
            drill=self._drill.drill,
            run_id=run_id,
            target=self._drill.target.target,
            summary=(
                f"harm observed under load; stop it through {', '.join(spec.paths)}"
                + (f" ({deadline_text})" if deadline_text else "")
            ),
            paths=tuple(spec.paths),
            incident="" if incident is None else str(incident.step.inject),
            incident_ns=None
            if incident is None or incident.call is None
            else incident.call.issued_ns,
            notified_ns=now,
            deadline=spec.fallback_after if limit is not None else "",
            deadline_ns=deadline_ns,
            base_url=base_url,
            started_at=started_at or _dt.datetime.now(_dt.UTC).isoformat(),
            answered=wait.answered,
        )
        self._timeline.event(
            "operator_waiting",
            t_ns=now,
            paths=list(spec.paths),
            notify=list(spec.notify),
            deadline=alert.deadline,
            deadline_s=limit,
            fallback=list(spec.fallback),
        )
        wait.send(self._notifier or NoNotifier(lambda: now), alert)

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
        wait = state.operator
        if wait is not None:
            if wait.fallback.climbed and self.ladder is None:
                self.ladder = wait.fallback
            if wait.tick(now):
                state.settled_ns = now
                if wait.held_ns is not None:
                    upper = wait.watcher.tracker.upper_ns
                    state.settled_ns = now if upper is None else min(now, upper)
                    state.phase = StepPhase.DONE
                else:
                    state.phase = StepPhase.FAILED
                    state.detail = (
                        "the fallback ladder was exhausted without the stop holding"
                        if wait.fallback_started_ns is not None
                        else f"no held stop by the {wait.deadline} deadline"
                    )
            return
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
        if state.step.action is Action.CONTEST:
            self._timeline.event(
                "contest_filed",
                step=state.id,
                via=state.step.contest.via if state.step.contest is not None else "",
                outcome=result.outcome.value,
                detail=result.detail,
                t_ns=result.returned_ns,
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


def _watch_end(watcher: TransitionWatcher, limit: float | None, hold_ns: int, now: int) -> int:
    """How long a change's watcher keeps the drill open: until the change held; else until
    its deadline passed by a hold (so the analysis can prove it missed); with no deadline,
    until it could have held once in effect (its issue when it never took effect)."""
    if watcher.held(now):
        assert watcher.held_ns is not None
        return watcher.held_ns
    issued = watcher.tracker.issued_ns
    if limit is not None:
        return issued + to_ns(limit) + hold_ns
    upper = watcher.tracker.upper_ns
    return issued if upper is None else upper + hold_ns
