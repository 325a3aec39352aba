"""wait_for (timeout message, fail-fast, transient errors), watch_until, and the conditions."""
from __future__ import annotations

import pytest
from kubernetes.client.exceptions import ApiException
from unit_helpers import kobj

from harness.core.errors import WaitFailed, WaitTimeout
from harness.k8s import conditions as cond
from harness.k8s.wait import Named, all_of, gone, wait_for, watch_until


class FakeClock:
    """Time advances only when the code under test sleeps: no real sleeping in these tests."""

    def __init__(self):
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_wait_for_returns_when_done():
    clock = FakeClock()
    states = iter([(False, "0/2 ready"), (False, "1/2 ready"), (True, "2/2 ready")])
    got = wait_for(lambda: next(states), timeout=30, interval=2, what="x", clock=clock, sleep=clock.sleep)
    assert got == "2/2 ready"
    assert clock.sleeps == [2, 2]


def test_wait_for_timeout_says_what_budget_and_last_state():
    clock = FakeClock()
    n = iter(range(1000))
    with pytest.raises(WaitTimeout) as err:
        wait_for(lambda: (False, f"{next(n)}/3 pods ready"), timeout=10, interval=3, what="pods app=web ready",
                 hint="check the image tag", clock=clock, sleep=clock.sleep)
    e = err.value
    assert str(e) == ("timed out after 10 s waiting for pods app=web ready; last seen: 4/3 pods ready "
                      "(check the image tag)")
    assert (e.what, e.timeout, e.last_state) == ("pods app=web ready", 10, "4/3 pods ready")
    assert sum(clock.sleeps) == pytest.approx(10)  # never sleeps past the deadline
    assert clock.sleeps[-1] == pytest.approx(1)


def test_wait_for_fails_fast():
    clock = FakeClock()
    calls = []

    def condition():
        calls.append(1)
        if len(calls) == 2:
            raise WaitFailed("pod web-1 container app: CrashLoopBackOff")
        return False, "starting"

    with pytest.raises(WaitFailed) as err:
        wait_for(Named(condition, "deployment ns/web rolled out"), timeout=300, interval=5, clock=clock,
                 sleep=clock.sleep)
    assert str(err.value) == ("gave up waiting for deployment ns/web rolled out: "
                              "pod web-1 container app: CrashLoopBackOff")
    assert len(calls) == 2 and clock.now - 1000 == 5  # stopped at once, not after 300 s


def test_wait_for_transient_errors_retry_others_raise():
    clock = FakeClock()
    seq = iter([ApiException(status=503, reason="Service Unavailable"), (True, "ok")])

    def condition():
        item = next(seq)
        if isinstance(item, Exception):
            raise item
        return item

    assert wait_for(condition, timeout=10, interval=1, what="x", clock=clock, sleep=clock.sleep) == "ok"
    with pytest.raises(ApiException):
        wait_for(lambda: (_ for _ in ()).throw(ApiException(status=403)), timeout=10, what="x", clock=clock,
                 sleep=clock.sleep)
    with pytest.raises(WaitTimeout, match="last seen: transient error: ApiException"):
        wait_for(lambda: (_ for _ in ()).throw(ApiException(status=500)), timeout=4, interval=1, what="x",
                 clock=clock, sleep=clock.sleep)


def test_all_of_lists_pending():
    a = Named(lambda: (True, "fine"), "a")
    b = Named(lambda: (False, "0 endpoints"), "b")
    done, state = all_of(a, b)()
    assert not done and state == "b: 0 endpoints"


# ----------------------------------------------------------------------------- watch_until


class FakeList:
    def __init__(self, names, rv="10"):
        self.items = [kobj("V1Namespace", {"metadata": {"name": n}, "status": {"phase": "Terminating"}})
                      for n in names]
        self.metadata = kobj("V1ListMeta", {"resourceVersion": rv})


class FakeWatch:
    def __init__(self, events):
        self.events = events
        self.kwargs = None
        self.stopped = False

    def stream(self, fn, **kwargs):
        self.kwargs = kwargs
        yield from self.events

    def stop(self):
        self.stopped = True


def test_watch_until_follows_events_from_list_resource_version():
    deleted = {"type": "DELETED", "object": kobj("V1Namespace", {"metadata": {"name": "ns-a"}})}
    watch = FakeWatch([deleted])
    state = watch_until(lambda **kw: FakeList(["ns-a"]), gone(["ns-a"]), timeout=60, what="ns-a deleted",
                        watch_factory=lambda: watch, field_selector="metadata.name=ns-a")
    assert state == "all deleted"
    assert watch.kwargs["resource_version"] == "10" and watch.kwargs["field_selector"] == "metadata.name=ns-a"
    assert watch.stopped


