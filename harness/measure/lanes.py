"""One lane per pod for the timeline plots: when each pod was starting, Ready, not Ready, terminating
and gone, in seconds since the prober started. Pure functions, no I/O.

The times come from the namespace watch of the scenario (:class:`harness.k8s.watch.PodState`: the
harness's ``time.time()`` when an event arrived, so a lane is as late as the watch saw it, typically
well under a second on a kind cluster). :func:`lanes_from_states` reads those records by attribute
name only, so this module depends on nothing but the standard library (the measure layer uses
only core).

States, as Kubernetes defines them
(https://kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle/#pod-termination):

* ``starting``: the pod exists and its Ready condition has not been True yet.
* ``ready``: its Ready condition is True (it receives traffic through its Services).
* ``not ready``: Ready turned False again before its deletion was requested.
* ``terminating``: its ``deletionTimestamp`` is set (the containers get SIGTERM, the endpoints
  drop it) until the object is gone.
* gone: the DELETED event, drawn as a marker at the lane's end.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

STARTING = "starting"
READY = "ready"
NOT_READY = "not ready"
TERMINATING = "terminating"
STATES = (STARTING, READY, NOT_READY, TERMINATING)

MAX_LANES = 24
"""At most this many lanes in a plot (the earliest seen first): beyond it the lanes become too thin to
read; the rest are counted in the panel's label."""


@dataclass(frozen=True)
class PodLane:
    """One pod's life, seconds since the prober started (negative: before it; None: not seen).

    Attributes:
        name: the pod. appeared: first seen, or created when that is earlier.
        ready: its Ready condition first seen True. not_ready: last seen turning False after that.
        terminating: its deletion first seen (``deletionTimestamp`` set, or the DELETED event).
        gone: the DELETED event. job: the Job it belongs to ("" for none).
        readiness: ``(time, Ready)`` each time Ready was first seen or changed; when given, the
            lane's Ready and not Ready stretches follow it (a pod that recovers is Ready again),
            otherwise ``ready`` and ``not_ready``.
    """

    name: str
    appeared: float
    ready: float | None = None
    not_ready: float | None = None
    terminating: float | None = None
    gone: float | None = None
    job: str = ""
    readiness: tuple[tuple[float, bool], ...] = ()


@dataclass(frozen=True)
class Segment:
    """A stretch of one lane in one state (:data:`STATES`), ``start`` to ``end`` seconds."""

    start: float
    end: float
    state: str


def _rel(value: float | None, origin: float) -> float | None:
    return None if value is None else round(value - origin, 3)


def lanes_from_states(states: Iterable[Any], started_wall: float) -> list[PodLane]:
    """:class:`PodLane` per pod record, in the order the pods appeared.

    Args:
        states: records with the attributes of :class:`harness.k8s.watch.PodState` (``name``,
            ``first_seen``, ``created``, ``ready_at``, ``not_ready_at``, ``ready_transition``,
            ``readiness``, ``deleted_at``, ``gone_at``, ``job``), epoch seconds.
        started_wall: the prober's start, epoch seconds (:attr:`harness.measure.prober.ProbeResult.started_wall`).

    A pod already Ready when the watch first saw it (its initial list) became Ready at its Ready
    condition's ``lastTransitionTime`` (``ready_transition``), not when the watch started.
    """
    out = []
    for st in states:
        created = getattr(st, "created", None)
        appeared = min(st.first_seen, created) if created is not None else st.first_seen
        readiness = list(getattr(st, "readiness", ()) or ())
        ready_at = st.ready_at
        since = getattr(st, "ready_transition", None)
        if readiness and readiness[0][1] and since is not None and since < readiness[0][0]:
            readiness[0] = (max(since, appeared), True)
            ready_at = readiness[0][0] if ready_at is None or ready_at >= since else ready_at
        out.append(PodLane(st.name, round(appeared - started_wall, 3), _rel(ready_at, started_wall),
                           _rel(st.not_ready_at, started_wall), _rel(st.deleted_at, started_wall),
                           _rel(st.gone_at, started_wall), getattr(st, "job", "") or "",
                           tuple((round(t - started_wall, 3), bool(r)) for t, r in readiness)))
    return sorted(out, key=lambda lane: (lane.appeared, lane.name))


def segments(lane: PodLane, start: float, end: float) -> list[Segment]:
    """The lane's states in time order, clipped to ``start``..``end`` seconds (the plot's span).

    A pod never seen Ready is ``starting`` until its deletion (or ``end``); a Ready pod that turned
    not Ready before its deletion is ``not ready`` from then (and ``ready`` again when its recorded
    readiness says it recovered); a pod whose deletion was seen is ``terminating`` until it is gone
    (or ``end``). Empty stretches are left out.
    """
    stop = lane.terminating if lane.terminating is not None else (lane.gone if lane.gone is not None else end)
    raw = _by_readiness(lane, stop) if lane.readiness else _by_first_ready(lane, stop)
    if lane.terminating is not None:
        raw.append(Segment(lane.terminating, lane.gone if lane.gone is not None else end, TERMINATING))
    out = []
    for seg in raw:
        a, b = max(seg.start, start), min(seg.end, end)
        if b > a:
            out.append(Segment(a, b, seg.state))
    return out


def _by_readiness(lane: PodLane, stop: float) -> list[Segment]:
    """Stretches from the recorded Ready changes, until ``stop`` (the deletion)."""
    raw: list[Segment] = []
    state, since, was_ready = STARTING, lane.appeared, False
    for t, ready in lane.readiness:
        if t >= stop:
            break
        new = READY if ready else (NOT_READY if was_ready else STARTING)
        was_ready = was_ready or ready
        if new != state:
            raw.append(Segment(since, t, state))
            state, since = new, t
    raw.append(Segment(since, stop, state))
    return raw


def _by_first_ready(lane: PodLane, stop: float) -> list[Segment]:
    """Stretches from the first Ready and the last not Ready alone (no recorded changes)."""
    raw: list[Segment] = []
    first_ready = lane.ready if lane.ready is not None and lane.ready < stop else None
    raw.append(Segment(lane.appeared, first_ready if first_ready is not None else stop, STARTING))
    if first_ready is not None:
        dropped = lane.not_ready if lane.not_ready is not None and first_ready < lane.not_ready < stop else None
        raw.append(Segment(first_ready, dropped if dropped is not None else stop, READY))
        if dropped is not None:
            raw.append(Segment(dropped, stop, NOT_READY))
    return raw


def shown(lanes: Sequence[PodLane], limit: int = MAX_LANES) -> tuple[list[PodLane], int]:
    """The lanes a plot draws (the first ``limit``) and how many are left out."""
    return list(lanes[:limit]), max(0, len(lanes) - limit)
