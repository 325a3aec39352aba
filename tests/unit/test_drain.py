"""harness.k8s.drain with a fake API server: evictions, 429 retries, a PDB that never allows, budgets."""
from __future__ import annotations

import json

import pytest
from kubernetes.client.exceptions import ApiException
from unit_helpers import kobj

from harness.k8s.drain import (
    DrainBlocked,
    DrainTimeout,
    cordoned,
    covering_pdbs,
    drain_node,
    never_allows,
    pods_to_evict,
)


def _pod(name, ns="app", labels=None, owner="ReplicaSet", node="w1", uid=None, mirror=False, phase="Running"):
    md = {"name": name, "namespace": ns, "labels": labels or {"app": "web"}, "uid": uid or f"uid-{name}",
          "ownerReferences": [{"apiVersion": "apps/v1", "kind": owner, "name": "o", "uid": "o"}]}
    if mirror:
        md["annotations"] = {"kubernetes.io/config.mirror": "x"}
    return kobj("V1Pod", {"metadata": md, "spec": {"nodeName": node, "containers": [{"name": "c", "image": "i"}]},
                          "status": {"phase": phase}})


def _pdb(name="web", ns="app", allowed=1, healthy=3, desired=2, expected=3, labels=None):
    return kobj("V1PodDisruptionBudget", {
        "metadata": {"name": name, "namespace": ns, "generation": 1},
        "spec": {"selector": {"matchLabels": labels or {"app": "web"}}},
        "status": {"observedGeneration": 1, "disruptionsAllowed": allowed, "currentHealthy": healthy,
                   "desiredHealthy": desired, "expectedPods": expected}})


def _429(pdb="web"):
    exc = ApiException(status=429, reason="Too Many Requests")
    exc.body = json.dumps({"kind": "Status", "message": "Cannot evict pod as it would violate the pod's "
                           "disruption budget.", "details": {"causes": [{"reason": "DisruptionBudget",
                           "message": f"The disruption budget {pdb} needs 3 healthy pods and has 3 currently"}]}})
    return exc


class FakeApi:
    """CoreV1Api + PolicyV1Api methods the drain uses; ``refuse`` decides per (pod, attempt n)."""

    def __init__(self, pods, pdbs, refuse=lambda pod, n: False, vanish_after=0):
        self.pods = {p.metadata.name: p for p in pods}
        self.pdbs = pdbs
        self.refuse = refuse
        self.calls: list[tuple] = []
        self.attempts: dict[str, int] = {}
        self.vanish_after = vanish_after
        self.reads: dict[str, int] = {}
        self.unschedulable: dict[str, bool] = {}

    def patch_node(self, name, body, **_):
        self.unschedulable[name] = body["spec"]["unschedulable"]
        self.calls.append(("patch_node", name, body["spec"]["unschedulable"]))

    def list_pod_for_all_namespaces(self, field_selector, **_):
        node = field_selector.split("=", 1)[1]
        return type("L", (), {"items": [p for p in self.pods.values() if p.spec.node_name == node]})()

    def list_namespaced_pod_disruption_budget(self, ns, **_):
        return type("L", (), {"items": [b for b in self.pdbs if b.metadata.namespace == ns]})()

    def create_namespaced_pod_eviction(self, name, ns, body, **_):
        n = self.attempts.get(name, 0)
        self.attempts[name] = n + 1
        self.calls.append(("evict", name))
        if self.refuse(name, n):
            raise _429()

    def read_namespaced_pod(self, name, ns, **_):
        self.reads[name] = self.reads.get(name, 0) + 1
        if self.reads[name] > self.vanish_after:
            raise ApiException(status=404, reason="Not Found")
        return self.pods[name]


class Clock:
    def __init__(self):
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self):
        return self.now

    def sleep(self, s):
        self.sleeps.append(s)
        self.now += s


def test_evicts_every_pod_and_waits_until_gone():
    api = FakeApi([_pod("a"), _pod("b"), _pod("c", node="w2")], [_pdb(allowed=1)], vanish_after=1)
    clock = Clock()
    rep = drain_node(api, "w1", namespaces=["app"], clock=clock, sleep=clock.sleep)
    assert rep.outcome == "done"
    assert rep.pods == ["app/a", "app/b"] and rep.evicted == ["app/a", "app/b"]
    assert sorted(rep.gone) == ["app/a", "app/b"]
    assert api.calls[0] == ("patch_node", "w1", True)
    assert rep.refusals == 0
    assert rep.disruptions_allowed_at_start == {"app/web": 1}
    assert rep.refusals_expected  # 2 pods, 1 disruption allowed


