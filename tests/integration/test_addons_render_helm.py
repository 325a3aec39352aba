"""The Traefik add-on chart rendered and linted by the pinned helm."""
from __future__ import annotations

from pathlib import Path

import yaml

from harness.core.pins import pinned
from harness.tools.helm import Helm, manifest_objects

ROOT = Path(__file__).resolve().parents[2]


CHART = ROOT / "harness" / "env" / "addons" / "charts" / "traefik"


def render(helm_bin: str, tmp_path: Path, values: dict | None = None) -> dict[str, list[dict]]:
    helm = Helm(None, home=tmp_path / "helm", binary=helm_bin, check_version=False)
    vf = tmp_path / "values.yaml"
    vf.write_text(yaml.safe_dump(values or {}))
    text = helm.template("traefik", CHART, namespace="harness-traefik", values=[vf], kube_version="v1.33.1")
    out: dict[str, list[dict]] = {}
    for obj in manifest_objects(text):
        out.setdefault(obj["kind"], []).append(obj)
    return out


def traefik_args(objs) -> list[str]:
    return objs["Deployment"][0]["spec"]["template"]["spec"]["containers"][0]["args"]


def test_traefik_chart_lints(helm_bin, tmp_path):
    helm = Helm(None, home=tmp_path / "helm", binary=helm_bin, check_version=False)
    assert "0 chart(s) failed" in helm.lint(CHART, sets=[f"image.tag={pinned()['TRAEFIK_VERSION']}"])


def test_traefik_serves_ingress_nginx_ingresses(helm_bin, tmp_path):
    objs = render(helm_bin, tmp_path)
    args = traefik_args(objs)
    for flag in ("--providers.kubernetesingressnginx=true",
                 "--providers.kubernetesingressnginx.ingressclass=nginx",
                 "--providers.kubernetesingressnginx.controllerclass=k8s.io/ingress-nginx",
                 "--global.checknewversion=false", "--global.sendanonymoususage=false"):
        assert flag in args
    ic = objs["IngressClass"][0]
    assert (ic["metadata"]["name"], ic["spec"]["controller"]) == ("nginx", "k8s.io/ingress-nginx")


def test_traefik_runs_on_the_ingress_node_with_host_ports(helm_bin, tmp_path):
    spec = render(helm_bin, tmp_path)["Deployment"][0]["spec"]
    pod = spec["template"]["spec"]
    assert pod["nodeSelector"]["ingress-ready"] == "true"
    assert {"key": "node-role.kubernetes.io/control-plane", "operator": "Exists", "effect": "NoSchedule"} \
        in pod["tolerations"]
    ports = {p["name"]: p.get("hostPort") for p in pod["containers"][0]["ports"]}
    assert ports == {"web": 80, "websecure": 443, "traefik": None}
    assert spec["strategy"]["type"] == "Recreate", "two pods cannot hold the same host ports"
    assert pod["containers"][0]["image"] == f"harness/traefik:{pinned()['TRAEFIK_VERSION']}"


def test_long_streams_are_not_cut_by_entrypoint_timeouts(helm_bin, tmp_path):
    args = traefik_args(render(helm_bin, tmp_path))
    for ep in ("web", "websecure"):
        assert f"--entrypoints.{ep}.transport.respondingtimeouts.readtimeout=0s" in args
        assert f"--entrypoints.{ep}.transport.respondingtimeouts.writetimeout=0s" in args


def test_upstream_defaults_are_ingress_nginx_configmap_defaults(helm_bin, tmp_path):
    """The provider (v3.7) builds each Ingress's serversTransport and retry middleware from its own
    options; the chart sets them to ingress-nginx's defaults and adds no retry of its own (a second
    retry layer would multiply the attempts and the 5 s connect timeouts)."""
    objs = render(helm_bin, tmp_path)
    args = traefik_args(objs)
    p = "--providers.kubernetesingressnginx."
    for flag in ("proxyconnecttimeout=5", "proxyreadtimeout=60", "proxysendtimeout=60",
                 "proxynextupstream=error timeout", "proxynextupstreamtries=3", "upstreamkeepalivetimeout=60",
                 "httpentrypoint=web", "httpsentrypoint=websecure"):
        assert p + flag in args, flag
    assert not [a for a in args if "middlewares" in a or "providers.file" in a or "serverstransport" in a]
    # endpoint changes (a terminating pod fenced) are applied at once, not up to 2 s later
    assert "--providers.providersthrottleduration=0s" in args
    assert "ConfigMap" not in objs
    off = traefik_args(render(helm_bin, tmp_path, {"upstream": {"nextUpstream": "off", "connectTimeout": 10}}))
    assert p + "proxynextupstream=off" in off and p + "proxyconnecttimeout=10" in off


def test_rbac_covers_what_the_provider_watches(helm_bin, tmp_path):
    rules = render(helm_bin, tmp_path)["ClusterRole"][0]["rules"]
    granted = {(g, r, v) for rule in rules for g in rule["apiGroups"] for r in rule["resources"] for v in rule["verbs"]}
    for g, r in [("", "services"), ("", "secrets"), ("", "configmaps"), ("discovery.k8s.io", "endpointslices"),
                 ("networking.k8s.io", "ingresses"), ("networking.k8s.io", "ingressclasses")]:
        assert (g, r, "list") in granted and (g, r, "watch") in granted, (g, r)
    assert ("networking.k8s.io", "ingresses/status", "update") in granted


def test_traefik_writes_a_json_access_log_keeping_the_probe_header(helm_bin, tmp_path):
    """Flag names as Traefik v3.7 reads them (pkg/observability/types/logs.go ``AccessLog``): JSON,
    unbuffered, only the fields the attribution reads, and the prober's header kept as
    ``request_X-Harness-Probe``."""
    from harness.measure.attribution import ACCESS_LOG_FIELDS
    from harness.measure.prober import PROBE_HEADER

    args = traefik_args(render(helm_bin, tmp_path))
    for flag in ("--accesslog=true", "--accesslog.format=json", "--accesslog.bufferingsize=0",
                 "--accesslog.fields.defaultmode=drop", "--accesslog.fields.headers.defaultmode=drop",
                 f"--accesslog.fields.headers.names.{PROBE_HEADER}=keep"):
        assert flag in args
    kept = {a.split("names.", 1)[1].removesuffix("=keep") for a in args if a.startswith("--accesslog.fields.names.")}
    assert kept == set(ACCESS_LOG_FIELDS)
    off = traefik_args(render(helm_bin, tmp_path / "off", {"accessLog": {"enabled": False}}))
    assert not [a for a in off if a.startswith("--accesslog")]
