"""Which pod served each probed request, from the edge's access log and the pods the namespace watch
saw: pure functions, no I/O (the log is followed by :mod:`harness.scenario.edge_log`).

A log line names the upstream ``ip:port`` (:mod:`harness.measure.attribution`); the pod is the one
that held that IP at the request's time (:func:`pod_for`), and the pod's ReplicaSet (or
StatefulSet revision) says whether it is one of the candidate's pods or an old one
(:func:`candidate_revisions`). Nothing here needs the application to say who it is.

Times: the edge's ``StartUTC``, the API's timestamps and the watch's observations are epoch
seconds from clocks on the same machine for a kind cluster. The API's timestamps have whole
seconds and the watch sees an event a moment after it happened, so comparisons allow
:data:`TOLERANCE` seconds.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from harness.k8s.watch import PodState
from harness.measure.attribution import (
    NEW,
    OLD,
    ParsedLog,
    mixed_seconds,
    served_series,
    served_spans,
)
from harness.scenario.verdicts import AttributionFacts, OldPodTraffic

TOLERANCE = 1.0
"""Seconds allowed between clocks and observations: RFC 3339 timestamps of the API in whole seconds,
the watch's delay, and the edge applying an EndpointSlice change (Traefik's provider throttle is 0 s
in the add-on, harness/env/addons/charts/traefik/values.yaml ``providersThrottleDuration``)."""

NO_LOG_LINE = "no log line"
EDGE_ANSWERED = "answered by the edge"
UNKNOWN_UPSTREAM = "upstream is no pod"


@dataclass(frozen=True)
class PodLife:
    """What attribution needs of one pod's history.

    Attributes:
        name: the pod. ips: its IPs. ip_from: epoch seconds from which it held them (the watch saw
            the IP; for pods already there when the watch started, their creation).
        gone: epoch seconds the pod object was deleted (None: still there at the end).
        revision: ``<owner kind>/<owner>@<revision label>`` (``ReplicaSet/web-7d9f@7d9f``), one per
            pod template; ``Pod/<name>`` for a pod without owner.
        images: its containers' images. job: the Job it belongs to ("" for none).
        deleting: its deletion was requested (``deletionTimestamp`` seen).
        terminated: epoch seconds of the earliest sign it could serve no more: every container
            terminated (``finishedAt``), its deletion deadline (``deletionTimestamp``: the deletion
            request plus the grace period, https://kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle/#pod-termination),
            or its DELETED event; None when it did not terminate.
    """

    name: str
    ips: tuple[str, ...]
    ip_from: float
    gone: float | None
    revision: str
    images: tuple[str, ...] = ()
    job: str = ""
    deleting: bool = False
    terminated: float | None = None

    @classmethod
    def from_state(cls, st: PodState) -> PodLife:
        ip_from = st.ip_seen if st.ip_seen is not None else st.first_seen
        if st.created is not None and st.ip_seen is not None and st.ip_seen - st.first_seen < 0.5:
            # the IP came with the watch's first sight of the pod (the initial list): it held it before
            ip_from = min(ip_from, st.created)
        ends = [x for x in (st.finished_at, st.deletion_deadline, st.gone_at) if x is not None]
        owner = f"{st.owner_kind}/{st.owner}@{st.revision}" if st.owner_kind else f"Pod/{st.name}"
        return cls(st.name, tuple(st.ips), ip_from, st.gone_at, owner, tuple(st.images), st.job,
                   st.deletion_deadline is not None or st.deleted_at is not None, min(ends) if ends else None)


def lives(states: Iterable[PodState]) -> list[PodLife]:
    """:class:`PodLife` of every workload pod (Job pods left out) that had an IP."""
    return [PodLife.from_state(s) for s in states if not s.job and s.ips]


def candidate_revisions(pods: Sequence[PodLife], candidate_images: Iterable[str]) -> set[str]:
    """The revisions of the pods still there at the end (not deleted, no deletion requested) that run
    only ``candidate_images`` (any image when that is empty): the candidate's ReplicaSets.

    Deciding by what is left after the rollout, not by images alone, keeps a candidate that changes
    only configuration (same images, a new pod template) right, and by images too keeps an old pod
    left behind by a stuck rollout out of the candidate's set."""
    want = set(candidate_images)
    return {p.revision for p in pods
            if p.gone is None and not p.deleting and (not want or set(p.images) <= want)}


def pod_for(pods: Sequence[PodLife], ip: str, at: float, tolerance: float = TOLERANCE) -> tuple[PodLife | None, bool]:
    """The pod that held ``ip`` at epoch second ``at``.

    Returns:
        ``(pod, stale)``: the pod holding it then (several: the one that got it last), stale False;
        when none held it then but one had before, that one with stale True (the edge sent a
        request to a pod already gone); ``(None, False)`` when no pod ever had it before ``at``.
    """
    holders = [p for p in pods if ip in p.ips]
    live = [p for p in holders if p.ip_from - tolerance <= at and (p.gone is None or at <= p.gone + tolerance)]
    if live:
        started = [p for p in live if p.ip_from <= at]
        return max(started or live, key=lambda p: p.ip_from), False
    before = [p for p in holders if p.ip_from <= at]
    if before:
        return max(before, key=lambda p: p.ip_from), True
    return None, False


@dataclass(frozen=True)
class Served:
    """One probed request, attributed.

    Attributes:
        seq: the prober's ticket. t: seconds since the prober started (the prober's clock).
        start: epoch seconds the edge started it (the prober's send time without a log line).
        pod: the pod that served it (None: not attributed, see ``why``). side: :data:`OLD` or
        :data:`NEW` (None when not attributed). why: "" or why it is not attributed.
        upstream: the edge's ``ip:port`` (None: none). status: the status the client got.
        stale: the pod was gone when the edge sent the request to it.
        revision: the pod's revision (:attr:`PodLife.revision`); images: its images.
    """

    seq: int
    t: float
    start: float
    pod: str | None
    side: str | None
    why: str = ""
    upstream: str | None = None
    status: int | None = None
    stale: bool = False
    revision: str = ""
    images: tuple[str, ...] = ()


def attribute(samples: Iterable[Any], log: ParsedLog, pods: Sequence[PodLife], candidates: set[str]) -> list[Served]:
    """Every sent sample (:class:`harness.measure.prober.Sample`, skipped ones left out) with the pod
    that served it, from its log record (:class:`harness.measure.attribution.EdgeRecord` by seq)."""
    out: list[Served] = []
    for s in samples:
        if getattr(s, "skipped", False):
            continue
        rec = log.records.get(s.seq)
        if rec is None:
            out.append(Served(s.seq, s.t, s.wall, None, None, NO_LOG_LINE, status=s.status))
            continue
        ip = rec.upstream_ip
        if ip is None:
            out.append(Served(s.seq, s.t, rec.start, None, None, EDGE_ANSWERED, status=rec.status))
            continue
        pod, stale = pod_for(pods, ip, rec.start)
        if pod is None:
            out.append(Served(s.seq, s.t, rec.start, None, None, UNKNOWN_UPSTREAM, rec.upstream, rec.status))
            continue
        out.append(Served(s.seq, s.t, rec.start, pod.name, NEW if pod.revision in candidates else OLD, "",
                          rec.upstream, rec.status, stale, pod.revision, pod.images))
    return out


def old_pod_traffic(served: Sequence[Served], pods: Sequence[PodLife], tolerance: float = TOLERANCE) -> list[OldPodTraffic]:
    """Per old pod that served a probed request: how many, the last one's start, when the pod
    terminated, and how many started after that (plus ``tolerance``), in order of the last request."""
    by_name = {p.name: p for p in pods}
    per: dict[str, list[Served]] = {}
    for s in served:
        if s.side == OLD and s.pod:
            per.setdefault(s.pod, []).append(s)
    out = []
    for name, items in per.items():
        pod = by_name.get(name)
        end = pod.terminated if pod else None
        last = max(items, key=lambda s: s.start)
        late = sum(1 for s in items if end is not None and s.start > end + tolerance)
        out.append(OldPodTraffic(name, len(items), last.start, last.t, end, late))
    return sorted(out, key=lambda o: o.last_request)


def attribution_facts(samples: Sequence[Any], log: ParsedLog | None, states: Iterable[PodState],
                      candidate_images: Iterable[str], *, rollout_done_t: float | None, started_wall: float,
                      unavailable: str = "", source: str = "traefik access log",
                      tolerance: float = TOLERANCE) -> tuple[AttributionFacts, list[Served]]:
    """The facts the upgrade verdict judges (:class:`AttributionFacts`) and the attributed requests.

    Args:
        samples: the judged window's samples. log: the parsed edge log (None: none was read).
        states: the namespace watch's pod history (:meth:`harness.k8s.watch.NamespaceWatch.pod_history`).
        candidate_images: the candidate's workload images.
        rollout_done_t: seconds since the prober started when the rollout was seen complete (None:
            it did not complete). started_wall: the prober's start (epoch seconds).
        unavailable: why no log could be read ("" when one was).
        source: what the log is, for the figures.

    Attribution is *unavailable* (the checks are then not judged) when no log was read, or when
    not one of the window's requests has a log line: the edge kept no access log for them, which
    says nothing about the chart.
    """
    sent = [s for s in samples if not getattr(s, "skipped", False)]
    if log is None or unavailable:
        return AttributionFacts(source, unavailable or "no edge log was read", requests=len(sent)), []
    if sent and not any(s.seq in log.records for s in sent):
        why = (f"none of the {len(sent)} probed requests has a line in the {source} "
               f"({log.lines} lines read, {log.malformed} unreadable)")
        return AttributionFacts(source, why, requests=len(sent)), []
    pods = lives(states)
    served = attribute(sent, log, pods, candidate_revisions(pods, candidate_images))
    points = [(s.t, s.side) for s in served]
    unattributed: dict[str, int] = {}
    for s in served:
        if s.side is None:
            unattributed[s.why] = unattributed.get(s.why, 0) + 1
    after = []
    if rollout_done_t is not None:
        after = [(s.pod or "", round(s.t, 3)) for s in served
                 if s.side == OLD and s.t > rollout_done_t + tolerance]
    facts = AttributionFacts(
        source, "", requests=len(served), old=sum(1 for s in served if s.side == OLD),
        new=sum(1 for s in served if s.side == NEW), unattributed=unattributed,
        rollout_done_t=rollout_done_t, after_rollout_old=tuple(after),
        old_pods=tuple(old_pod_traffic(served, pods, tolerance)), spans=served_spans(points),
        mixed_seconds=mixed_seconds(served_series(points)), started_wall=started_wall)
    return facts, served


def served_points(served: Sequence[Served]) -> list[tuple[float, str | None]]:
    """``(t, side)`` per request, for :func:`harness.measure.attribution.served_series` and the plot."""
    return [(s.t, s.side) for s in served]


def served_rows(served: Sequence[Served]) -> list[Mapping[str, Any]]:
    """One row per request for ``attribution.csv``."""
    return [{"seq": s.seq, "t": f"{s.t:.4f}", "edge_start": f"{s.start:.6f}", "upstream": s.upstream or "",
             "pod": s.pod or "", "revision": s.revision, "images": " ".join(s.images), "side": s.side or "",
             "status": s.status if s.status is not None else "", "stale": "yes" if s.stale else "",
             "unattributed": s.why} for s in served]


def series_rows(series: Sequence[Any]) -> list[Mapping[str, Any]]:
    """One row per second of :func:`harness.measure.attribution.served_series` for ``served.csv``."""
    return [{"t": f"{b.t:g}", "old": b.old, "new": b.new, "unattributed": b.unattributed,
             "new_share": "" if b.new_share is None else f"{b.new_share:.3f}"} for b in series]
