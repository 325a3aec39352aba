"""NamespaceWatch (harness/k8s/watch.py) fed with fake pods, Jobs and watch streams: no cluster.

The event handlers get explicit observation times, so the recorded times are exact. The loop tests
drive the real ``kubernetes.watch.Watch`` over a fake list function whose watch call answers with
scripted JSON lines, the way the API server streams watch events."""
from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime

import pytest
from kubernetes.client import V1JobList, V1PodList
from kubernetes.client.exceptions import ApiException
from unit_helpers import kobj

from harness.k8s.watch import JobState, NamespaceWatch, PodState, _epoch

TRANSITION = "2026-01-01T00:00:05Z"
TRANSITION_EPOCH = datetime(2026, 1, 1, 0, 0, 5, tzinfo=UTC).timestamp()


# --- API-shaped objects ---------------------------------------------------------------------------

def pod_data(name: str, rv: str = "1", *, uid: str | None = None, images: tuple[str, ...] = ("demo:2.0",),
             ready: bool | None = None, owner: str = "ReplicaSet", job: str = "", deleting: bool = False) -> dict:
    """A pod as the API serves it; ``ready=None`` leaves out the status (a pod not yet scheduled)."""
    md: dict = {"name": name, "namespace": "ns", "uid": uid or f"uid-{name}", "resourceVersion": rv,
                "labels": {"app": "demo", **({"job-name": job} if job else {})},
                "ownerReferences": [{"apiVersion": "v1", "kind": owner, "name": f"{name}-owner", "uid": "o"}]}
    if deleting:
        md["deletionTimestamp"] = "2026-01-01T00:01:00Z"
    data: dict = {"metadata": md,
                  "spec": {"containers": [{"name": f"c{i}", "image": im} for i, im in enumerate(images)]}}
    if ready is not None:
        data["status"] = {"conditions": [
            {"type": "PodScheduled", "status": "True"},
            {"type": "Ready", "status": "True" if ready else "False", "lastTransitionTime": TRANSITION}]}
    return data