def test_429_is_retried_with_backoff_until_the_pdb_allows():
    # b is refused three times (its sibling's replacement is not Ready yet), then accepted
    api = FakeApi([_pod("a"), _pod("b")], [_pdb(allowed=1, healthy=2, desired=2, expected=3)],
                  refuse=lambda pod, n: pod == "b" and n < 3)
    clock = Clock()
    seen = []
    rep = drain_node(api, "w1", namespaces=["app"], clock=clock, sleep=clock.sleep, on_attempt=seen.append)
    assert rep.outcome == "done"
    assert rep.refusals == 3 and rep.pdb == "app/web"
    assert [a.status for a in rep.attempts] == [201, 429, 429, 429, 201]
    assert clock.sleeps[:3] == [1.0, 2.0, 4.0]
    assert [a.status for a in seen] == [201, 429, 429, 429, 201]
    assert "disruption budget" in rep.attempts[1].message


def test_a_pdb_that_never_allows_blocks_the_drain_early():
    blocking = _pdb(name="web", allowed=0, healthy=3, desired=3, expected=3)
    api = FakeApi([_pod("a")], [blocking], refuse=lambda pod, n: True)
    clock = Clock()
    with pytest.raises(DrainBlocked) as err:
        drain_node(api, "w1", namespaces=["app"], budget=120, blocked_after=15, clock=clock, sleep=clock.sleep)
    msg = str(err.value)
    assert msg.startswith("drain blocked by PodDisruptionBudget app/web: ")
    assert "needs 3 healthy pods of 3 and allows 0 disruptions" in msg
    rep = err.value.report
    assert rep.outcome == "blocked" and rep.pdb == "app/web"
    assert 15 <= rep.seconds < 30  # gave up early, not after the 120 s budget
    assert rep.refusals >= 3


def test_a_pdb_waiting_for_a_replacement_is_not_hopeless():
    assert not never_allows(_pdb(allowed=0, healthy=2, desired=2, expected=3))
    assert never_allows(_pdb(allowed=0, healthy=3, desired=3, expected=3))
    assert not never_allows(_pdb(allowed=1, healthy=3, desired=2, expected=3))


def test_budget_runs_out_while_refused():
    api = FakeApi([_pod("a")], [_pdb(allowed=0, healthy=2, desired=2, expected=3)], refuse=lambda pod, n: True)
    clock = Clock()
    with pytest.raises(DrainTimeout) as err:
        drain_node(api, "w1", namespaces=["app"], budget=20, clock=clock, sleep=clock.sleep)
    assert "did not finish within 20 s" in str(err.value)
    assert "refusals by PodDisruptionBudget app/web" in str(err.value)
    assert err.value.report.outcome == "timeout" and err.value.report.pdb == "app/web"


def test_budget_runs_out_while_pods_terminate():
    api = FakeApi([_pod("a")], [], vanish_after=10**6)
    clock = Clock()
    with pytest.raises(DrainTimeout, match="evicted pods still terminating: app/a"):
        drain_node(api, "w1", namespaces=["app"], budget=5, clock=clock, sleep=clock.sleep)


def test_skips_daemonset_mirror_finished_and_other_namespaces():
    pods = [_pod("ds", owner="DaemonSet"), _pod("mirror", mirror=True), _pod("done", phase="Succeeded"),
            _pod("other", ns="kube-system"), _pod("web")]
    assert [p.metadata.name for p in pods_to_evict(pods, ["app"])] == ["web"]
    assert [p.metadata.name for p in pods_to_evict(pods)] == ["other", "web"]


def test_covering_pdbs_by_selector_and_namespace():
    pod = _pod("a", labels={"app": "web", "tier": "x"})
    pdbs = [_pdb("match"), _pdb("other-app", labels={"app": "db"}), _pdb("other-ns", ns="b")]
    assert [b.metadata.name for b in covering_pdbs(pdbs, pod)] == ["match"]


def test_cordoned_uncordons_even_on_failure():
    api = FakeApi([], [])
    with pytest.raises(RuntimeError), cordoned(api, "w1"):
        assert api.unschedulable["w1"] is True
        raise RuntimeError("boom")
    assert api.unschedulable["w1"] is False


def test_not_found_subclass_counts_as_gone():
    """The client raises NotFoundException (an ApiException subclass) for 404s."""
    from kubernetes.client.exceptions import NotFoundException

    class Api(FakeApi):
        def read_namespaced_pod(self, name, ns, **_):
            raise NotFoundException(status=404, reason="Not Found")

    api = Api([_pod("a")], [])
    clock = Clock()
    rep = drain_node(api, "w1", namespaces=["app"], clock=clock, sleep=clock.sleep)
    assert rep.outcome == "done" and rep.gone == ["app/a"]