def test_watch_until_times_out_with_last_state():
    clock = FakeClock()

    class AdvancingWatch(FakeWatch):
        def stream(self, fn, **kwargs):
            clock.now += 100
            return iter(())

    with pytest.raises(WaitTimeout, match=r"timed out after 30 s waiting for ns-a deleted; "
                                          r"last seen: still present: ns-a \(Terminating\)"):
        watch_until(lambda **kw: FakeList(["ns-a"]), gone(["ns-a"]), timeout=30, what="ns-a deleted",
                    watch_factory=lambda: AdvancingWatch([]), clock=clock)


# ----------------------------------------------------------------------------- conditions


def deployment(*, gen=2, observed=2, replicas=3, updated=3, total=3, available=3, unavailable=None, conditions=(),
               revision="2"):
    return kobj("V1Deployment", {
        "metadata": {"name": "web", "namespace": "ns", "generation": gen, "uid": "dep-uid",
                     "annotations": {"deployment.kubernetes.io/revision": revision}},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}}, "template": {}},
        "status": {"observedGeneration": observed, "updatedReplicas": updated, "replicas": total,
                   "availableReplicas": available, "unavailableReplicas": unavailable,
                   "conditions": list(conditions)},
    })


@pytest.mark.parametrize(("kw", "done", "fragment"), [
    ({}, True, "rolled out"),
    ({"gen": 3, "observed": 2}, False, "generation 3 not observed yet"),
    ({"updated": 1, "total": 4, "available": 3}, False, "waiting for new replicas to be updated"),
    ({"total": 5}, False, "2 old replicas pending termination"),
    ({"available": 2}, False, "waiting for updated replicas to become available"),
    ({"unavailable": 1}, False, "replicas still unavailable"),  # never trust one signal
])
def test_deployment_state(kw, done, fragment):
    got_done, state = cond.deployment_state(deployment(**kw))
    assert got_done is done and fragment in state


def test_deployment_progress_deadline_fails_fast():
    dep = deployment(updated=1, conditions=[{"type": "Progressing", "status": "False",
                                             "reason": "ProgressDeadlineExceeded",
                                             "message": 'ReplicaSet "web-2" has timed out progressing.'}])
    with pytest.raises(WaitFailed, match='deployment web exceeded its progress deadline: ReplicaSet "web-2"'):
        cond.deployment_state(dep)


def pod(name, *, ready=True, waiting=None, restarts=0, labels=None, deleting=False):
    state = {"waiting": {"reason": waiting, "message": "back-off 40s restarting failed container"}} if waiting \
        else {"running": {}}
    return kobj("V1Pod", {
        "metadata": {"name": name, "labels": labels or {"app": "web"},
                     **({"deletionTimestamp": "2025-01-01T00:00:00Z"} if deleting else {})},
        "status": {"phase": "Running",
                   "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
                   "containerStatuses": [{"name": "app", "ready": ready, "restartCount": restarts, "image": "i",
                                          "imageID": "", "state": state}]},
    })


@pytest.mark.parametrize("reason", ["CrashLoopBackOff", "ImagePullBackOff", "ErrImageNeverPull"])
def test_pods_state_fails_fast_on_fatal_reasons(reason):
    with pytest.raises(WaitFailed, match=f"pod web-b container app: {reason} \\(back-off 40s"):
        cond.pods_state([pod("web-a"), pod("web-b", ready=False, waiting=reason)])


def test_pods_state_counts_and_ignores_terminating():
    assert cond.pods_state([pod("a"), pod("b", ready=False, waiting="ContainerCreating")]) == (
        False, "1/2 pods ready (not ready: b)")
    assert cond.pods_state([pod("a"), pod("old", ready=False, waiting="CrashLoopBackOff", deleting=True)])[0] is True
    assert cond.pods_state([], min_count=1)[0] is False
    assert cond.pods_state([pod("b", ready=False, waiting="ErrImagePull")])[0] is False  # first pull error: wait


