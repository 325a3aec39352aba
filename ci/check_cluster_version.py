"""Create one kind cluster of a pinned Kubernetes version through harness.env.cluster (no host ports: it
can run beside the suite's cluster), check every node and kube-system pod Ready and `kubectl version`
(client and server = the pinned version), print the runtime versions, then delete it.

Usage: .venv/bin/python ci/check_cluster_version.py NAME VERSION [WORKERS]
"""
import json
import sys
import time

from harness.env.cluster import (
    ClusterSpec,
    delete_cluster,
    ensure_cluster,
    render_kind_config,
)
from harness.tools.binaries import tool_path
from harness.tools.exec import run

name, version = sys.argv[1], sys.argv[2]
spec = ClusterSpec(name=name, kubernetes_version=version, workers=int(sys.argv[3]) if len(sys.argv) > 3 else 1,
                   port_mappings=False, image_source="local", create_timeout=600)
print(render_kind_config(spec), flush=True)
t0 = time.monotonic()
c = ensure_cluster(spec)
print(f"created + all Ready in {time.monotonic() - t0:.1f}s, node image {c.node_image}", flush=True)
try:
    kubectl = [tool_path("kubectl", version), "--kubeconfig", str(c.kubeconfig)]
    print(run([*kubectl, "version"], timeout=60).stdout, flush=True)
    v = json.loads(run([*kubectl, "version", "-o", "json"], timeout=60).stdout)
    assert v["serverVersion"]["gitVersion"] == version, v["serverVersion"]
    assert v["clientVersion"]["gitVersion"] == version, v["clientVersion"]
    print(run([*kubectl, "get", "nodes", "-o", "wide"], timeout=60).stdout, flush=True)
    print(run([*kubectl, "get", "pods", "-A", "-o", "wide"], timeout=60).stdout, flush=True)
    nodes = run(["docker", "exec", f"{name}-control-plane", "sh", "-c",
                 "containerd --version; grep -A1 pinned_images /etc/containerd/config.toml; grep -i failCgroupV1 /var/lib/kubelet/config.yaml"], timeout=60).stdout
    print(nodes, flush=True)
    print("OK", flush=True)
finally:
    delete_cluster(c)
    print("deleted", flush=True)
