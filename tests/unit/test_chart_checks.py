"""harness.scenario.chart_checks on synthetic rendered manifests: the probe target, images and probe
bounds, each passing on a good manifest and failing with one line on each kind of mistake."""
from __future__ import annotations

import copy

import pytest

from harness.scenario.chart_checks import (
    effective_pull_policy,
    image_problems,
    ingress_class,
    manifest_images,
    probe_bound_problems,
    probe_target_problems,
    pull_policy_problems,
    tls_secret_problems,
)


def ingress(host="web.test", cls="nginx", path="/", path_type="Prefix", name="web", annotation=None):
    o = {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": name},
         "spec": {"rules": [{"host": host, "http": {"paths": [{"path": path, "pathType": path_type}]}}]}}
    if cls:
        o["spec"]["ingressClassName"] = cls
    if annotation:
        o["metadata"]["annotations"] = {"kubernetes.io/ingress.class": annotation}
    return o


HARNESS_PARENT = {"name": "harness", "namespace": "harness-traefik", "sectionName": "web"}


def route(*hostnames, parents=(HARNESS_PARENT,), name="web"):
    return {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute", "metadata": {"name": name},
            "spec": {"hostnames": list(hostnames), "parentRefs": [dict(p) for p in parents]}}


def target(objs, *, host="web.test", via="ingress", path="/", classes=("nginx",)):
    return probe_target_problems(objs, host=host, via=via, path=path, classes=classes)


# --------------------------------------------------------------------------- the probe target


def test_served_ingress_passes():
    assert target([ingress()]) == []
    assert target([ingress(path="/api")], path="/api/items?x=1") == []
    assert target([ingress(cls=None, annotation="nginx")]) == []  # the legacy annotation
    assert target([ingress(host="*.test")]) == []                  # a wildcard rule
    assert target([ingress(cls=None)], classes=("nginx", None)) == []  # an edge serving class-less Ingresses
    assert target([ingress(cls="other", name="a"), ingress(name="b")]) == []  # one served Ingress is enough


@pytest.mark.parametrize("objs, kw, want", [
    ([], {}, "no Ingress has host web.test (Ingresses: none rendered)"),
    ([ingress(host="other.test")], {}, "no Ingress has host web.test (Ingresses: Ingress web (other.test))"),
    ([ingress(cls="traefik")], {}, "Ingress web for host web.test has class 'traefik'; the harness's edge serves class nginx"),
    ([ingress(cls=None)], {}, "Ingress web for host web.test has no class (ingressClassName unset)"),
    ([ingress(path="/api")], {"path": "/"}, "Ingress web for host web.test routes /api, not the probe path /"),
    ([ingress(path="/a", path_type="Exact")], {"path": "/a/b"}, "Ingress web for host web.test routes /a, not the probe path /a/b"),
    ([ingress(host="*.test")], {"host": "a.web.test"}, "no Ingress has host a.web.test"),
])
def test_unreachable_ingress_is_one_line(objs, kw, want):
    lines = target(objs, **kw)
    assert len(lines) == 1 and lines[0].startswith(want), lines


def test_httproute():
    assert target([route("web.test")], via="httproute") == []
    assert target([route("*.test")], via="httproute") == []
    lines = target([ingress(), route("other.test")], via="httproute")
    assert lines == ["no HTTPRoute has hostname web.test (HTTPRoutes: HTTPRoute web (other.test)); enable or point "
                     "the chart's route with the contract's values/set"]


@pytest.mark.parametrize("parent", [
    {"name": "harness", "namespace": "harness-traefik"},                       # every listener
    {"name": "harness", "namespace": "harness-traefik", "sectionName": "web"},
    {"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "harness", "namespace": "harness-traefik"},
])
def test_httproute_attached_to_the_harness_gateway_passes(parent):
    assert target([route("web.test", parents=(parent,))], via="httproute") == []
    # one attached route among others is enough, and a second parentRef elsewhere does no harm
    assert target([route("web.test", parents=({"name": "elsewhere"},), name="a"),
                   route("web.test", parents=({"name": "x", "namespace": "y"}, parent), name="b")], via="httproute") == []


@pytest.mark.parametrize("parent, want", [
    ({"name": "harness"}, "HTTPRoute web attaches to Gateway <release namespace>/harness, which the harness does "
                          "not provide; the harness's Gateway is Gateway harness-traefik/harness (listener web)"),
    ({"name": "public", "namespace": "harness-traefik"}, "HTTPRoute web attaches to Gateway harness-traefik/public,"),
    ({"name": "harness", "namespace": "harness-traefik", "sectionName": "websecure"},
     "HTTPRoute web attaches to Gateway harness-traefik/harness section websecure,"),
    ({"name": "harness", "namespace": "harness-traefik", "kind": "Service", "group": ""},
     "HTTPRoute web attaches to Service harness-traefik/harness,"),
])
def test_httproute_on_another_gateway_is_one_line(parent, want):
    lines = target([route("web.test", parents=(parent,))], via="httproute")
    assert len(lines) == 1 and lines[0].startswith(want), lines
    assert lines[0].endswith("point the route's parentRef at it with the contract's values/set")


def test_httproute_without_parent_refs_is_one_line():
    lines = target([route("web.test", parents=())], via="httproute")
    assert lines == ["HTTPRoute web has no parentRefs; attach it to Gateway harness-traefik/harness (listener web) "
                     "with the contract's values/set"]


def test_ingress_class_reads_spec_then_annotation():
    assert ingress_class(ingress(cls="a", annotation="b")) == "a"
    assert ingress_class(ingress(cls=None, annotation="b")) == "b"
    assert ingress_class(ingress(cls=None)) is None


# --------------------------------------------------------------------------- images


def deployment(image="web:1.1.0", *, readiness=True, liveness=True, port=8080, init_image=None, name="web"):
    c = {"name": "app", "image": image, "ports": [{"name": "http", "containerPort": port}]}
    if readiness:
        c["readinessProbe"] = {"httpGet": {"path": "/ready", "port": "http"}, "periodSeconds": 2,
                               "timeoutSeconds": 1, "failureThreshold": 2}
    if liveness:
        c["livenessProbe"] = {"exec": {"command": ["true"]}, "periodSeconds": 5}
    spec = {"containers": [c]}
    if init_image:
        spec["initContainers"] = [{"name": "init", "image": init_image}]
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"template": {"metadata": {"labels": {"app": name}}, "spec": spec}}}


