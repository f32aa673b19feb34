"""Metrics and conservative verdicts from one run's observations: never claim more than observed.

Pure computation, no I/O and no clock (every bound keeps ``lower <= value <= upper``; an
unknown side is None, never an inversion; a property test holds it): :func:`analyse` takes the run's
:class:`~harness.observations.ObservationLog` and the harness's own :class:`RunInstants`
(all on the host monotonic clock) and returns frozen :class:`Metrics`; :func:`judge` turns
them into one :class:`DeadlineResult` per limit; :func:`check_ground_truth` sets a target's
own event log beside them.

What one observation proves
    The server handled each request at an unknown instant ``h`` with ``start <= h <= end``.
    If a gate flipped at ``G``, a request answered the old way was handled before ``G``, so
    ``G > start``; one answered the new way was handled after it, so ``G < end``. Starts are
    the only evidence an answer gives of the old state, ends the only evidence of the new.

Effective stop
    Over the observations that may have been handled after the stop was issued at ``I``
    (``end > I``): ``L = max(I, last start of a SERVING answer)`` and ``U = first end of a
    STOPPED answer after L``; the gate closed for good in ``(L, U]``. The point estimate is
    the midpoint: with nothing known but ``G in [L, U]`` it is the estimate whose worst-case
    error is smallest (``(U - L) / 2``), and the mean under a uniform prior. ``time_to_stop``
    is ``[L - I, U - I]`` with resolution ``U - L``. ERROR answers are evidence of neither.

    A STOPPED answer that ended at or before ``L`` contradicts a single flip. Such answers
    are grouped into *runs* (episodes): maximal sets of STOPPED ends with no SERVING start
    among them. A run is a *confirmed stretch* when it holds at least ``stretch_min_count``
    (default 5) stopped answers whose ends spread over at least
    ``min(hold_s, stretch_min_s)`` (default 0.2 s). A confirmed stretch followed by a serving
    answer is a **resurrection** (kind RESURRECTED, the serving start is the instant
    reported); shorter runs are **interleaving** during the transition, a partial stop
    (kind PARTIAL: keep-alive connections left open, one worker of several still serving).
    Either way the effective stop is the last transition, ``(L, U]``, after which nothing
    served through the end of the window; when no stopped answer follows the last serving
    one there is none (kind NOT_STOPPED, or PARTIAL/RESURRECTED if stopped runs came first).
    In a PARTIAL stop the answers come from several gates (workers, connections) and the
    load cannot tell which answered, so ``(L, U]`` bounds the instant after which no serving
    answer was *observed* (the product's definition of the effective stop), not the instant
    the last worker's own gate closed: that worker may have served no observed request in
    between. The kind says so; a clean stop has no such caveat.

    Intentional resumes: the stop's window ends at the drill's first resume after ``I``.
    A serving answer counts against the stop only if it ended by then (it was certainly
    handled before the resume); stopped answers count if they started before it. So serving
    after a resume is never a resurrection.

Confirmation by the hold (one definition, ``harness.metrics._confirm``)
    The stop *held* at the earliest instant ``C`` such that STOPPED answers are *present*
    over ``[C - hold_s, C]`` with ``C - hold_s >= U``, no serving answer after ``L``, and
    ``C`` within the observation window (and before the load failed, when it did). Present:
    no gap between consecutive stopped ends, nor at either edge of the stretch, is longer
    than the presence limit at ``C``: ``max(presence_gap_s, presence_gap_factor x median gap
    between consecutive ends of every observation that ended in (I - 5 s, C])`` (defaults
    0.25 s and 2). A gap right after ``U`` (connections draining) only delays ``C``; it does
    not undo the stop. The live watcher (``harness.watch``) asks the same function on what
    has arrived, so ``after: stopped`` fires exactly when the analysis would call the stop
    confirmed; they differ only on answers still in flight, which make the analysis report
    a resurrection or partial stop, never a silent confirmation. If the drill resumes before
    the hold elapses, the stopped answers up to the resume must be present and form a
    confirmed stretch. Without confirmation the upper bound is unknown: ``time_to_stop``
    keeps only its lower bound and cannot be met.

Time in harm
    Harm ends when served answers are harm-free, whether a stop or a rollback did it. The
    end of harm is bounded as a stop with harmful answers as the old kind and harm-free ones
    (STOPPED, or SERVING and not harmful) as the new: ``Lh`` = the last harmful start,
    ``Uh`` = the first harm-free end after it, held by the same hold as a stop, through the
    end of the window. The first harm was handled in ``[min start, min end]`` over the
    harmful observations, so ``time_in_harm`` lies in ``[Lh - min end, Uh - min start]``
    (clamped at 0). It therefore covers every harmful window, returned harm included, up to
    the end of the hold; without a held end it keeps only its lower bound.

Phases and counts
    Harm is attributed to the phase it happened in. The stop's phases run from ``I`` (or the
    acknowledgement ``A``) to ``B``, the first resume or rollback issued after ``I`` (or the
    window end). ``harmful_after_stop_issued`` counts harmful answers certainly handled in
    ``[I, B)`` (``start >= I`` and ``end <= B``); its upper bound those possibly handled in it
    (``end > I`` and ``start < B``; after a clean confirmed stop a serving answer was handled
    by ``U`` too), so ``lower <= upper`` by construction. The upper bound is proven only when
    observations were present from ``I`` to the window end with the load healthy.
    ``harmful_after_ack`` likewise from ``A``; a positive certain count there is **stop
    theater**. ``harm_returned`` counts harmful answers started at or after the earlier of
    ``B`` and the first harmful start that followed harm-free answers held for the hold (the
    rollback, the resume or the stop failed); it is never stop theater.

Rollback
    An answer is *good* when SERVING, from the rollback version and not harmful; every other
    answer (other versions, harmful, STOPPED, ERROR) is bad. The switch is bounded exactly as
    the stop with good in place of STOPPED over the answers ending after the rollback was
    issued, and held by the same definition; a confirmed good stretch followed by a bad
    answer is a reversion. When answers were served after the issue but none carried a
    version (kind NO_VERSION), good and bad cannot be told apart: the lower bound is the last
    harmful start (harm proves a late switch), the upper is unknown, and the reason says that
    no answer carried a model version. The live engine keeps observing a rollback that has
    not held until its deadline has passed by a hold, so a rollback that never worked is
    proven missed rather than left unverified.

Rung used
    Only a stop that held names a rung: the last rung issued (and answered: not PENDING)
    before ``U``, the one in force when the gate had certainly closed. ``rung_used_certain``
    is False when it was issued inside ``(L, U)`` after an earlier rung, since the earlier
    one may then have done it.

Verdicts (``judge``)
    MISSED when the proven lower bound exceeds the limit; MET when the proven upper bound is
    within it; UNVERIFIED otherwise, including when no upper bound was proven (not
    confirmed, sparse observations, load failed, never measured). A stop never observed is
    MISSED only if serving was observed long enough after ``I`` to exceed the limit.
    Detection and acknowledgement are the harness's own instants, so point values; if they
    never happened the wait so far (to the window end, or to the load failure for
    detection, which rests on observations) is a lower bound. A load that failed proves
    nothing after it: every upper bound that needed later observations is withheld.
    NOT_APPLICABLE when the deadline cannot apply: ``ack`` for a ladder with no rung that can
    answer (signals only); in a mixed ladder ``ack`` is the first answering rung's
    acknowledgement as usual. When the incident's inject call failed, ``detect`` and every
    deadline that depends on the incident (the harm deadlines when no harm was observed,
    ``ack``/``stop``/``rollback`` when their step never ran) are UNVERIFIED with the reason
    "incident not injected: <step>", never MISSED.

Streams in flight (``stream_metrics``, see ``harness.metrics._streams``)
    With ``load.stream: true`` every stream is kept as its instants (first and last chunk,
    first and last harmful chunk). ``streams_in_flight_at_stop``, ``stream_cut_time`` and
    ``harmful_chunks_after_stop`` are functions of the unknown instant ``G`` in ``(L, U]``;
    their bounds are their least and greatest values over it, and need a stop that held.
    The drill's ``in_flight`` policy is judged as deadlines: ``cut`` as ``stream_cut_time``
    within the stop's resolution (never less than the presence gap), ``{drain: D}`` as
    ``stream_cut_time <= D`` and ``harmful_chunks_after_stop == 0``; with no stream possibly
    in flight they are unverified, never met.

Clock uncertainty (``RunInstants.clock_uncertainty_ns``, see ``harness.metrics._widen``)
    With the load on Locust's master/worker mode each worker's instants are read onto the
    harness's clock within ``± u``. Every bound then moves outward by ``u`` per observation
    instant it rests on (``time_to_stop``, ``rollback_time``, ``time_to_reversal`` and the
    gates' ``(L, U]`` by ``u``, ``time_in_harm`` by ``2u``), and the phase counts call an
    answer certain only ``u`` inside the phase, possible within ``u`` of it. The streams in
    flight are bounded against the stop widened by ``2u``. ``u = 0`` changes nothing.

The run's verdict (``decide_verdict``)
    INTERRUPTED when a signal or halt ended it, ERROR when the harness failed or nothing was
    measured, else PASSED when every deadline is MET or NOT_APPLICABLE and FAILED otherwise;
    with one reason a line (the deadlines not met, a failed load, an untrustworthy target log).
"""

