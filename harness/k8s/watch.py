"""A background watch of a namespace's pods and Jobs, so a scenario can tell when a migration Job
completed relative to when the first new pod became Ready (helm deletes a hook Job right after it
succeeds; the watch still saw its last state), and which pod held an IP address when (a request
the edge sent to ``10.244.1.7:8080`` is attributed to the pod that had that IP then:
:mod:`harness.scenario.attribution`)."""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Self

from kubernetes import client, watch

from harness.k8s.client import REQUEST_TIMEOUT, api_status


@dataclass
class PodState:
    """One pod's history as the watch saw it. Observed times are the harness's ``time.time()`` when
    an event arrived; API times are the object's own timestamps (RFC 3339, whole seconds) as epoch
    seconds."""

    name: str
    uid: str
    images: tuple[str, ...]
    owner_kind: str
    first_seen: float
    ready_at: float | None = None            # observed wall time it first became Ready
    not_ready_at: float | None = None        # observed wall time it last turned NotReady
    ready_transition: float | None = None    # the API's Ready lastTransitionTime (epoch seconds)
    deleted_at: float | None = None          # observed: deletionTimestamp first seen, or the DELETED event
    job: str = ""
    ips: tuple[str, ...] = ()                # status.podIPs (status.podIP when the list is empty)
    ip_seen: float | None = None             # observed wall time an IP was first seen
    created: float | None = None             # metadata.creationTimestamp (epoch)
    owner: str = ""                          # the controlling owner's name (a ReplicaSet, a StatefulSet)
    revision: str = ""                       # label pod-template-hash or controller-revision-hash
    deletion_deadline: float | None = None   # metadata.deletionTimestamp (epoch): deletion request + grace
    finished_at: float | None = None         # every container terminated: the latest finishedAt (epoch)
    gone_at: float | None = None             # observed wall time of the DELETED event
    readiness: tuple[tuple[float, bool], ...] = ()  # (observed wall time, Ready) each time Ready was first
    #                                            seen or changed: the lanes of the timeline plot


@dataclass
class JobState:
    name: str
    uid: str
    hook: str
    created: float                           # creationTimestamp (epoch)
    first_seen: float
    completed_at: float | None = None        # observed wall time it was first seen Complete
    completion_time: float | None = None     # status.completionTime (epoch)
    failed: bool = False
    deleted_at: float | None = None

    @property
    def outcome(self) -> str:
        return "failed" if self.failed else ("succeeded" if self.completed_at or self.completion_time else "unknown")


def _epoch(value: Any) -> float | None:
    return value.timestamp() if value is not None else None


def _observe_addresses(st: PodState, pod: Any, now: float) -> None:
    """The pod's IPs (kept once seen: an IP stays with a pod until it is deleted) and, when every
    container has terminated, the latest ``finishedAt``."""
    status = pod.status
    if status is None:
        return
    ips = tuple(getattr(i, "ip", None) or "" for i in (status.pod_ips or [])) or ((status.pod_ip,) if status.pod_ip else ())
    ips = tuple(i for i in ips if i)
    if ips and not st.ips:
        st.ips, st.ip_seen = ips, now
    statuses = status.container_statuses or []
    finished = [cs.state.terminated.finished_at for cs in statuses
                if cs.state is not None and cs.state.terminated is not None and cs.state.terminated.finished_at]
    if statuses and len(finished) == len(statuses):
        st.finished_at = max(_epoch(f) or 0.0 for f in finished)


