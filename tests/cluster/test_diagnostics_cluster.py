"""Diagnostics of a failed test land on disk: a pod made to crash on purpose, then collected."""
from __future__ import annotations

import uuid

import pytest
from kubernetes import client

from harness.k8s.diagnostics import collect
from harness.k8s.wait import wait_for

pytestmark = pytest.mark.cluster


def test_crashing_pod_events_and_logs_are_collected(kube_api, namespace, toolbox, tmp_path):
    marker = f"boom-{uuid.uuid4().hex[:8]}"
    core = client.CoreV1Api(kube_api)
    core.create_namespaced_pod(namespace, client.V1Pod(
        metadata=client.V1ObjectMeta(name="crasher"),
        spec=client.V1PodSpec(containers=[client.V1Container(
            name="main", image=toolbox, image_pull_policy="Never",
            command=["sh", "-c", f"echo {marker}; exit 1"])])))

    def restarted():
        p = core.read_namespaced_pod("crasher", namespace)
        statuses = p.status.container_statuses or []
        count = statuses[0].restart_count if statuses else 0
        return count >= 1, f"restartCount={count}"
    wait_for(restarted, timeout=120, interval=1, what="pod crasher restarted at least once")

    dest = collect(kube_api, namespace, tmp_path / "diag")
    events = (dest / "events.txt").read_text()
    assert "crasher" in events and ("BackOff" in events or "Started" in events), events
    logs = [p.read_text() for p in (dest / "logs" / "crasher").glob("*.log")]
    assert any(marker in text for text in logs), f"{marker} not in collected logs {logs}"
    assert (dest / "logs" / "crasher" / "main.previous.log").exists(), "previous container log missing"
    summary = (dest / "summary.txt").read_text()
    assert "crasher" in summary
