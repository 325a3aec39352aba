"""harness/env/cluster.py: kind config rendering, cgroup v1 detection, node image choice per Kubernetes version."""
from __future__ import annotations

import pytest
import yaml

from harness.core.errors import EnvironmentNotReady, UsageError
from harness.core.pins import kubernetes_pins, supported_kubernetes
from harness.env import cluster
from harness.env.cluster import (
    ClusterSpec,
    host_cgroup_v1,
    render_kind_config,
    resolve_node_image,
    spec_from_config,
)

HYBRID = """\
25 30 0:22 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755
26 25 0:23 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 rw
27 25 0:24 / /sys/fs/cgroup/cpu,cpuacct rw shared:11 - cgroup cgroup rw,cpu,cpuacct
"""
UNIFIED = "25 30 0:22 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate\n"


def test_cgroup_detection():
    assert host_cgroup_v1(HYBRID) is True
    assert host_cgroup_v1(UNIFIED) is False
    assert host_cgroup_v1("") is False


def _kubelet_patches(cfg: dict) -> list[dict]:
    return [p for p in (yaml.safe_load(x) for x in cfg.get("kubeadmConfigPatches", [])) if p.get("kind") == "KubeletConfiguration"]


def test_fail_cgroup_v1_false_only_on_cgroup_v1_hosts():
    v1 = yaml.safe_load(render_kind_config(ClusterSpec(), cgroup_v1=True))
    assert _kubelet_patches(v1) == [{"kind": "KubeletConfiguration", "failCgroupV1": False}]
    v2 = yaml.safe_load(render_kind_config(ClusterSpec(), cgroup_v1=False))
    assert "kubeadmConfigPatches" not in v2 and _kubelet_patches(v2) == []


def test_ports_on_loopback_and_optional():
    cfg = yaml.safe_load(render_kind_config(ClusterSpec(workers=2, http_port=1, https_port=2, nodeport_port=30001), cgroup_v1=False))
    assert [n["role"] for n in cfg["nodes"]] == ["control-plane", "worker", "worker"]
    maps = cfg["nodes"][0]["extraPortMappings"]
    assert [m["hostPort"] for m in maps] == [1, 2, 30001]
    assert {m["listenAddress"] for m in maps} == {"127.0.0.1"}
    assert cfg["networking"]["apiServerAddress"] == "127.0.0.1"
    none = yaml.safe_load(render_kind_config(ClusterSpec(workers=1, port_mappings=False), cgroup_v1=True))
    assert all("extraPortMappings" not in n for n in none["nodes"]) and len(none["nodes"]) == 2


def test_node_image_per_version(monkeypatch):
    versions = supported_kubernetes()
    local = {f"harness/kind-node:{versions[-1]}-abc"}
    monkeypatch.setattr(cluster.docker, "images_matching", lambda repo: sorted(local))
    assert resolve_node_image(ClusterSpec(kubernetes_version=versions[-1])) == f"harness/kind-node:{versions[-1]}-abc"
    pulled = resolve_node_image(ClusterSpec(kubernetes_version=versions[0]))
    pins = kubernetes_pins(versions[0])
    assert pulled == pins.pull and pulled.startswith(f"kindest/node:v{pins.minor}.")
    with pytest.raises(EnvironmentNotReady, match=f"images/build-node-image.sh {versions[0]}"):
        resolve_node_image(ClusterSpec(kubernetes_version=versions[0], image_source="local"))
    assert resolve_node_image(ClusterSpec(kubernetes_version=versions[-1], image_source="pull")).startswith("kindest/node:")


def test_every_version_has_a_pull_image_of_its_minor_and_the_default_is_pinned_by_digest():
    for v in supported_kubernetes():
        pins = kubernetes_pins(v)
        assert pins.pull.startswith(f"kindest/node:v{pins.minor}."), v
        assert "@sha256:" in pins.pull, v


def test_unsupported_version_is_a_usage_error(monkeypatch):
    monkeypatch.setattr(cluster.docker, "images_matching", lambda repo: [])
    with pytest.raises(UsageError) as e:
        resolve_node_image(ClusterSpec(kubernetes_version="v1.30.0"))
    assert "\n" not in str(e.value) and ", ".join(supported_kubernetes()) in str(e.value)


def test_spec_from_config_carries_the_kubernetes_version():
    class Cfg:
        kubernetes_version = "v1.37.2"
        cluster_name = "x"
    spec = spec_from_config(Cfg())
    assert spec.kubernetes_version == "v1.37.2" and spec.name == "x"