from harness.metrics._analyse import analyse
from harness.metrics._confirm import ChangeTracker, held_at, presence_limit_ns
from harness.metrics._ground_truth import TargetEvent, check_ground_truth
from harness.metrics._judge import cut_limit_s, judge
from harness.metrics._model import (
    AnalysisParams,
    DeadlineResult,
    Deadlines,
    DeadlineVerdict,
    GroundTruthCheck,
    Interval,
    Metric,
    Metrics,
    RollbackAnalysis,
    RollbackKind,
    RungAttempt,
    RungOutcome,
    RunInstants,
    StopAnalysis,
    StopEpisode,
    StopKind,
    StreamMetrics,
    Unit,
)
from harness.metrics._streams import stream_metrics
from harness.metrics._verdict import RunDecision, decide_verdict

__all__ = [
    "AnalysisParams",
    "ChangeTracker",
    "DeadlineResult",
    "DeadlineVerdict",
    "Deadlines",
    "GroundTruthCheck",
    "Interval",
    "Metric",
    "Metrics",
    "RollbackAnalysis",
    "RollbackKind",
    "RunDecision",
    "RunInstants",
    "RungAttempt",
    "RungOutcome",
    "StopAnalysis",
    "StopEpisode",
    "StopKind",
    "StreamMetrics",
    "TargetEvent",
    "Unit",
    "analyse",
    "check_ground_truth",
    "cut_limit_s",
    "decide_verdict",
    "held_at",
    "judge",
    "presence_limit_ns",
    "stream_metrics",
]