def service(target_port="http", selector=None):
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
            "spec": {"selector": selector or {"app": "web"}, "ports": [{"port": 80, "targetPort": target_port}]}}


def test_manifest_images_cover_every_pod_owner():
    job = {"kind": "Job", "spec": {"template": {"spec": {"containers": [{"name": "m", "image": "migrate:1"}]}}}}
    cron = {"kind": "CronJob", "spec": {"jobTemplate": {"spec": {"template": {"spec": {
        "containers": [{"name": "c", "image": "cron:1"}]}}}}}}
    objs = [deployment(init_image="busybox:1.36"), job, cron, service()]
    assert manifest_images(objs) == {"web:1.1.0", "busybox:1.36", "migrate:1", "cron:1"}


def test_chart_tests_are_not_images_the_cluster_needs():
    # helm create's templates/tests/test-connection.yaml: only `helm test` creates it
    pod = {"kind": "Pod", "metadata": {"name": "t", "annotations": {"helm.sh/hook": "test"}},
           "spec": {"containers": [{"name": "wget", "image": "busybox"}]}}
    hook = {"kind": "Job", "metadata": {"annotations": {"helm.sh/hook": "pre-upgrade,test-success"}},
            "spec": {"template": {"spec": {"containers": [{"name": "m", "image": "check:1"}]}}}}
    migrate = {"kind": "Job", "metadata": {"annotations": {"helm.sh/hook": "pre-install,pre-upgrade"}},
               "spec": {"template": {"spec": {"containers": [{"name": "m", "image": "migrate:1"}]}}}}
    # a test that is also a pre-upgrade hook runs on every upgrade: its image is needed
    assert manifest_images([deployment(), pod, hook, migrate]) == {"web:1.1.0", "check:1", "migrate:1"}
    assert manifest_images([pod]) == set()


def test_images_agree():
    rendered = {"default": {"web:1.1.0"}, "released 1.0.0 (default)": {"docker.io/library/web:1.0.0"}}
    assert image_problems(["web:1.0.0", "web:1.1.0"], rendered) == []


def test_image_mismatch_is_one_line_each_way():
    rendered = {"default": {"web:1.1.0", "busybox:1.36"}, "broken x": {"busybox:1.36"},
                "released 1.0.0 (default)": {"web:1.0.0"}}
    lines = image_problems(["web:1.0.0", "web:1.1.0", "web:2.0.0"], rendered)
    assert lines == [
        "image busybox:1.36 (rendered by default, broken x) is not in the contract's images, so it is not loaded "
        "into the cluster's nodes",
        "contract image web:2.0.0 is run by no rendered manifest (released or candidate)",
    ]


# --------------------------------------------------------------------------- probe bounds


def test_good_probes_pass():
    assert probe_bound_problems([deployment(), service()]) == []
    # a container no Service reaches needs no readiness probe
    assert probe_bound_problems([deployment(readiness=False), service(selector={"app": "other"})]) == []


def _with_probe(kind, **probe):
    d = deployment()
    d["spec"]["template"]["spec"]["containers"][0][f"{kind}Probe"] = probe
    return d


