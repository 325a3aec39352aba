"""Creating and deleting a cluster: nothing left behind; bad input refused before anything is made."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from harness.core.errors import UsageError
from harness.env import containers
from harness.env.cluster import (
    ClusterSpec,
    delete_cluster,
    ensure_cluster,
    resolve_node_image,
    spec_from_config,
)
from harness.k8s.wait import wait_for
from harness.tools import docker
from harness.tools.binaries import tool_path
from harness.tools.kind import Kind

pytestmark = pytest.mark.cluster


def _docker_state() -> dict[str, set[str]]:
    from harness.tools.exec import run

    return {
        "containers": set(run(["docker", "ps", "-a", "--format", "{{.Names}}"]).stdout.split()),
        "networks": set(run(["docker", "network", "ls", "--format", "{{.Name}}"]).stdout.split()),
        "volumes": set(run(["docker", "volume", "ls", "--format", "{{.Name}}"]).stdout.split()),
    }


def test_create_then_delete_leaves_nothing_behind(cluster):
    # A second, 1-node cluster on other ports, beside the session's; the session cluster's own
    # containers and the shared `kind` network are in `before` and must still be there after.
    before = _docker_state()
    spec = ClusterSpec(name="harness-lifecycle", workers=0, http_port=28080, https_port=28443,
                       nodeport_port=30081, node_image=cluster.node_image or None)
    made = ensure_cluster(spec)
    # a PostgreSQL server a keep-cluster run left for this cluster (labelled as the add-on labels it):
    # deleting the cluster removes it too, since it serves nothing afterwards
    # (created, never started, from the node's image: there on every machine that made the node)
    pg = f"harness-pg-{spec.name}-kept"
    node_image = subprocess.run(["docker", "inspect", "--format", "{{.Config.Image}}", f"{spec.name}-control-plane"],
                                check=True, capture_output=True, text=True).stdout.strip()
    subprocess.run(["docker", "create", "--name", pg, "--label", f"{containers.ADDON_LABEL}=postgres",
                    "--label", f"{containers.ADDON_CLUSTER_LABEL}={spec.name}", node_image],
                   check=True, capture_output=True)
    try:
        assert made.created
        nodes = Kind().get_nodes(spec.name)
        assert nodes == ["harness-lifecycle-control-plane"]
        node_volumes = docker.container_volumes(nodes[0])
        assert node_volumes, "kind nodes keep /var on an anonymous volume"
        assert made.kubeconfig.stat().st_mode & 0o777 == 0o600
    finally:
        delete_cluster(made)
    assert spec.name not in Kind().get_clusters()
    assert pg not in docker.container_names(f"name=^{pg}$"), "the PostgreSQL container of the cluster stayed"
    assert _docker_state() == before
    assert not any(docker.volume_exists(v) for v in node_volumes)
    assert not made.kubeconfig.exists()


def test_cluster_name_taken_is_refused(cluster):
    if not cluster.name:
        pytest.skip("session runs against an external kubeconfig; no kind cluster name to collide with")
    with pytest.raises(UsageError, match=r"already exists; pass --reuse-cluster .* kind delete cluster --name"):
        ensure_cluster(ClusterSpec(name=cluster.name, reuse=False))


def test_reuse_returns_the_same_cluster(cluster):
    if not cluster.name:
        pytest.skip("session runs against an external kubeconfig")
    again = ensure_cluster(ClusterSpec(name=cluster.name, reuse=True))
    assert not again.created and again.context == f"kind-{cluster.name}"


def test_host_port_in_use_is_refused_before_create():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        busy = s.getsockname()[1]
        with pytest.raises(UsageError, match=rf"127.0.0.1:{busy} is already in use"):
            ensure_cluster(ClusterSpec(name="harness-portclash", workers=0, http_port=busy,
                                       https_port=28444, nodeport_port=30082))
    assert "harness-portclash" not in Kind().get_clusters()


def test_a_create_killed_while_dockerd_makes_the_node_leaves_nothing_after_delete(cluster, harness_config):
    """`kind create cluster` and its `docker run` SIGKILLed once the node container is listed: dockerd
    goes on creating it (copying the node image's /var into a new volume), and meanwhile `docker rm -f`
    answers "No such container", so `kind delete cluster` alone leaves the node behind for good
    (harness/env/containers.py). delete_kind_cluster must leave nothing, and nothing may appear later."""
    if not cluster.name:
        pytest.skip("the session runs against an external kubeconfig: no kind to create a cluster with")
    image = cluster.node_image or resolve_node_image(spec_from_config(harness_config))  # a reused cluster: the configured one
    name = "harness-killed-create"
    label = f"label={containers.KIND_CLUSTER_LABEL}={name}"
    kind = Kind(tool_path("kind", cluster.kubernetes_version or None))
    assert name not in kind.get_clusters(), f"delete it first: kind delete cluster --name {name}"
    before = _docker_state()
    create = subprocess.Popen([kind._kind(), "create", "cluster", "--name", name, "--image", image],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_for(lambda: (bool(docker.container_names(label)), "not listed yet"), timeout=180, interval=0.2,
                 what=f"kind's node container of {name}")
    finally:
        os.killpg(create.pid, signal.SIGKILL)
        create.wait()
    missed = containers.delete_kind_cluster(kind, name)
    print(f"node containers kind's own delete missed: {missed or 'none'}", file=sys.stderr)
    # nothing dockerd was still making may turn up afterwards: watch for a while (bounded)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        assert docker.container_names(label) == [], f"a node of {name} appeared after the delete"
        time.sleep(1)
    assert name not in kind.get_clusters()
    assert _docker_state() == before
