"""The cluster the session fixture creates works the way charts need it to (issue: real kind clusters).

Each test asserts an outcome a broken node image, CNI, DNS, kube-proxy, storage or eviction path
would turn red.
"""
from __future__ import annotations

import json
import time

import pytest
import requests
from kubernetes import client

from harness.core.pins import pinned, supported_kubernetes
from harness.k8s.wait import wait_for
from harness.tools.binaries import tool_path
from harness.tools.exec import run

pytestmark = pytest.mark.cluster

NODEPORT = 30080  # published on 127.0.0.1 by the default kind config (harness.env.cluster.render_kind_config)


def _core(api):
    return client.CoreV1Api(api)


def test_all_nodes_ready(cluster, kube_api):
    nodes = _core(kube_api).list_node().items
    assert len(nodes) == 3, [n.metadata.name for n in nodes]
    for n in nodes:
        ready = [c for c in n.status.conditions if c.type == "Ready"]
        assert ready and ready[0].status == "True", f"{n.metadata.name} not Ready: {ready}"


def test_server_version_is_pinned(cluster):
    """The server runs the version the session asked for (--kubernetes-version, else the default): the
    exact patch release on a node image built here, the same minor on kind's published kindest/node."""
    version = cluster.kubernetes_version or None
    out = run([tool_path("kubectl", version), "--kubeconfig", str(cluster.kubeconfig), "version", "-o", "json"]).stdout
    server = json.loads(out)["serverVersion"]["gitVersion"]
    want = version or pinned()["KUBERNETES_VERSION"]
    if cluster.node_image.startswith("kindest/node:"):
        assert server.rsplit(".", 1)[0] == want.rsplit(".", 1)[0], f"server reports {server}, asked for {want}"
    else:
        assert server == want, f"server reports {server}, asked for {want}"
    assert want in supported_kubernetes(), f"{want} is not a supported version"


def _exec_in_pod(cluster, namespace, pod, *cmd, timeout=30):
    return run([tool_path("kubectl", cluster.kubernetes_version or None), "--kubeconfig", str(cluster.kubeconfig), "-n", namespace,
                "exec", pod, "--", *cmd], timeout=timeout, check=False)


def _wait_pod_running(core, namespace, name, timeout=120):
    def cond():
        p = core.read_namespaced_pod(name, namespace)
        return p.status.phase == "Running", f"phase={p.status.phase}"
    wait_for(cond, timeout=timeout, interval=1, what=f"pod {namespace}/{name} Running")


def _toolbox_pod(core, namespace, name, toolbox, command=("sleep", "3600")):
    core.create_namespaced_pod(namespace, client.V1Pod(
        metadata=client.V1ObjectMeta(name=name, labels={"app": name}),
        spec=client.V1PodSpec(
            termination_grace_period_seconds=0,
            containers=[client.V1Container(name="main", image=toolbox, image_pull_policy="Never",
                                           command=list(command))])))
    _wait_pod_running(core, namespace, name)


def _web_deployment(namespace, toolbox, name="web", replicas=2):
    # busybox httpd serving the pod's own name, spread one per schedulable node; nodeTaintsPolicy
    # Honor leaves the tainted control-plane and cordoned nodes out of the skew.
    labels = {"app": name}
    return client.V1Deployment(
        metadata=client.V1ObjectMeta(name=name),
        spec=client.V1DeploymentSpec(
            replicas=replicas,
            selector=client.V1LabelSelector(match_labels=labels),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels=labels),
                spec=client.V1PodSpec(
                    termination_grace_period_seconds=1,
                    topology_spread_constraints=[client.V1TopologySpreadConstraint(
                        max_skew=1, topology_key="kubernetes.io/hostname", when_unsatisfiable="DoNotSchedule",
                        label_selector=client.V1LabelSelector(match_labels=labels), node_taints_policy="Honor")],
                    containers=[client.V1Container(
                        name="web", image=toolbox, image_pull_policy="Never",
                        command=["sh", "-c", "mkdir -p /tmp/www && echo $HOSTNAME > /tmp/www/index.html "
                                 "&& exec httpd -f -p 8080 -h /tmp/www"],
                        ports=[client.V1ContainerPort(container_port=8080)],
                        readiness_probe=client.V1Probe(
                            http_get=client.V1HTTPGetAction(path="/", port=8080), period_seconds=1))]))))


def _deploy_web(kube_api, namespace, toolbox, node_port=None):
    apps = client.AppsV1Api(kube_api)
    apps.create_namespaced_deployment(namespace, _web_deployment(namespace, toolbox))
    core = _core(kube_api)
    core.create_namespaced_service(namespace, client.V1Service(
        metadata=client.V1ObjectMeta(name="web"),
        spec=client.V1ServiceSpec(type="NodePort" if node_port else "ClusterIP", selector={"app": "web"}, ports=[
            client.V1ServicePort(port=80, target_port=8080, node_port=node_port)])))

    def ready():
        d = apps.read_namespaced_deployment("web", namespace)
        return (d.status.ready_replicas or 0) == 2, f"ready={d.status.ready_replicas}"
    wait_for(ready, timeout=120, interval=1, what="deployment web 2/2 Ready")
    return {p.metadata.name: p.spec.node_name for p in core.list_namespaced_pod(namespace, label_selector="app=web").items}


