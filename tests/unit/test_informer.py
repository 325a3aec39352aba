"""The pod informer (harness/k8s/informer.py) fed with fake watch events: no cluster."""
from __future__ import annotations

import threading

import pytest
from kubernetes.client.exceptions import ApiException
from observe_fakes import pod

from harness.k8s.informer import PodInformer, Relist
from harness.k8s.wait import wait_for


def names(pods) -> list[str]:
    return sorted(p.metadata.name for p in pods)


def test_list_then_events_keep_the_current_set():
    inf = PodInformer(None, "ns")
    inf.replace([pod("a", "1"), pod("b", "2")], "2")
    inf.apply({"type": "ADDED", "object": pod("c", "3")})
    inf.apply({"type": "MODIFIED", "object": pod("a", "4", ready=False, restarts=2)})
    inf.apply({"type": "DELETED", "object": pod("b", "5")})
    assert names(inf.pods()) == ["a", "c"]
    a = next(p for p in inf.pods() if p.metadata.name == "a")
    assert a.status.container_statuses[0].restart_count == 2
    assert inf.resource_version == "5"


def test_a_terminating_pod_stays_until_deleted():
    inf = PodInformer(None, "ns")
    inf.replace([pod("a", "1")], "1")
    inf.apply({"type": "MODIFIED", "object": pod("a", "2", deleting=True)})
    assert [p.metadata.deletion_timestamp is not None for p in inf.pods()] == [True]
    inf.apply({"type": "DELETED", "object": pod("a", "3", deleting=True)})
    assert inf.pods() == []


def test_the_delete_of_an_older_pod_keeps_its_successor_of_the_same_name():
    inf = PodInformer(None, "ns")
    inf.replace([], "1")
    inf.apply({"type": "ADDED", "object": pod("web-0", "2", uid="new")})
    inf.apply({"type": "DELETED", "object": pod("web-0", "3", uid="old")})
    assert [p.metadata.uid for p in inf.pods()] == ["new"]


def test_a_relist_replaces_everything():
    inf = PodInformer(None, "ns")
    inf.replace([pod("a", "1"), pod("b", "1")], "1")
    inf.replace([pod("b", "9"), pod("c", "9")], "9")
    assert names(inf.pods()) == ["b", "c"]


def test_selector_matches_label_subsets():
    inf = PodInformer(None, "ns")
    inf.replace([pod("web", "1", labels={"app": "demo", "tier": "web"}), pod("job", "1", labels={"job-name": "m"}),
                 pod("bare", "1", labels={})], "1")
    assert names(inf.pods({"app": "demo"})) == ["web"]
    assert names(inf.pods({"app": "demo", "tier": "db"})) == []
    assert names(inf.pods({})) == ["bare", "job", "web"]


def test_bookmark_advances_the_resource_version_only():
    inf = PodInformer(None, "ns")
    inf.replace([pod("a", "1")], "1")
    raw = {"kind": "Pod", "apiVersion": "v1", "metadata": {"resourceVersion": "42"}}
    inf.apply({"type": "BOOKMARK", "object": raw, "raw_object": raw})
    assert inf.resource_version == "42" and names(inf.pods()) == ["a"]


def test_error_events():
    inf = PodInformer(None, "ns")
    gone = {"kind": "Status", "code": 410, "reason": "Expired", "message": "too old resource version: 1 (50)"}
    with pytest.raises(Relist):
        inf.apply({"type": "ERROR", "object": gone, "raw_object": gone})
    other = {"kind": "Status", "code": 500, "reason": "InternalError", "message": "boom"}
    with pytest.raises(RuntimeError, match="watch error 500: InternalError: boom"):
        inf.apply({"type": "ERROR", "object": other, "raw_object": other})


class Script:
    """A fake API: ``lists`` answers the list calls in order; ``watches`` the watch calls (a list of
    events, or an exception to raise); once used up, a watch waits for ``done`` and ends."""

    def __init__(self, lists, watches):
        self.lists = list(lists)
        self.watches = list(watches)
        self.list_calls = 0
        self.watch_calls: list[str | None] = []
        self.done = threading.Event()

    def lister(self, namespace):
        self.list_calls += 1
        return self.lists.pop(0) if self.lists else ([], "0")

    def stream(self, namespace, rv, timeout):
        self.watch_calls.append(rv)
        if not self.watches:
            self.done.wait(0.05)
            return
        step = self.watches.pop(0)
        if isinstance(step, Exception):
            raise step
        yield from step


def test_the_loop_resumes_from_the_last_version_and_relists_on_410():
    script = Script(lists=[([pod("a", "1")], "1"), ([pod("b", "20")], "20")],
                    watches=[[{"type": "ADDED", "object": pod("c", "2")}],          # ends: resume from 2
                             [{"type": "DELETED", "object": pod("a", "3")}],
                             ApiException(status=410, reason="Gone"),                 # expired: list again
                             [{"type": "ADDED", "object": pod("d", "21")}]])
    inf = PodInformer(None, "ns", lister=script.lister, stream=script.stream, slice_seconds=1)
    try:
        assert inf.start(sync_timeout=5)
        wait_for(lambda: (not script.watches and len(script.watch_calls) > 4, f"{script.watch_calls}"),
                 timeout=10, interval=0.01, what="the scripted watch to be used up")
        assert names(inf.pods()) == ["b", "d"]
        assert script.list_calls == 2
        assert script.watch_calls[:4] == ["1", "2", "3", "20"]
        assert inf.usable()
    finally:
        script.done.set()
        inf.stop()
    assert not inf.usable()


def test_an_error_makes_readers_list_directly_until_the_relist():
    script = Script(lists=[([pod("a", "1")], "1"), ([pod("a", "5")], "5")],
                    watches=[RuntimeError("connection reset")])
    inf = PodInformer(None, "ns", lister=script.lister, stream=script.stream, slice_seconds=1)
    try:
        assert inf.start(sync_timeout=5)
        wait_for(lambda: (script.list_calls == 2 and inf.usable(), f"lists={script.list_calls}"),
                 timeout=10, interval=0.01, what="the informer to list again after an error")
        assert inf.errors == ["RuntimeError: connection reset"]
    finally:
        script.done.set()
        inf.stop()


def test_an_unread_informer_stops_and_ensure_starts_it_again():
    script = Script(lists=[([pod("a", "1")], "1"), ([pod("b", "2")], "2")], watches=[])
    inf = PodInformer(None, "ns", lister=script.lister, stream=script.stream, slice_seconds=1, idle_stop=0.2)
    try:
        assert inf.start(sync_timeout=5)
        first = inf._thread
        first.join(10)
        assert not first.is_alive() and not inf.usable()
        assert inf.ensure(sync_timeout=5)
        assert names(inf.pods()) == ["b"] and script.list_calls == 2
    finally:
        script.done.set()
        inf.stop()


def test_the_watch_ends_after_its_maximum_duration():
    script = Script(lists=[([pod("a", "1")], "1")], watches=[])
    inf = PodInformer(None, "ns", lister=script.lister, stream=script.stream, max_duration=0.2)
    try:
        inf.start(sync_timeout=5)
        inf._thread.join(10)
        assert not inf._thread.is_alive() and not inf.usable()
    finally:
        script.done.set()
        inf.stop()
