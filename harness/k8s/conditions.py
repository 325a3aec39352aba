"""Readiness conditions for :func:`harness.k8s.wait.wait_for`, built on the official Kubernetes client.

Each factory takes an ``ApiClient`` (or, for tests, an object with the typed API's methods) and
returns a named condition ``() -> (done, state)``. The pure ``*_state`` functions judge one
object and are what the unit tests exercise.

Never trust one signal (chart-testing re-checks ``unavailableReplicas`` after ``kubectl rollout
status``): a rollout is complete only when the generation is observed, every replica is updated,
no old replica is left, the updated ones are available and none is unavailable. Conditions fail
fast (:class:`~harness.core.errors.WaitFailed`) when a container is in CrashLoopBackOff,
ImagePullBackOff or ErrImageNeverPull, or a Job has failed, like testcontainers' log wait gives up
when the container exits.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from harness.core.errors import WaitFailed
from harness.k8s.client import REQUEST_TIMEOUT, api_status, typed_api
from harness.k8s.wait import Named

FATAL_WAITING_REASONS = frozenset({
    "CrashLoopBackOff", "ImagePullBackOff", "ErrImageNeverPull", "InvalidImageName",
})
"""Container waiting reasons that will not resolve by themselves within a test's budget
(https://kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle/#container-state-waiting).
ErrImagePull is excluded: it is the first, possibly transient, pull failure before ImagePullBackOff."""

IMAGE_REASONS = frozenset({"ImagePullBackOff", "ErrImageNeverPull", "InvalidImageName"})


def _cond_true(conditions: Iterable[Any] | None, type_: str) -> Any | None:
    for c in conditions or ():
        if c.type == type_ and c.status == "True":
            return c
    return None


def _selector(match_labels: Mapping[str, str] | None) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted((match_labels or {}).items()))


# --------------------------------------------------------------------------- pods


def pod_problem(pod: Any, fatal: Iterable[str] = FATAL_WAITING_REASONS) -> str | None:
    """The reason ``pod`` cannot become ready by itself, or None.

    Looks at init and app containers' ``state.waiting.reason`` (in ``fatal``).

    Returns:
        e.g. ``"pod web-7d9 container app: CrashLoopBackOff (back-off 40s restarting failed container)"``.
    """
    fatal = frozenset(fatal)
    status = pod.status
    if status is None:
        return None
    for cs in [*(status.init_container_statuses or []), *(status.container_statuses or [])]:
        waiting = getattr(cs.state, "waiting", None) if cs.state else None
        if waiting is not None and waiting.reason in fatal:
            msg = f" ({waiting.message.strip().splitlines()[0][:160]})" if waiting.message else ""
            return f"pod {pod.metadata.name} container {cs.name}: {waiting.reason}{msg}"
    return None


def pod_is_ready(pod: Any) -> bool:
    """Ready condition True and not being deleted
    (https://kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle/#pod-conditions)."""
    if pod.metadata.deletion_timestamp is not None:
        return False
    return _cond_true(pod.status.conditions if pod.status else None, "Ready") is not None


def pods_state(pods: Iterable[Any], *, min_count: int = 1, fatal: Iterable[str] = FATAL_WAITING_REASONS
               ) -> tuple[bool, str]:
    """Judge a set of pods: done when at least ``min_count`` exist and all (not terminating) are Ready.

    Raises:
        WaitFailed: a pod has a fatal container state (see :func:`pod_problem`).
    """
    live = [p for p in pods if p.metadata.deletion_timestamp is None]
    for p in live:
        problem = pod_problem(p, fatal)
        if problem:
            raise WaitFailed(problem)
    ready = [p for p in live if pod_is_ready(p)]
    not_ready = sorted(p.metadata.name for p in live if not pod_is_ready(p))
    state = f"{len(ready)}/{len(live)} pods ready"
    if not_ready:
        state += f" (not ready: {', '.join(not_ready[:5])})"
    return (len(live) >= min_count and len(ready) == len(live), state)


def pods_ready(api: Any, namespace: str, selector: str, *, min_count: int = 1,
               fatal: Iterable[str] = FATAL_WAITING_REASONS) -> Named:
    """All pods matching the label ``selector`` are Ready, and there are at least ``min_count``.

    Fails fast on CrashLoopBackOff/ImagePullBackOff/ErrImageNeverPull (``fatal``).
    """
    core = typed_api(api, "CoreV1Api")

    def check() -> tuple[bool, str]:
        pods = core.list_namespaced_pod(namespace, label_selector=selector, _request_timeout=REQUEST_TIMEOUT).items
        return pods_state(pods, min_count=min_count, fatal=fatal)

    return Named(check, f"pods {selector!r} in {namespace} ready")


def container_restarts(api: Any, namespace: str, selector: str) -> dict[str, int]:
    """Restart counts of every container of the pods matching ``selector``.

    Returns:
        ``{"<pod>/<container>": restartCount}`` (init containers included).
    """
    core = typed_api(api, "CoreV1Api")
    pods = core.list_namespaced_pod(namespace, label_selector=selector, _request_timeout=REQUEST_TIMEOUT).items
    return restart_counts(pods)


def restart_counts(pods: Iterable[Any]) -> dict[str, int]:
    """``{"<pod>/<container>": restartCount}`` for the given pod objects."""
    out: dict[str, int] = {}
    for p in pods:
        st = p.status
        for cs in [*(st.init_container_statuses or []), *(st.container_statuses or [])] if st else []:
            out[f"{p.metadata.name}/{cs.name}"] = int(cs.restart_count or 0)
    return out


def restarts_since(before: Mapping[str, int], after: Mapping[str, int]) -> dict[str, int]:
    """Containers that restarted between two :func:`container_restarts` snapshots: ``{key: added restarts}``.

    A container new in ``after`` counts its full restartCount.
    """
    return {k: v - before.get(k, 0) for k, v in after.items() if v - before.get(k, 0) > 0}


# --------------------------------------------------------------------------- deployments


def deployment_state(dep: Any) -> tuple[bool, str]:
    """Judge a Deployment's rollout the way ``kubectl rollout status`` does, plus unavailableReplicas.

    Done when ``status.observedGeneration >= metadata.generation``, ``updatedReplicas ==
    spec.replicas``, ``replicas == updatedReplicas`` (no old pods left), ``availableReplicas >=
    updatedReplicas`` and ``unavailableReplicas`` is 0
    (https://kubernetes.io/docs/concepts/workloads/controllers/deployment/#deployment-status).

    Raises:
        WaitFailed: the Progressing condition says ProgressDeadlineExceeded
            (https://kubernetes.io/docs/concepts/workloads/controllers/deployment/#failed-deployment).
    """
    name = dep.metadata.name
    st = dep.status
    if st is None:
        return False, "no status yet"
    gen = dep.metadata.generation or 0
    if (st.observed_generation or 0) < gen:
        return False, f"generation {gen} not observed yet (observed {st.observed_generation or 0})"
    for c in st.conditions or ():
        if c.type == "Progressing" and c.reason == "ProgressDeadlineExceeded":
            raise WaitFailed(f"deployment {name} exceeded its progress deadline: {c.message or ''}".strip())
    want = dep.spec.replicas if dep.spec.replicas is not None else 1
    updated = st.updated_replicas or 0
    total = st.replicas or 0
    available = st.available_replicas or 0
    unavailable = st.unavailable_replicas or 0
    counts = f"{updated}/{want} updated, {available} available, {total} total, {unavailable} unavailable"
    if updated < want:
        return False, f"{counts}: waiting for new replicas to be updated"
    if total > updated:
        return False, f"{counts}: {total - updated} old replicas pending termination"
    if available < updated:
        return False, f"{counts}: waiting for updated replicas to become available"
    if unavailable > 0:
        return False, f"{counts}: replicas still unavailable"
    return True, f"{counts}: rolled out"


def _read_or_none(read: Callable[..., Any], name: str, namespace: str) -> Any | None:
    """``read(name, namespace)`` (a client ``read_namespaced_*`` call), None when the API answers 404
    (the object is not created yet: a wait keeps waiting). Other errors propagate."""
    try:
        return read(name, namespace, _request_timeout=REQUEST_TIMEOUT)
    except Exception as exc:
        if api_status(exc) == 404:
            return None
        raise


def deployment_rolled_out(api: Any, namespace: str, name: str,
                          fatal: Iterable[str] = FATAL_WAITING_REASONS) -> Named:
    """The Deployment's rollout is complete (:func:`deployment_state`).

    Also fails fast when a pod of the *current* ReplicaSet (matched by the ``pod-template-hash``
    of the ReplicaSet whose ``deployment.kubernetes.io/revision`` equals the Deployment's) is in a
    fatal state; old ReplicaSets' pods are ignored, so waiting for a rollback away from a crashing
    revision works.
    """
    apps = typed_api(api, "AppsV1Api")
    core = typed_api(api, "CoreV1Api")

    def check() -> tuple[bool, str]:
        dep = _read_or_none(apps.read_namespaced_deployment_status, name, namespace)
        if dep is None:
            return False, "deployment not found"
        done, state = deployment_state(dep)
        if not done:
            _current_pods_problem(apps, core, dep, fatal)
        return done, state

    return Named(check, f"deployment {namespace}/{name} rolled out")


def _current_pods_problem(apps: Any, core: Any, dep: Any, fatal: Iterable[str]) -> None:
    selector = _selector(dep.spec.selector.match_labels if dep.spec.selector else None)
    if not selector:
        return
    revision = (dep.metadata.annotations or {}).get("deployment.kubernetes.io/revision")
    rss = apps.list_namespaced_replica_set(dep.metadata.namespace, label_selector=selector,
                                           _request_timeout=REQUEST_TIMEOUT).items
    current = [rs for rs in rss if (rs.metadata.annotations or {}).get("deployment.kubernetes.io/revision") == revision
               and any(o.uid == dep.metadata.uid for o in rs.metadata.owner_references or ())]
    if not current:
        return
    pth = (current[0].metadata.labels or {}).get("pod-template-hash")
    if not pth:
        return
    pods = core.list_namespaced_pod(dep.metadata.namespace, label_selector=f"{selector},pod-template-hash={pth}",
                                    _request_timeout=REQUEST_TIMEOUT).items
    for p in pods:
        problem = pod_problem(p, fatal)
        if problem:
            raise WaitFailed(f"deployment {dep.metadata.name} revision {revision}: {problem}")


def statefulset_state(sts: Any) -> tuple[bool, str]:
    """A StatefulSet is rolled out: generation observed, all replicas ready and at ``updateRevision``."""
    st = sts.status
    if st is None:
        return False, "no status yet"
    if (st.observed_generation or 0) < (sts.metadata.generation or 0):
        return False, "generation not observed yet"
    want = sts.spec.replicas if sts.spec.replicas is not None else 1
    ready, updated = st.ready_replicas or 0, st.updated_replicas or 0
    state = f"{ready}/{want} ready, {updated} updated"
    if st.update_revision and st.current_revision != st.update_revision and updated < want:
        return False, state + f", revision {st.current_revision} -> {st.update_revision}"
    return ready >= want and (st.replicas or 0) == want, state


def statefulset_rolled_out(api: Any, namespace: str, name: str) -> Named:
    """The StatefulSet has all replicas ready at its update revision (:func:`statefulset_state`)."""
    apps = typed_api(api, "AppsV1Api")

    def check() -> tuple[bool, str]:
        sts = apps.read_namespaced_stateful_set_status(name, namespace, _request_timeout=REQUEST_TIMEOUT)
        return statefulset_state(sts)

    return Named(check, f"statefulset {namespace}/{name} rolled out")


# --------------------------------------------------------------------------- endpoints


def ready_endpoints(slices: Iterable[Any]) -> list[str]:
    """Addresses of ready endpoints across EndpointSlices.

    ``conditions.ready`` unset counts as ready, as the API documents
    (https://kubernetes.io/docs/concepts/services-networking/endpoint-slices/#conditions).
    """
    out = []
    for s in slices:
        for ep in s.endpoints or ():
            ready = ep.conditions.ready if ep.conditions is not None else None
            if ready is None or ready:
                out.extend(ep.addresses or ())
    return sorted(set(out))


def _slices(discovery: Any, namespace: str, service: str) -> list[Any]:
    return discovery.list_namespaced_endpoint_slice(
        namespace, label_selector=f"kubernetes.io/service-name={service}", _request_timeout=REQUEST_TIMEOUT).items


def endpoints_ready(api: Any, namespace: str, service: str, *, at_least: int = 1) -> Named:
    """The Service has at least ``at_least`` ready endpoints in its EndpointSlices
    (label ``kubernetes.io/service-name``)."""
    discovery = typed_api(api, "DiscoveryV1Api")

    def check() -> tuple[bool, str]:
        addrs = ready_endpoints(_slices(discovery, namespace, service))
        return len(addrs) >= at_least, f"{len(addrs)} ready endpoints ({', '.join(addrs[:5]) or 'none'})"

    return Named(check, f"service {namespace}/{service} to have {at_least}+ ready endpoints")


def endpoints_empty(api: Any, namespace: str, service: str) -> Named:
    """The Service has no ready endpoints (e.g. every pod turned unready during a database outage)."""
    discovery = typed_api(api, "DiscoveryV1Api")

    def check() -> tuple[bool, str]:
        addrs = ready_endpoints(_slices(discovery, namespace, service))
        return not addrs, f"{len(addrs)} ready endpoints ({', '.join(addrs[:5]) or 'none'})"

    return Named(check, f"service {namespace}/{service} to have no ready endpoints")


# --------------------------------------------------------------------------- PDBs


def pdb_state(pdb: Any) -> dict[str, int | bool]:
    """A PodDisruptionBudget's status as numbers
    (https://kubernetes.io/docs/tasks/run-application/configure-pdb/#check-the-status-of-the-pdb).

    Returns:
        ``{"observed": bool, "disruptions_allowed", "current_healthy", "desired_healthy", "expected_pods"}``.
    """
    st = pdb.status
    if st is None:
        return {"observed": False, "disruptions_allowed": 0, "current_healthy": 0, "desired_healthy": 0,
                "expected_pods": 0}
    return {
        "observed": (st.observed_generation or 0) >= (pdb.metadata.generation or 0),
        "disruptions_allowed": int(st.disruptions_allowed or 0),
        "current_healthy": int(st.current_healthy or 0),
        "desired_healthy": int(st.desired_healthy or 0),
        "expected_pods": int(st.expected_pods or 0),
    }


def _pdb_text(s: Mapping[str, Any]) -> str:
    return (f"disruptionsAllowed={s['disruptions_allowed']}, currentHealthy={s['current_healthy']}, "
            f"desiredHealthy={s['desired_healthy']}, expectedPods={s['expected_pods']}"
            + ("" if s["observed"] else " (generation not observed yet)"))


def pdb_disruptions_allowed(api: Any, namespace: str, name: str, *, at_least: int = 1) -> Named:
    """The PDB allows at least ``at_least`` disruptions (so a drain can evict a pod)."""
    policy = typed_api(api, "PolicyV1Api")

    def check() -> tuple[bool, str]:
        s = pdb_state(policy.read_namespaced_pod_disruption_budget(name, namespace, _request_timeout=REQUEST_TIMEOUT))
        return bool(s["observed"]) and s["disruptions_allowed"] >= at_least, _pdb_text(s)

    return Named(check, f"PDB {namespace}/{name} to allow {at_least}+ disruptions")


def pdb_blocks_disruptions(api: Any, namespace: str, name: str) -> Named:
    """The PDB allows no disruption right now (``disruptionsAllowed == 0``), e.g. mid-drain."""
    policy = typed_api(api, "PolicyV1Api")

    def check() -> tuple[bool, str]:
        s = pdb_state(policy.read_namespaced_pod_disruption_budget(name, namespace, _request_timeout=REQUEST_TIMEOUT))
        return bool(s["observed"]) and s["disruptions_allowed"] == 0, _pdb_text(s)

    return Named(check, f"PDB {namespace}/{name} to allow no disruptions")


# --------------------------------------------------------------------------- jobs


def job_state(job: Any) -> tuple[bool, str]:
    """Done when the Job has condition Complete=True
    (https://kubernetes.io/docs/concepts/workloads/controllers/job/#job-termination-and-cleanup).

    Raises:
        WaitFailed: condition Failed=True (reason and message included).
    """
    st = job.status
    if st is None:
        return False, "no status yet"
    failed = _cond_true(st.conditions, "Failed")
    if failed is not None:
        raise WaitFailed(f"job {job.metadata.name} failed: {failed.reason or ''} {failed.message or ''}".strip())
    counts = f"{st.succeeded or 0} succeeded, {st.active or 0} active, {st.failed or 0} failed"
    if _cond_true(st.conditions, "Complete") is not None:
        return True, f"complete ({counts})"
    return False, counts


def job_complete(api: Any, namespace: str, name: str, *, fatal: Iterable[str] = IMAGE_REASONS) -> Named:
    """The Job completed; fails fast when it failed or its pods cannot pull their image.

    CrashLoopBackOff is *not* fatal for Job pods by default: a migration Job with
    ``restartPolicy: OnFailure`` may crash until the database answers and still succeed within
    its backoffLimit.
    """
    batch = typed_api(api, "BatchV1Api")
    core = typed_api(api, "CoreV1Api")

    def check() -> tuple[bool, str]:
        job = _read_or_none(batch.read_namespaced_job_status, name, namespace)
        if job is None:
            return False, "job not found"
        done, state = job_state(job)
        if not done:
            pods = core.list_namespaced_pod(namespace, label_selector=f"job-name={name}",
                                            _request_timeout=REQUEST_TIMEOUT).items
            for p in pods:
                problem = pod_problem(p, fatal)
                if problem:
                    raise WaitFailed(f"job {name}: {problem}")
        return done, state

    return Named(check, f"job {namespace}/{name} complete")