def test_dns_clusterip_and_nodeport(cluster, kube_api, namespace, toolbox):
    pods = _deploy_web(kube_api, namespace, toolbox, node_port=NODEPORT)
    workers = {n.metadata.name for n in _core(kube_api).list_node().items
               if "node-role.kubernetes.io/control-plane" not in (n.metadata.labels or {})}
    assert set(pods.values()) == workers, f"web pods on {pods}, workers {workers}"

    core = _core(kube_api)
    _toolbox_pod(core, namespace, "client", toolbox)
    fqdn = f"web.{namespace}.svc.cluster.local"
    res = _exec_in_pod(cluster, namespace, "client", "nslookup", fqdn)
    svc_ip = core.read_namespaced_service("web", namespace).spec.cluster_ip
    assert res.returncode == 0 and svc_ip in res.stdout, f"CoreDNS did not resolve {fqdn}: {res.stdout}{res.stderr}"

    # Through the ClusterIP Service by name: both pods answer within a bounded number of requests.
    seen = set()
    for _ in range(40):
        r = _exec_in_pod(cluster, namespace, "client", "wget", "-q", "-O", "-", "http://web/")  # busybox wget -T crashes (static glibc)
        if r.returncode == 0:
            seen.add(r.stdout.strip())
        if seen == set(pods):
            break
    assert seen == set(pods), f"ClusterIP answered from {seen}, pods {set(pods)}"

    # Through the NodePort published on 127.0.0.1.
    answered = set()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and answered != set(pods):
        try:
            answered.add(requests.get(f"http://127.0.0.1:{NODEPORT}/", timeout=3).text.strip())
        except requests.RequestException:
            pass
    assert answered == set(pods), f"NodePort 127.0.0.1:{NODEPORT} answered from {answered}"


def test_pvc_binds_through_default_storageclass(kube_api, namespace, toolbox):
    core = _core(kube_api)
    classes = client.StorageV1Api(kube_api).list_storage_class().items
    default = [c.metadata.name for c in classes
               if (c.metadata.annotations or {}).get("storageclass.kubernetes.io/is-default-class") == "true"]
    assert default, "no default StorageClass"
    core.create_namespaced_persistent_volume_claim(namespace, client.V1PersistentVolumeClaim(
        metadata=client.V1ObjectMeta(name="data"),
        spec=client.V1PersistentVolumeClaimSpec(
            access_modes=["ReadWriteOnce"],
            resources=client.V1VolumeResourceRequirements(requests={"storage": "16Mi"}))))
    core.create_namespaced_pod(namespace, client.V1Pod(
        metadata=client.V1ObjectMeta(name="writer"),
        spec=client.V1PodSpec(
            restart_policy="Never",
            containers=[client.V1Container(
                name="w", image=toolbox, image_pull_policy="Never",
                command=["sh", "-c", "echo persisted > /data/f && cat /data/f"],
                volume_mounts=[client.V1VolumeMount(name="d", mount_path="/data")])],
            volumes=[client.V1Volume(name="d", persistent_volume_claim=client.V1PersistentVolumeClaimVolumeSource(
                claim_name="data"))])))

    def done():
        p = core.read_namespaced_pod("writer", namespace)
        pvc = core.read_namespaced_persistent_volume_claim("data", namespace)
        return p.status.phase == "Succeeded" and pvc.status.phase == "Bound", f"pod={p.status.phase} pvc={pvc.status.phase}"
    wait_for(done, timeout=120, interval=1, what="PVC data Bound and writer pod Succeeded")
    assert core.read_namespaced_pod_log("writer", namespace).strip() == "persisted"


def test_eviction_from_cordoned_worker_reschedules(cluster, kube_api, namespace, toolbox):
    pods = _deploy_web(kube_api, namespace, toolbox)
    core = _core(kube_api)
    victim_pod, node = sorted(pods.items())[0]
    core.patch_node(node, {"spec": {"unschedulable": True}})
    try:
        core.create_namespaced_pod_eviction(victim_pod, namespace, client.V1Eviction(
            metadata=client.V1ObjectMeta(name=victim_pod, namespace=namespace)))

        def moved():
            now = {p.metadata.name: (p.spec.node_name, p.status) for p in
                   core.list_namespaced_pod(namespace, label_selector="app=web").items
                   if p.metadata.deletion_timestamp is None}
            ready = [n for n, (host, st) in now.items() if host and host != node and any(
                c.type == "Ready" and c.status == "True" for c in (st.conditions or []))]
            return len(ready) == 2 and victim_pod not in now, f"pods={ {k: v[0] for k, v in now.items()} }"
        wait_for(moved, timeout=120, interval=1, what=f"web pods rescheduled off cordoned {node}")
    finally:
        core.patch_node(node, {"spec": {"unschedulable": False}})


def test_helm_install_local_chart(cluster, namespace, tmp_path):
    chart = tmp_path / "hello"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text(
        "apiVersion: v2\nname: hello\nversion: 0.1.0\nkubeVersion: \">=1.22.0-0\"\n")
    (chart / "templates" / "cm.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: hello\ndata:\n  greeting: hi\n")
    helm = tool_path("helm")
    run([helm, "install", "hello", str(chart), "-n", namespace, "--kubeconfig", str(cluster.kubeconfig),
         "--wait", "--timeout", "60s"], timeout=90)
    status = json.loads(run([helm, "status", "hello", "-n", namespace, "--kubeconfig", str(cluster.kubeconfig),
                             "-o", "json"]).stdout)
    assert status["info"]["status"] == "deployed"