class FakeApps:
    """Typed-API stand-in: a deployment whose current ReplicaSet (revision 2) has hash 'new'."""

    def __init__(self, dep, pods):
        self.dep, self.pods = dep, pods

    def read_namespaced_deployment_status(self, name, namespace, **kw):
        return self.dep

    def list_namespaced_replica_set(self, namespace, label_selector, **kw):
        def rs(name, rev, pth):
            return kobj("V1ReplicaSet", {"metadata": {
                "name": name, "labels": {"app": "web", "pod-template-hash": pth},
                "annotations": {"deployment.kubernetes.io/revision": rev},
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web",
                                     "uid": "dep-uid"}]}, "spec": {"selector": {"matchLabels": {"app": "web"}}}})
        return _List([rs("web-old", "1", "old"), rs("web-new", "2", "new")])

    def list_namespaced_pod(self, namespace, label_selector, **kw):
        want = dict(p.split("=") for p in label_selector.split(","))
        return _List([p for p in self.pods if all(p.metadata.labels.get(k) == v for k, v in want.items())])


class _List:
    def __init__(self, items):
        self.items = items


def test_deployment_rolled_out_fails_fast_only_for_current_revision_pods():
    crashing_old = pod("web-old-1", ready=False, waiting="CrashLoopBackOff",
                       labels={"app": "web", "pod-template-hash": "old"})
    starting_new = pod("web-new-1", ready=False, waiting="ContainerCreating",
                       labels={"app": "web", "pod-template-hash": "new"})
    api = FakeApps(deployment(available=2), [crashing_old, starting_new])
    c = cond.deployment_rolled_out(api, "ns", "web")
    assert c.what == "deployment ns/web rolled out"
    done, state = c()  # the old revision's crash does not fail a rollback/rollout to revision 2
    assert not done and "become available" in state
    crashing_new = pod("web-new-2", ready=False, waiting="CrashLoopBackOff",
                       labels={"app": "web", "pod-template-hash": "new"})
    api.pods.append(crashing_new)
    with pytest.raises(WaitFailed, match="deployment web revision 2: pod web-new-2 container app: CrashLoopBackOff"):
        c()


def job(conditions=(), **counts):
    return kobj("V1Job", {"metadata": {"name": "migrate"}, "spec": {"template": {}},
                          "status": {"conditions": list(conditions), **counts}})


def test_job_state():
    assert cond.job_state(job(active=1)) == (False, "0 succeeded, 1 active, 0 failed")
    assert cond.job_state(job([{"type": "Complete", "status": "True"}], succeeded=1))[0] is True
    with pytest.raises(WaitFailed, match="job migrate failed: BackoffLimitExceeded Job has reached the specified"):
        cond.job_state(job([{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded",
                             "message": "Job has reached the specified backoff limit"}], failed=3))


def test_ready_endpoints_nil_ready_counts_as_ready():
    sl = kobj("V1EndpointSlice", {"addressType": "IPv4", "metadata": {"name": "web-abc"}, "endpoints": [
        {"addresses": ["10.0.0.1"], "conditions": {"ready": True}},
        {"addresses": ["10.0.0.2"], "conditions": {"ready": False, "terminating": True}},
        {"addresses": ["10.0.0.3"]},
    ]})
    assert cond.ready_endpoints([sl]) == ["10.0.0.1", "10.0.0.3"]


def test_pdb_state_and_conditions():
    def pdb(allowed, observed=1):
        return kobj("V1PodDisruptionBudget", {"metadata": {"name": "web", "generation": 1}, "spec": {},
                                              "status": {"observedGeneration": observed, "disruptionsAllowed": allowed,
                                                         "currentHealthy": 3, "desiredHealthy": 2,
                                                         "expectedPods": 3}})

    class Policy:
        value = pdb(1)

        def read_namespaced_pod_disruption_budget(self, name, namespace, **kw):
            return self.value

    p = Policy()
    assert cond.pdb_disruptions_allowed(p, "ns", "web")() == (
        True, "disruptionsAllowed=1, currentHealthy=3, desiredHealthy=2, expectedPods=3")
    assert cond.pdb_blocks_disruptions(p, "ns", "web")()[0] is False
    p.value = pdb(1, observed=0)
    assert cond.pdb_disruptions_allowed(p, "ns", "web")()[0] is False  # stale status is not trusted
    p.value = pdb(0)
    assert cond.pdb_blocks_disruptions(p, "ns", "web")()[0] is True


def test_restart_counts_and_delta():
    before = cond.restart_counts([pod("a", restarts=1), pod("b")])
    after = cond.restart_counts([pod("a", restarts=3), pod("b"), pod("c", restarts=1)])
    assert before == {"a/app": 1, "b/app": 0}
    assert cond.restarts_since(before, after) == {"a/app": 2, "c/app": 1}