def job_data(name: str, rv: str = "1", *, uid: str | None = None, hook: str | None = "pre-upgrade",
             created: str | None = "2026-01-01T00:00:00Z", complete: bool = False, failed: bool = False) -> dict:
    md: dict = {"name": name, "namespace": "ns", "uid": uid or f"uid-{name}", "resourceVersion": rv}
    if hook is not None:
        md["annotations"] = {"helm.sh/hook": hook, "helm.sh/hook-delete-policy": "hook-succeeded"}
    if created is not None:
        md["creationTimestamp"] = created
    status: dict = {"active": 1} if not (complete or failed) else {}
    if complete:
        status = {"succeeded": 1, "completionTime": "2026-01-01T00:00:09Z",
                  "conditions": [{"type": "Complete", "status": "True"}]}
    if failed:
        status = {"failed": 1, "conditions": [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded"}]}
    return {"metadata": md, "spec": {"template": {"spec": {"containers": [{"name": "m", "image": "demo:2.0"}]}}},
            "status": status}


def pod(*args, **kwargs):
    return kobj("V1Pod", pod_data(*args, **kwargs))


def job(*args, **kwargs):
    return kobj("V1Job", job_data(*args, **kwargs))


# --- pods -----------------------------------------------------------------------------------------

def test_epoch_converts_api_times_and_keeps_none():
    assert _epoch(None) is None
    assert _epoch(datetime(2026, 1, 1, 0, 0, 5, tzinfo=UTC)) == TRANSITION_EPOCH


def test_a_pod_records_first_seen_images_owner_and_no_job():
    w = NamespaceWatch(None, "ns")
    w._observe_pod("ADDED", pod("web-1", images=("demo:2.0", "proxy:1.4"), ready=False), 100.0)
    st = w.pods["web-1"]
    assert (st.uid, st.images, st.owner_kind, st.job) == ("uid-web-1", ("demo:2.0", "proxy:1.4"), "ReplicaSet", "")
    assert (st.first_seen, st.ready_at, st.not_ready_at, st.deleted_at) == (100.0, None, None, None)


def test_ready_at_is_the_first_time_ready_became_true():
    w = NamespaceWatch(None, "ns")
    w._observe_pod("ADDED", pod("web-1", ready=False), 100.0)
    w._observe_pod("MODIFIED", pod("web-1", "2", ready=True), 105.0)
    st = w.pods["web-1"]
    assert (st.first_seen, st.ready_at, st.ready_transition) == (100.0, 105.0, TRANSITION_EPOCH)
    w._observe_pod("MODIFIED", pod("web-1", "3", ready=True), 107.0)      # still Ready: no new time
    w._observe_pod("MODIFIED", pod("web-1", "4", ready=False), 110.0)
    w._observe_pod("MODIFIED", pod("web-1", "5", ready=True), 120.0)
    assert (st.first_seen, st.ready_at, st.not_ready_at) == (100.0, 105.0, 110.0)


def test_a_pod_without_status_or_owner_is_not_ready():
    w = NamespaceWatch(None, "ns")
    data = pod_data("bare", ready=None)
    del data["metadata"]["ownerReferences"]
    w._observe_pod("ADDED", kobj("V1Pod", data), 100.0)
    st = w.pods["bare"]
    assert (st.owner_kind, st.ready_at, st.ready_transition) == ("", None, None)


def test_a_job_pod_carries_its_job_name():
    w = NamespaceWatch(None, "ns")
    w._observe_pod("ADDED", pod("migrate-x7", owner="Job", job="migrate", ready=False), 100.0)
    w._observe_pod("ADDED", pod("web-1", ready=True), 101.0)
    assert (w.pods["migrate-x7"].job, w.pods["migrate-x7"].owner_kind) == ("migrate", "Job")
    assert w.pods["web-1"].job == ""


def test_deletion_keeps_the_pods_history_and_the_first_deletion_time():
    w = NamespaceWatch(None, "ns")
    w._observe_pod("ADDED", pod("web-1", ready=True), 100.0)
    w._observe_pod("MODIFIED", pod("web-1", "2", ready=True, deleting=True), 130.0)
    w._observe_pod("DELETED", pod("web-1", "3", ready=False, deleting=True), 140.0)
    st = w.pods["web-1"]
    assert (st.ready_at, st.deleted_at, st.not_ready_at) == (100.0, 130.0, None)


def test_a_recreated_pod_of_the_same_name_starts_a_new_history():
    w = NamespaceWatch(None, "ns")
    w._observe_pod("ADDED", pod("db-0", uid="old", images=("demo:1.0",), ready=True), 100.0)
    w._observe_pod("DELETED", pod("db-0", "2", uid="old", images=("demo:1.0",), ready=True), 110.0)
    w._observe_pod("ADDED", pod("db-0", "3", uid="new", ready=False), 111.0)
    st = w.pods["db-0"]
    assert (st.uid, st.images, st.first_seen, st.ready_at, st.deleted_at) == ("new", ("demo:2.0",), 111.0, None, None)


def _addressed(data: dict, *, ips=(), finished=(), created="2026-01-01T00:00:00Z", labels=None) -> object:
    """``data`` (a pod_data dict) with IPs, containers' terminated states, creation time and labels."""
    data["metadata"]["creationTimestamp"] = created
    data["metadata"]["labels"].update(labels or {})
    st = data.setdefault("status", {})
    if ips:
        st["podIP"] = ips[0]
        st["podIPs"] = [{"ip": ip} for ip in ips]
    if finished:
        st["containerStatuses"] = [
            {"name": f"c{i}", "image": "demo:2.0", "imageID": "", "ready": False, "restartCount": 0,
             **({"state": {"terminated": {"exitCode": 0, "finishedAt": f}}} if f else {"state": {"running": {}}})}
            for i, f in enumerate(finished)]
    return kobj("V1Pod", data)


def test_a_pod_records_its_ips_revision_and_how_it_ended():
    w = NamespaceWatch(None, "ns")
    labels = {"pod-template-hash": "7d9f"}
    w._observe_pod("ADDED", _addressed(pod_data("web-1", ready=False), labels=labels), 100.0)
    st = w.pods["web-1"]
    assert (st.ips, st.ip_seen, st.owner, st.revision) == ((), None, "web-1-owner", "7d9f")
    assert st.created == datetime(2026, 1, 1, tzinfo=UTC).timestamp()
    w._observe_pod("MODIFIED", _addressed(pod_data("web-1", "2", ready=True), ips=("10.244.1.7", "fd00::7")), 102.0)
    w._observe_pod("MODIFIED", _addressed(pod_data("web-1", "3", ready=True), ips=("10.244.9.9",)), 103.0)
    assert (st.ips, st.ip_seen) == (("10.244.1.7", "fd00::7"), 102.0)  # an IP stays with its pod
    w._observe_pod("MODIFIED", _addressed(pod_data("web-1", "4", ready=False, deleting=True), ips=("10.244.1.7",),
                                          finished=("2026-01-01T00:00:40Z", None)), 130.0)
    assert st.finished_at is None  # one container still running
    assert st.deletion_deadline == datetime(2026, 1, 1, 0, 1, tzinfo=UTC).timestamp()
    w._observe_pod("DELETED", _addressed(pod_data("web-1", "5", ready=False, deleting=True), ips=("10.244.1.7",),
                                         finished=("2026-01-01T00:00:40Z", "2026-01-01T00:00:42Z")), 140.0)
    assert st.finished_at == datetime(2026, 1, 1, 0, 0, 42, tzinfo=UTC).timestamp()
    assert (st.deleted_at, st.gone_at) == (130.0, 140.0)


def test_a_statefulset_pod_recreated_under_its_name_keeps_the_earlier_one_in_the_history():
    w = NamespaceWatch(None, "ns")
    rev = {"controller-revision-hash": "db-5c6"}
    w._observe_pod("ADDED", _addressed(pod_data("db-0", uid="old", owner="StatefulSet", ready=True), ips=("10.0.0.1",),
                                       labels=rev), 100.0)
    w._observe_pod("DELETED", pod("db-0", "2", uid="old", owner="StatefulSet", ready=True), 110.0)
    w._observe_pod("ADDED", pod("db-0", "3", uid="new", owner="StatefulSet", ready=False), 111.0)
    history = w.pod_history()
    assert [(p.uid, p.ips, p.gone_at) for p in history] == [("old", ("10.0.0.1",), 110.0), ("new", (), None)]
    assert history[0].revision == "db-5c6"
    history[0].ips = ()
    assert w.pod_history()[0].ips == ("10.0.0.1",)  # copies


# --- Jobs -----------------------------------------------------------------------------------------

def test_a_running_hook_job_records_its_annotation_and_creation():
    w = NamespaceWatch(None, "ns")
    w._observe_job("ADDED", job("migrate"), 100.0)
    st = w.jobs["uid-migrate"]
    assert (st.name, st.hook, st.first_seen) == ("migrate", "pre-upgrade", 100.0)
    assert st.created == datetime(2026, 1, 1, tzinfo=UTC).timestamp()
    assert (st.completed_at, st.completion_time, st.failed, st.deleted_at) == (None, None, False, None)
    assert st.outcome == "unknown"          # still running: neither succeeded nor failed


def test_a_hook_job_deleted_right_after_success_keeps_its_completion():
    w = NamespaceWatch(None, "ns")
    w._observe_job("ADDED", job("migrate"), 100.0)
    w._observe_job("MODIFIED", job("migrate", "2", complete=True), 109.5)
    w._observe_job("MODIFIED", job("migrate", "3", complete=True), 109.7)   # a later update: same completion
    w._observe_job("DELETED", job("migrate", "4", complete=True), 110.0)    # helm's hook-succeeded delete
    st = w.jobs["uid-migrate"]
    assert (st.completed_at, st.deleted_at, st.outcome) == (109.5, 110.0, "succeeded")
    assert st.completion_time == datetime(2026, 1, 1, 0, 0, 9, tzinfo=UTC).timestamp()


def test_a_job_first_seen_complete_in_its_delete_event_counts_as_succeeded():
    w = NamespaceWatch(None, "ns")
    w._observe_job("DELETED", job("migrate", complete=True), 120.0)
    st = w.jobs["uid-migrate"]
    assert (st.first_seen, st.completed_at, st.deleted_at, st.outcome) == (120.0, 120.0, 120.0, "succeeded")


def test_a_failed_job_is_failed_and_not_completed():
    w = NamespaceWatch(None, "ns")
    w._observe_job("ADDED", job("migrate"), 100.0)
    w._observe_job("MODIFIED", job("migrate", "2", failed=True), 130.0)
    st = w.jobs["uid-migrate"]
    assert (st.failed, st.completed_at, st.completion_time, st.outcome) == (True, None, None, "failed")


def test_jobs_are_kept_per_uid_so_each_upgrades_hook_run_counts():
    w = NamespaceWatch(None, "ns")
    w._observe_job("ADDED", job("migrate", uid="run-1", complete=True), 100.0)
    w._observe_job("DELETED", job("migrate", "2", uid="run-1", complete=True), 101.0)
    w._observe_job("ADDED", job("migrate", "3", uid="run-2"), 200.0)
    assert {uid: (st.name, st.outcome) for uid, st in w.jobs.items()} == {
        "run-1": ("migrate", "succeeded"), "run-2": ("migrate", "unknown")}


def test_a_job_without_hook_or_creation_time_falls_back():
    w = NamespaceWatch(None, "ns")
    w._observe_job("ADDED", job("batch", hook=None, created=None), 100.0)
    st = w.jobs["uid-batch"]
    assert (st.hook, st.created) == ("", 100.0)


def test_observe_dispatches_by_kind_at_the_current_wall_time():
    w = NamespaceWatch(None, "ns")
    before = time.time()
    w._observe("pods", "ADDED", pod("web-1", ready=True))
    w._observe("jobs", "ADDED", job("migrate", complete=True))
    after = time.time()
    assert list(w.pods) == ["web-1"] and list(w.jobs) == ["uid-migrate"]
    assert before <= w.pods["web-1"].first_seen == w.pods["web-1"].ready_at <= after
    assert before <= w.jobs["uid-migrate"].completed_at <= after


def test_snapshot_returns_copies():
    w = NamespaceWatch(None, "ns")
    w._observe_pod("ADDED", pod("web-1", ready=False), 100.0)
    w._observe_job("ADDED", job("migrate"), 100.0)
    pods, jobs = w.snapshot()
    assert pods == w.pods and jobs == w.jobs
    assert pods is not w.pods and pods["web-1"] is not w.pods["web-1"]
    assert jobs is not w.jobs and jobs["uid-migrate"] is not w.jobs["uid-migrate"]
    assert isinstance(pods["web-1"], PodState) and isinstance(jobs["uid-migrate"], JobState)
    # later events do not reach an earlier snapshot, and edits to a snapshot do not reach the watch
    w._observe_pod("MODIFIED", pod("web-1", "2", ready=True), 105.0)
    w._observe_job("DELETED", job("migrate", "2", complete=True), 106.0)
    assert (pods["web-1"].ready_at, jobs["uid-migrate"].completed_at) == (None, None)
    pods["web-1"].images = ("other:1",)
    del jobs["uid-migrate"]
    assert w.pods["web-1"].images == ("demo:2.0",) and "uid-migrate" in w.jobs


# --- the watch loop, over the real kubernetes.watch.Watch -----------------------------------------

class FakeResponse:
    """A streaming watch response (urllib3's, with ``_preload_content=False``): JSON lines."""

    status = 200

    def __init__(self, events: list[dict]):
        self.events = events

    def stream(self, amt=None, decode_content=False):
        for ev in self.events:
            yield (json.dumps(ev) + "\n").encode()

    def close(self) -> None:
        pass

    def release_conn(self) -> None:
        pass


class FakeLister:
    """Stands in for ``list_namespaced_pod`` / ``list_namespaced_job``: a list call returns ``items``
    at resourceVersion ``rv``; each watch call takes the next scripted answer (a list of events or
    an exception). Once the script is used up it sets ``done`` (and, with ``stop_when_done``, stops
    the watch) and answers with empty streams."""

    def __init__(self, kind: str, items: list[dict], rv: str, script: list, *,
                 stop_when_done: NamespaceWatch | None = None):
        self.kind = kind
        self.items, self.rv, self.script = items, rv, list(script)
        self.stop_when_done = stop_when_done
        self.lists = 0
        self.watch_rvs: list[str | None] = []
        self.done = threading.Event()

    def _call(self, namespace: str, **kwargs):
        assert namespace == "ns"
        if not kwargs.get("watch"):
            self.lists += 1
            return kobj(f"V1{self.kind}List", {"metadata": {"resourceVersion": self.rv}, "items": self.items})
        self.watch_rvs.append(kwargs.get("resource_version"))
        if not self.script:
            self.done.set()
            if self.stop_when_done is not None:
                self.stop_when_done._stop.set()
            return FakeResponse([])
        step = self.script.pop(0)
        if isinstance(step, BaseException):
            if not self.script and self.stop_when_done is not None:
                self.stop_when_done._stop.set()     # so the loop's back-off wait returns at once
            raise step
        return FakeResponse(step)

    # the return annotations are how kubernetes.watch.Watch picks the event objects' model, as for
    # the generated CoreV1Api/BatchV1Api methods
    def list_namespaced_pod(self, namespace: str, **kwargs) -> V1PodList:
        return self._call(namespace, **kwargs)

    def list_namespaced_job(self, namespace: str, **kwargs) -> V1JobList:
        return self._call(namespace, **kwargs)


def run_loop(w: NamespaceWatch, kind: str, fn, limit: float = 10.0) -> float:
    """Run ``w._loop`` in a thread; fail if it does not end within ``limit`` seconds. Returns its duration."""
    t0 = time.monotonic()
    t = threading.Thread(target=w._loop, args=(kind, fn), daemon=True)
    t.start()
    t.join(limit)
    if t.is_alive():
        w._stop.set()
        t.join(5)
        pytest.fail(f"the {kind} watch loop did not end within {limit}s")
    return time.monotonic() - t0


def test_the_loop_lists_then_follows_events_from_the_last_resource_version():
    w = NamespaceWatch(None, "ns")
    lister = FakeLister("Pod", [pod_data("web-old", "5", images=("demo:1.0",), ready=True)], "5", [
        [{"type": "ADDED", "object": pod_data("web-new", "6", ready=False)},
         {"type": "MODIFIED", "object": pod_data("web-new", "7", ready=True)}],
        [{"type": "DELETED", "object": pod_data("web-old", "8", images=("demo:1.0",), ready=False)}],
    ], stop_when_done=w)
    run_loop(w, "pods", lister.list_namespaced_pod)
    assert lister.lists == 1 and lister.watch_rvs == ["5", "7", "8"]
    assert w.errors == []
    new, old = w.pods["web-new"], w.pods["web-old"]
    assert new.ready_at is not None and new.first_seen <= new.ready_at and new.images == ("demo:2.0",)
    assert old.ready_at is not None and old.deleted_at is not None and old.ready_at <= old.deleted_at


def test_the_loop_relists_after_410_gone_without_noting_an_error():
    w = NamespaceWatch(None, "ns")
    lister = FakeLister("Job", [job_data("migrate", "3")], "3", [
        ApiException(status=410, reason="Gone"),
        [{"type": "MODIFIED", "object": job_data("migrate", "4", complete=True)}],
    ], stop_when_done=w)
    run_loop(w, "jobs", lister.list_namespaced_job)
    assert lister.lists == 2 and lister.watch_rvs == ["3", "3", "4"]
    assert w.errors == []
    assert w.jobs["uid-migrate"].outcome == "succeeded"


def test_the_loop_notes_other_errors_in_one_line():
    w = NamespaceWatch(None, "ns")
    lister = FakeLister("Pod", [], "1", [ApiException(status=500, reason="Internal Server Error")],
                        stop_when_done=w)
    run_loop(w, "pods", lister.list_namespaced_pod)
    assert len(w.errors) == 1 and w.errors[0].startswith("pods: ApiException: (500)")
    assert "\n" not in w.errors[0]


def test_the_loop_stops_by_itself_after_max_duration_when_nothing_happens():
    w = NamespaceWatch(None, "ns", max_duration=0.3)
    lister = FakeLister("Pod", [], "1", [])        # never stops the watch: only the deadline ends it
    took = run_loop(w, "pods", lister.list_namespaced_pod, limit=10.0)
    assert 0.3 <= took < 5.0
    assert lister.done.is_set() and lister.lists == 1 and not w._stop.is_set()
    assert w.pods == {} and w.errors == []


def test_start_and_stop_watch_pods_and_jobs_in_background(monkeypatch):
    from kubernetes import client

    w = NamespaceWatch(object(), "ns", max_duration=60.0)
    pods = FakeLister("Pod", [], "1", [[{"type": "ADDED", "object": pod_data("web-1", "2", ready=True)}]])
    jobs = FakeLister("Job", [], "1", [[{"type": "ADDED", "object": job_data("migrate", "2")},
                                        {"type": "MODIFIED", "object": job_data("migrate", "3", complete=True)},
                                        {"type": "DELETED", "object": job_data("migrate", "4", complete=True)}]])
    monkeypatch.setattr(client, "CoreV1Api", lambda api: pods)
    monkeypatch.setattr(client, "BatchV1Api", lambda api: jobs)
    with w:
        assert pods.done.wait(10) and jobs.done.wait(10)
        assert sorted(t.name for t in w._threads) == ["watch-jobs-ns", "watch-pods-ns"]
    assert not any(t.is_alive() for t in w._threads)
    snap_pods, snap_jobs = w.snapshot()
    assert snap_pods["web-1"].ready_at is not None
    migrate = snap_jobs["uid-migrate"]
    assert (migrate.outcome, migrate.hook) == ("succeeded", "pre-upgrade")
    assert migrate.completed_at is not None and migrate.deleted_at is not None
    assert w.errors == []


def test_readiness_keeps_every_change_as_the_watch_saw_it():
    w = NamespaceWatch(None, "ns")
    w._observe_pod("ADDED", pod("web-1", ready=False), 100.0)
    w._observe_pod("MODIFIED", pod("web-1", "2", ready=True), 105.0)
    w._observe_pod("MODIFIED", pod("web-1", "3", ready=True), 107.0)      # no change: nothing added
    w._observe_pod("MODIFIED", pod("web-1", "4", ready=False), 110.0)
    w._observe_pod("MODIFIED", pod("web-1", "5", ready=True), 120.0)
    w._observe_pod("DELETED", pod("web-1", "6", ready=False, deleting=True), 130.0)  # gone, not a change
    assert w.pods["web-1"].readiness == ((100.0, False), (105.0, True), (110.0, False), (120.0, True))
    assert w.pod_history()[0].readiness == w.pods["web-1"].readiness


def test_stop_without_waiting_returns_at_once_and_the_threads_still_end():
    w = NamespaceWatch(None, "ns")
    release = threading.Event()
    t = threading.Thread(target=lambda: (release.wait(5), w._stop.wait(5)), daemon=True)  # a watch mid-slice
    t.start()
    w._threads.append(t)
    began = time.monotonic()
    w.stop(wait=False)
    assert time.monotonic() - began < 0.5 and w._stop.is_set() and t.is_alive()
    release.set()
    t.join(2)
    assert not t.is_alive()