class NamespaceWatch:
    """Watch pods and Jobs of one namespace in background threads and keep their history.

    Each watch runs in ``timeout_seconds`` slices and resumes from its resourceVersion until
    :meth:`stop`; a 410 (expired) re-lists. Bounded by ``max_duration``.
    """

    def __init__(self, api: Any, namespace: str, *, max_duration: float = 900.0):
        self.api = api
        self.namespace = namespace
        self.max_duration = max_duration
        self.pods: dict[str, PodState] = {}
        self.replaced: list[PodState] = []   # earlier pods of a name (a StatefulSet's pod recreated)
        self.jobs: dict[str, JobState] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.errors: list[str] = []

    def start(self) -> NamespaceWatch:

        core = client.CoreV1Api(self.api)
        batch = client.BatchV1Api(self.api)
        for kind, fn in (("pods", core.list_namespaced_pod), ("jobs", batch.list_namespaced_job)):
            t = threading.Thread(target=self._loop, args=(kind, fn), name=f"watch-{kind}-{self.namespace}",
                                 daemon=True)
            t.start()
            self._threads.append(t)
        return self

    def stop(self, *, wait: bool = True) -> None:
        """Stop watching. ``wait``: join the threads (each ends within its 5 s watch slice); False
        returns at once and lets them end by themselves (the history read afterwards is complete
        up to now)."""
        self._stop.set()
        if not wait:
            return
        for t in self._threads:
            t.join(10)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _loop(self, kind: str, list_fn: Callable[..., Any]) -> None:

        deadline = time.monotonic() + self.max_duration
        rv: str | None = None
        while not self._stop.is_set() and time.monotonic() < deadline:
            try:
                if rv is None:
                    listed = list_fn(self.namespace, _request_timeout=REQUEST_TIMEOUT)
                    for obj in listed.items:
                        self._observe(kind, "ADDED", obj)
                    rv = listed.metadata.resource_version
                w = watch.Watch()
                for ev in w.stream(list_fn, self.namespace, resource_version=rv, timeout_seconds=5):
                    if ev["type"] == "ERROR":
                        rv = None
                        break
                    obj = ev["object"]
                    rv = obj.metadata.resource_version
                    self._observe(kind, ev["type"], obj)
                    if self._stop.is_set():
                        break
                w.stop()
            except Exception as exc:  # noqa: BLE001 - keep watching; the problem is noted
                if api_status(exc) == 410:
                    rv = None
                    continue
                self.errors.append(f"{kind}: {type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}")
                rv = None
                self._stop.wait(1.0)

    def _observe(self, kind: str, etype: str, obj: Any) -> None:
        now = time.time()
        with self._lock:
            if kind == "pods":
                self._observe_pod(etype, obj, now)
            else:
                self._observe_job(etype, obj, now)

    def _observe_pod(self, etype: str, pod: Any, now: float) -> None:
        md = pod.metadata
        st = self.pods.get(md.name)
        if st is None or st.uid != md.uid:
            if st is not None:
                self.replaced.append(st)
            owner = (md.owner_references or [None])[0]
            labels = md.labels or {}
            st = PodState(md.name, md.uid, tuple(c.image for c in pod.spec.containers), owner.kind if owner else "",
                          now, job=labels.get("job-name", ""), created=_epoch(md.creation_timestamp),
                          owner=owner.name if owner else "",
                          revision=labels.get("pod-template-hash") or labels.get("controller-revision-hash") or "")
            self.pods[md.name] = st
        _observe_addresses(st, pod, now)
        if md.deletion_timestamp is not None and st.deletion_deadline is None:
            st.deletion_deadline = _epoch(md.deletion_timestamp)
        if etype == "DELETED":
            st.deleted_at = st.deleted_at or now
            st.gone_at = st.gone_at or now
            return
        ready = False
        for c in (pod.status.conditions or []) if pod.status else []:
            if c.type == "Ready":
                ready = c.status == "True"
                if ready:
                    st.ready_transition = _epoch(c.last_transition_time)
        if md.deletion_timestamp is not None:
            st.deleted_at = st.deleted_at or now
        if not st.readiness or st.readiness[-1][1] != ready:
            st.readiness = (*st.readiness, (now, ready))
        if ready and st.ready_at is None:
            st.ready_at = now
        if not ready and st.ready_at is not None:
            st.not_ready_at = now

    def _observe_job(self, etype: str, job: Any, now: float) -> None:
        md = job.metadata
        st = self.jobs.get(md.uid)
        if st is None:
            st = JobState(md.name, md.uid, (md.annotations or {}).get("helm.sh/hook", ""),
                          _epoch(md.creation_timestamp) or now, now)
            self.jobs[md.uid] = st
        s = job.status
        if s is not None:
            for c in s.conditions or []:
                if c.type == "Complete" and c.status == "True" and st.completed_at is None:
                    st.completed_at = now
                if c.type == "Failed" and c.status == "True":
                    st.failed = True
            if s.completion_time is not None:
                st.completion_time = _epoch(s.completion_time)
                st.completed_at = st.completed_at or now
        if etype == "DELETED":
            st.deleted_at = now

    def pod_history(self) -> list[PodState]:
        """Copies of every pod the watch saw, earlier pods of a reused name included."""
        with self._lock:
            return [PodState(**v.__dict__) for v in [*self.replaced, *self.pods.values()]]

    def snapshot(self) -> tuple[dict[str, PodState], dict[str, JobState]]:
        with self._lock:
            return ({k: PodState(**v.__dict__) for k, v in self.pods.items()},
                    {k: JobState(**v.__dict__) for k, v in self.jobs.items()})
