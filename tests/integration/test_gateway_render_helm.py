"""The Gateway edge rendered by the pinned helm: the Traefik add-on chart with its Gateway provider
on (flags, RBAC, GatewayClass, Gateway on the Ingresses' entrypoint), the vendored Gateway API CRDs,
and both demo charts with their HTTPRoute enabled the way ``--harness-edge traefik-gateway`` does it
(``harness.core.edges.gateway_sets``), which the chart check then accepts."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from harness.core.contract import load, resolve_charts_under_test
from harness.core.edges import ADDON_GATEWAY, gateway_sets
from harness.core.pins import pinned
from harness.scenario.chart_checks import probe_target_problems
from harness.scenario.preflight import check_chart
from harness.tools.helm import Helm, manifest_objects

ROOT = Path(__file__).resolve().parents[2]
ADDON_CHARTS = ROOT / "harness" / "env" / "addons" / "charts"
KUBE = pinned()["KUBERNETES_VERSION"]


def kinds(text: str) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for obj in manifest_objects(text):
        out.setdefault(obj["kind"], []).append(obj)
    return out


def helm(helm_bin: str, tmp_path: Path) -> Helm:
    return Helm(None, home=tmp_path / "helm", binary=helm_bin, check_version=False, kube_version=KUBE)


def render_traefik(helm_bin: str, tmp_path: Path, values: dict) -> dict[str, list[dict]]:
    vf = tmp_path / "values.yaml"
    vf.write_text(yaml.safe_dump(values))
    return kinds(helm(helm_bin, tmp_path).template("traefik", ADDON_CHARTS / "traefik", namespace="harness-traefik",
                                                   values=[vf]))


def test_traefik_with_the_gateway_provider(helm_bin, tmp_path):
    objs = render_traefik(helm_bin, tmp_path, {"gateway": {"enabled": True}})
    args = objs["Deployment"][0]["spec"]["template"]["spec"]["containers"][0]["args"]
    for flag in ("--providers.kubernetesgateway=true", "--providers.kubernetesgateway.experimentalchannel=false",
                 "--providers.kubernetesgateway.statusaddress.hostname=localhost",
                 "--providers.kubernetesingressnginx=true",       # the Ingress edge stays
                 "--entrypoints.web.address=:8000"):
        assert flag in args, flag
    assert not any(a.startswith("--experimental.kubernetesgateway") for a in args)  # deprecated since v3.1

    rules = objs["ClusterRole"][0]["rules"]
    gw = [r for r in rules if "gateway.networking.k8s.io" in r["apiGroups"]]
    read = next(r for r in gw if "list" in r["verbs"])
    assert set(read["verbs"]) == {"get", "list", "watch"}
    assert {"gatewayclasses", "gateways", "httproutes", "grpcroutes", "tlsroutes", "referencegrants",
            "backendtlspolicies"} <= set(read["resources"])
    status = next(r for r in gw if r["verbs"] == ["update"])
    assert {"gatewayclasses/status", "gateways/status", "httproutes/status"} <= set(status["resources"])
    core = next(r for r in rules if r["apiGroups"] == [""])
    assert {"services", "secrets", "configmaps", "namespaces"} <= set(core["resources"])

    (gc,) = objs["GatewayClass"]
    assert gc["spec"]["controllerName"] == "traefik.io/gateway-controller"
    (g,) = objs["Gateway"]
    assert (g["metadata"]["name"], g["metadata"]["namespace"]) == (ADDON_GATEWAY.name, ADDON_GATEWAY.namespace)
    assert g["spec"]["gatewayClassName"] == gc["metadata"]["name"]
    (listener,) = g["spec"]["listeners"]
    # the "web" entrypoint's port (container port 8000 -> hostPort 80 -> 127.0.0.1:18080): Traefik maps a
    # listener to the entrypoint whose address ends in ":<port>"
    ports = {p["name"]: p for p in objs["Deployment"][0]["spec"]["template"]["spec"]["containers"][0]["ports"]}
    assert (listener["name"], listener["protocol"], listener["port"]) == ("web", "HTTP", ports["web"]["containerPort"])
    assert ports["web"]["hostPort"] == 80
    assert listener["allowedRoutes"]["namespaces"] == {"from": "All"}


def test_traefik_without_the_gateway_is_as_before(helm_bin, tmp_path):
    objs = render_traefik(helm_bin, tmp_path, {})
    args = objs["Deployment"][0]["spec"]["template"]["spec"]["containers"][0]["args"]
    assert not any("kubernetesgateway" in a for a in args)
    assert "Gateway" not in objs and "GatewayClass" not in objs
    assert not any("gateway.networking.k8s.io" in r["apiGroups"] for r in objs["ClusterRole"][0]["rules"])


def test_traefik_chart_lints_with_the_gateway(helm_bin, tmp_path):
    h = helm(helm_bin, tmp_path)
    assert "0 chart(s) failed" in h.lint(ADDON_CHARTS / "traefik", sets=["gateway.enabled=true"])


def test_vendored_crds_render_verbatim(helm_bin, tmp_path):
    h = helm(helm_bin, tmp_path)
    objs = kinds(h.template("gateway-api-crds", ADDON_CHARTS / "gateway-api-crds", namespace="harness-traefik"))
    names = {o["spec"]["names"]["kind"] for o in objs["CustomResourceDefinition"]}
    assert {"GatewayClass", "Gateway", "HTTPRoute", "GRPCRoute", "ReferenceGrant", "BackendTLSPolicy",
            "TLSRoute"} <= names
    assert len(objs["ValidatingAdmissionPolicy"]) == 1
    source = ADDON_CHARTS / "gateway-api-crds" / "files" / "standard" / "gateway.networking.k8s.io_httproutes.yaml"
    route_crd = next(o for o in objs["CustomResourceDefinition"] if o["spec"]["names"]["kind"] == "HTTPRoute")
    assert route_crd == yaml.safe_load(source.read_text())  # nothing interpreted or lost on the way


@pytest.mark.parametrize("chart, host", [("realtime", "realtime.test"), ("ha-service", "ha-service.test")])
def test_demo_chart_httproute_with_the_gateway_edge(helm_bin, tmp_path, chart, host):
    h = helm(helm_bin, tmp_path)
    chart_dir = ROOT / "charts-under-test" / chart
    off = kinds(h.template("rel", chart_dir, namespace="ns"))
    assert "HTTPRoute" not in off and "Ingress" in off  # off by default
    on = kinds(h.template("rel", chart_dir, namespace="ns", sets=list(gateway_sets(host))))
    (route,) = on["HTTPRoute"]
    assert "Ingress" not in on  # served through the HTTPRoute only (a TLS Ingress would redirect its host)
    assert route["spec"]["hostnames"] == [host]
    assert route["spec"]["parentRefs"] == [{"group": "gateway.networking.k8s.io", "kind": "Gateway",
                                            "name": "harness", "namespace": "harness-traefik", "sectionName": "web"}]
    (rule,) = route["spec"]["rules"]
    services = {s["metadata"]["name"]: s for s in on["Service"]}
    backend = rule["backendRefs"][0]
    assert backend["name"] in services
    assert backend["port"] in [p["port"] for p in services[backend["name"]]["spec"]["ports"] if p["name"] == "http"]
    assert "timeouts" not in rule
    assert probe_target_problems(list(manifest_objects(h.template("rel", chart_dir, namespace="ns",
                                                                     sets=list(gateway_sets(host))))),
                                 host=host, via="httproute", path="/", classes=("nginx",)) == []
    timed = kinds(h.template("rel", chart_dir, namespace="ns",
                             sets=[*gateway_sets(host), "httpRoute.timeouts.request=30s"]))
    assert timed["HTTPRoute"][0]["spec"]["rules"][0]["timeouts"] == {"request": "30s"}


@pytest.mark.parametrize("chart", ["realtime", "ha-service"])
def test_chart_check_passes_every_variant_through_the_gateway(helm_bin, tmp_path, chart):
    """The preflight as ``--harness-edge traefik-gateway`` runs it: every variant, the released chart
    (from the local repository) and the broken overlays render an HTTPRoute on the harness's Gateway."""
    from harness.core.config import load_config

    cfg = load_config({"chart": [str(ROOT / "charts-under-test" / chart)], "edge": "traefik-gateway"},
                      env={}, rootdir=ROOT, cwd=ROOT)
    (cut,) = resolve_charts_under_test(cfg)
    report = check_chart(cut, helm(helm_bin, tmp_path), lint=False)
    assert report.problems == [], report.problems
    assert "HTTPRoute host" in report.checked[0]


def test_chart_check_says_one_line_for_a_route_on_another_gateway(helm_bin, tmp_path):
    from dataclasses import replace

    from harness.core.contract import ChartUnderTest
    from harness.core.values import ChartRef

    c = load(ROOT / "charts-under-test" / "realtime")
    c = replace(c, probe=replace(c.probe, via="httproute"),
                sets=("httpRoute.enabled=true", "httpRoute.parentRefs[0].name=public"))
    report = check_chart(ChartUnderTest(ChartRef(str(c.chart_dir), "dir"), c), helm(helm_bin, tmp_path), lint=False)
    assert len(report.problems) == 1 and "\n" not in report.problems[0]
    assert "attaches to Gateway <release namespace>/public, which the harness does not provide" in report.problems[0]
    none = replace(c, sets=())
    report = check_chart(ChartUnderTest(ChartRef(str(c.chart_dir), "dir"), none), helm(helm_bin, tmp_path), lint=False)
    assert len(report.problems) == 1 and "no HTTPRoute has hostname realtime.test (HTTPRoutes: none rendered)" \
        in report.problems[0]
    assert report.problems[0].startswith("realtime default, hpa-tls, released 1.0.0 (default), ")
