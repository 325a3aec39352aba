"""Diagnostics formatting (events by time, summary) and best-effort collection against an
unreachable API server (every gap recorded, nothing raised)."""
from __future__ import annotations

from kubernetes import client
from unit_helpers import kobj

from harness.k8s.diagnostics import (
    collect,
    format_events,
    node_conditions_text,
    summary_text,
)


def event(name, reason, when, kind="Pod", obj="web-1", type_="Normal", count=1, message="m", field="lastTimestamp"):
    return kobj("CoreV1Event", {"metadata": {"name": name, "namespace": "ns"}, "reason": reason, "type": type_,
                                "count": count, "message": message, field: when,
                                "involvedObject": {"kind": kind, "name": obj}})


def test_events_sorted_by_time_whatever_field_carries_it():
    evs = [
        event("e3", "BackOff", "2025-01-01T00:00:30Z", type_="Warning", count=4, message="Back-off restarting"),
        event("e1", "Scheduled", "2025-01-01T00:00:01Z"),
        event("e2", "Pulled", "2025-01-01T00:00:10.000000Z", field="eventTime"),
    ]
    lines = format_events(evs).splitlines()
    assert [ln.split()[3].rstrip(":") for ln in lines] == ["Scheduled", "Pulled", "BackOff"]
    assert lines[2] == "00:00:30 Warning Pod/web-1 BackOff (x4): Back-off restarting"
    assert format_events([]) == "(no events)\n"


def test_summary_shows_what_a_reader_needs():
    pod = kobj("V1Pod", {"metadata": {"name": "web-1"}, "spec": {"nodeName": "harness-worker", "containers": []},
                         "status": {"phase": "Running", "containerStatuses": [
                             {"name": "app", "ready": False, "restartCount": 5, "image": "i", "imageID": "",
                              "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                              "lastState": {"terminated": {"reason": "Error", "exitCode": 1}}}]}})
    pdb = kobj("V1PodDisruptionBudget", {"metadata": {"name": "web"}, "spec": {"minAvailable": 2},
                                         "status": {"disruptionsAllowed": 0, "currentHealthy": 2,
                                                    "desiredHealthy": 2, "expectedPods": 3}})
    node = kobj("V1Node", {"metadata": {"name": "harness-worker"}, "spec": {"unschedulable": True},
                           "status": {"conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                                                      "message": "kubelet is posting ready status"}]}})
    text = summary_text(pods=[pod], pdbs=[pdb], nodes=[node])
    pod_line = next(ln for ln in text.splitlines() if ln.startswith("web-1"))
    assert pod_line.split() == ["web-1", "Running", "0/1", "5", "app:CrashLoopBackOff", "app:last=Error(1)",
                                "harness-worker"]
    pdb_line = next(ln for ln in text.splitlines() if ln.startswith("web "))
    assert pdb_line.split() == ["web", "2", "-", "0", "2", "2", "3"]
    assert "harness-worker (cordoned)  Ready=True  KubeletReady" in node_conditions_text([node])


def test_collect_never_raises_and_records_gaps(tmp_path):
    conf = client.Configuration()
    conf.host = "http://127.0.0.1:9"  # discard port: connection refused at once
    conf.retries = False
    api = client.ApiClient(conf)

    class BrokenHelm:
        def list(self, namespace):
            raise RuntimeError("helm: cluster unreachable")

    dest = collect(api, "ns-x", tmp_path / "diag", helm=BrokenHelm())
    errors = (dest / "errors.txt").read_text()
    assert "list pods:" in errors and "list events:" in errors and "helm list: RuntimeError" in errors
    assert (dest / "events.txt").read_text() == "(no events)\n"
    assert "## Pods\n(none)" in (dest / "summary.txt").read_text()