@pytest.mark.parametrize("objs, want", [
    ([deployment(readiness=False), service()], "Deployment web container app: no readinessProbe, yet a Service"),
    ([deployment(readiness=False), service(target_port=8080)], "no readinessProbe, yet a Service"),
    ([_with_probe("readiness", periodSeconds=5)], "Deployment web container app: readinessProbe has no handler"),
    ([_with_probe("liveness", exec={"command": ["x"]}, httpGet={"port": 1})], "livenessProbe has 2 handlers"),
    ([_with_probe("readiness", httpGet={"path": "/"})], "readinessProbe httpGet has no port"),
    ([_with_probe("readiness", tcpSocket={"port": "grpc"})], "readinessProbe tcpSocket port 'grpc' is not a port"),
    ([_with_probe("readiness", httpGet={"port": 1}, periodSeconds=0)], "readinessProbe periodSeconds 0 (want integers >= 1)"),
    ([_with_probe("readiness", httpGet={"port": 1}, periodSeconds=600)], "readinessProbe periodSeconds 600 > 300"),
    ([_with_probe("readiness", httpGet={"port": 1}, periodSeconds=2, timeoutSeconds=5)],
     "readinessProbe timeoutSeconds 5 > periodSeconds 2"),
    ([_with_probe("liveness", exec={"command": ["x"]}, failureThreshold=100)], "livenessProbe failureThreshold 100 > 30"),
    ([_with_probe("liveness", exec={"command": ["x"]}, successThreshold=2)], "livenessProbe successThreshold must be 1"),
])
def test_bad_probe_is_one_line(objs, want):
    lines = probe_bound_problems(objs)
    assert len(lines) == 1 and want in lines[0], lines


def test_statefulset_and_daemonset_are_checked_too():
    for kind in ("StatefulSet", "DaemonSet"):
        d = copy.deepcopy(deployment(readiness=False))
        d["kind"] = kind
        assert probe_bound_problems([d, service()]) == [
            f"{kind} web container app: no readinessProbe, yet a Service sends it traffic (a pod would get "
            "requests before it can serve them)"]


@pytest.mark.parametrize(("container", "want"), [
    ({"image": "web:1.1.0"}, "IfNotPresent"),
    ({"image": "web"}, "Always"),
    ({"image": "web:latest"}, "Always"),
    ({"image": "127.0.0.1:5001/web"}, "Always"),  # the port is not a tag
    ({"image": "web@sha256:" + "a" * 64}, "IfNotPresent"),
    ({"image": "web:1.1.0", "imagePullPolicy": "Always"}, "Always"),
    ({"image": "web:latest", "imagePullPolicy": "Never"}, "Never"),
])
def test_effective_pull_policy_follows_the_api_servers_defaulting(container, want):
    assert effective_pull_policy(container) == want


def test_always_on_a_loaded_image_is_one_line_naming_image_and_registry():
    d = deployment("harness/demo-service:1.1.0")
    d["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] = "Always"
    lines = pull_policy_problems([d, service()], ["harness/demo-service:1.1.0"])
    assert len(lines) == 1
    assert lines[0].startswith("container app of Deployment web: image harness/demo-service:1.1.0 would be pulled "
                               "from docker.io (imagePullPolicy Always), but image-source local loads it")
    assert "IfNotPresent" in lines[0] and "--harness-image-source pull" in lines[0]


def test_latest_without_a_policy_counts_and_other_images_do_not():
    job = {"kind": "Job", "metadata": {"name": "m"}, "spec": {"template": {"spec": {
        "containers": [{"name": "m", "image": "quay.io/acme/migrate"}]}}}}
    lines = pull_policy_problems([job, deployment("web:1.1.0")], ["quay.io/acme/migrate:latest", "web:1.1.0"])
    assert lines == [lines[0]] and "from quay.io (no imagePullPolicy on a :latest tag" in lines[0]
    # an image the harness does not load (pulled by the nodes anyway) may say Always
    other = deployment("nginx:1.27")
    other["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] = "Always"
    assert pull_policy_problems([other], ["web:1.1.0"]) == []


def _tls_ingress(secret="web-tls", host="web.test", shim=False):
    ing = ingress(host=host)
    ing["spec"]["tls"] = [{"hosts": [host], "secretName": secret}]
    if shim:
        ing["metadata"].setdefault("annotations", {})["cert-manager.io/cluster-issuer"] = "harness-ca"
    return ing


def _certificate(secret, dns=("web.test",), name="web"):
    return {"apiVersion": "cert-manager.io/v1", "kind": "Certificate", "metadata": {"name": name},
            "spec": {"secretName": secret, "dnsNames": list(dns), "issuerRef": {"name": "ca", "kind": "ClusterIssuer"}}}


def test_tls_secret_named_by_ingress_and_certificate_alike_passes():
    assert tls_secret_problems([_tls_ingress("web-tls"), _certificate("web-tls")]) == []
    assert tls_secret_problems([_tls_ingress(shim=True)]) == []  # ingress-shim: cert-manager uses the Ingress's name
    assert tls_secret_problems([_tls_ingress("web-tls"), _certificate("other", dns=("api.test",))]) == []
    assert tls_secret_problems([_tls_ingress("web-tls"), _certificate("x", dns=("*.other.test",))]) == []


def test_tls_secret_differing_from_the_certificates_is_one_line():
    lines = tls_secret_problems([_tls_ingress("web-tls"), _certificate("web-cert-tls", dns=("*.test",), name="wild")])
    assert lines == ["Ingress web: TLS for web.test reads Secret web-tls, but Certificate wild writes Secret "
                     "web-cert-tls (spec.secretName): the Secret the Ingress names never appears and HTTPS serves "
                     "the edge's default certificate; use one name for both"]
