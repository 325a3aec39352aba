"""ScenarioContext's release and pod readers go through harness/scenario/observer.py: the release from
its storage Secrets, the pods from the watch's memory, and no helm process (no cluster here)."""
from __future__ import annotations

import types

import pytest
from kubernetes import client
from observe_fakes import MANIFEST_V1, MANIFEST_V2, FakeReader, pod

from harness.core.redact import Redactor
from harness.k8s.informer import PodInformer
from harness.k8s.release_store import ReleaseStore
from harness.scenario.context import ScenarioContext
from harness.scenario.observer import ReleaseObserver, selectors_of
from harness.tools.exec import started, started_since


class NoHelm:
    """A Helm that fails the test when anything asks it for anything."""

    def __getattr__(self, name):
        raise AssertionError(f"helm.{name} was called")


class FakeApps:
    def __init__(self, api=None):
        pass

    def read_namespaced_deployment(self, name, namespace, **kw):
        return types.SimpleNamespace(spec=types.SimpleNamespace(replicas=2))

    def read_namespaced_stateful_set(self, name, namespace, **kw):
        raise AssertionError("no StatefulSet in the manifest")


def observer(pods, *, synced=True, reader=None):
    reader = reader or FakeReader()
    if not reader.secrets:
        reader.put("demo", 1, MANIFEST_V1)
    inf = PodInformer(None, "ns")
    inf.replace(pods, "1")
    inf.ensure = lambda **kw: synced  # type: ignore[method-assign]
    return ReleaseObserver(None, "ns", "demo", store=ReleaseStore(None, "ns", "demo", reader=reader), informer=inf)


def context(obs):
    ctx = object.__new__(ScenarioContext)
    ctx.observer = obs
    ctx.helm = NoHelm()
    ctx.release = "demo"
    ctx.namespace = "ns"
    ctx.redactor = Redactor()
    return ctx


def test_context_reads_come_from_the_store_and_the_watch(monkeypatch):
    monkeypatch.setattr(client, "AppsV1Api", FakeApps)
    pods = [pod("demo-1", "1", restarts=1), pod("demo-2", "1", ready=False),
            pod("demo-old", "1", deleting=True), pod("migrate", "1", labels={"job-name": "migrate"})]
    ctx = context(observer(pods))
    before = started()
    assert ctx.workloads() == [("Deployment", "demo")]
    assert ctx.selectors() == ["app=demo"]
    assert [o["kind"] for o in ctx.manifest()] == ["Deployment", "Service"]
    assert sorted(p.metadata.name for p in ctx.pods()) == ["demo-1", "demo-2"]
    assert sorted(p.metadata.name for p in ctx.pods(include_terminating=True)) == ["demo-1", "demo-2", "demo-old"]
    facts = ctx.pods_facts(["1.0"])
    assert (facts.ready, facts.desired) == (1, 2)
    assert facts.images == {"demo-1": ["demo:1.0"], "demo-2": ["demo:1.0"]}
    assert ctx.restart_counts() == {"demo-1/web": 1, "demo-2/web": 0, "demo-old/web": 0}
    assert ctx.desired_replicas() == 2
    assert started_since(before) == {}


def test_wait_no_terminating_reads_memory_until_the_pod_is_gone():
    obs = observer([pod("demo-1", "1"), pod("demo-old", "1", deleting=True)])
    ctx = context(obs)
    obs.informer.apply({"type": "DELETED", "object": pod("demo-old", "2", deleting=True)})
    ctx.wait_no_terminating(timeout=5)
    assert obs.terminating() == []


def test_repeated_reads_decode_the_release_once_and_follow_a_new_revision():
    reader = FakeReader()
    reader.put("demo", 1, MANIFEST_V1)
    obs = observer([pod("demo-1", "1")], reader=reader)
    for _ in range(10):
        obs.pods()
        obs.workloads()
    assert obs.store.decode_count == 1
    reader.put("demo", 2, MANIFEST_V2)
    assert obs.status() == ("deployed", 2)
    assert "demo:2.0" in str(obs.manifest())
    assert obs.store.decode_count == 2
    assert list(obs.probe_bounds().values())[0]["readiness_period"] == 2.0


def test_manifest_is_a_copy():
    obs = observer([])
    obs.manifest()[0]["kind"] = "Changed"
    assert obs.workloads() == [("Deployment", "demo")]


def test_pods_are_listed_from_the_api_while_the_watch_is_not_in_sync(monkeypatch):
    seen = []

    class FakeCore:
        def __init__(self, api=None):
            pass

        def list_namespaced_pod(self, namespace, label_selector="", **kw):
            seen.append(label_selector)
            return types.SimpleNamespace(items=[pod("listed", "1"), pod("gone", "1", deleting=True)])

    monkeypatch.setattr(client, "CoreV1Api", FakeCore)
    obs = observer([pod("from-memory", "1")], synced=False)
    assert [p.metadata.name for p in obs.pods()] == ["listed"]
    assert seen == ["app=demo"]


@pytest.mark.parametrize("spec, want", [
    ({"selector": {"matchLabels": {"app": "x", "n": 1}}}, [{"app": "x", "n": "1"}]),
    ({"selector": {"matchExpressions": []}}, [{}]),
    ({}, [{}]),
])
def test_selectors_of(spec, want):
    assert selectors_of([{"kind": "Deployment", "metadata": {"name": "d"}, "spec": spec},
                         {"kind": "Service", "metadata": {"name": "s"}}]) == want
