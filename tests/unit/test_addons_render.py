"""What the ingress and cert-manager add-ons render: the Traefik chart, ingress-nginx values for
kind, cert-manager's issuers; and the Traefik build inputs (pinned version, wrapper module)."""
from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
import yaml

from harness.core.pins import pinned
from harness.env.addons import catalog, certmanager
from harness.tools.helm import Helm, manifest_objects

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "addon-charts" / "traefik"


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


def test_chart_versions_match_the_pins():
    meta = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert meta["appVersion"] == pinned()["TRAEFIK_VERSION"]
    assert catalog.get("traefik").chart.version == meta["version"]


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


def test_traefik_addon_values_and_images():
    t = catalog.get("traefik")

    class C:
        settings = {"traefik": {"values": {"logLevel": "DEBUG"}}}

        def setting(self, addon, key, default=None):
            return self.settings.get(addon, {}).get(key, default)

    vals = t.values(C())
    assert vals["image"] == {"repository": "harness/traefik", "tag": pinned()["TRAEFIK_VERSION"]}
    assert vals["logLevel"] == "DEBUG"
    assert t.images(C()) == [f"harness/traefik:{pinned()['TRAEFIK_VERSION']}", "harness/toolbox:latest"]
    assert len(vals["harnessChartDigest"]) == 16


def test_chart_digest_changes_with_any_chart_file(tmp_path):
    from harness.env.addons.engine import chart_digest

    (tmp_path / "templates").mkdir()
    (tmp_path / "Chart.yaml").write_text("name: x\nversion: 0.1.0\n")
    (tmp_path / "templates" / "a.yaml").write_text("a: 1\n")
    before = chart_digest(tmp_path)
    assert chart_digest(tmp_path) == before
    (tmp_path / "templates" / "a.yaml").write_text("a: 2\n")
    assert chart_digest(tmp_path) != before


# --------------------------------------------------------------------------- Traefik build inputs


def test_wrapper_module_requires_the_pinned_traefik():
    gomod = (ROOT / "images" / "build" / "traefik" / "go.mod").read_text()
    assert f"github.com/traefik/traefik/v3 {pinned()['TRAEFIK_VERSION']}" in gomod


def _directives(gomod: str) -> tuple[set[str], set[str]]:
    """replace and exclude lines of a go.mod, whitespace-normalised."""
    text = re.sub(r"//.*", "", gomod)
    replaces, excludes = set(), set()
    for block_kw, target in (("replace", replaces), ("exclude", excludes)):
        for m in re.finditer(rf"^{block_kw}\s*\((.*?)^\)", text, re.S | re.M):
            target.update(" ".join(ln.split()) for ln in m.group(1).splitlines() if ln.strip())
        for m in re.finditer(rf"^{block_kw}\s+([^(\n].*)$", text, re.M):
            target.add(" ".join(m.group(1).split()))
    return replaces, excludes


WRAPPER = ROOT / "images" / "build" / "traefik"
EXT_MODULE = "github.com/traefik/traefik/dynamic/ext"

# Upstream replace lines the wrapper cannot repeat as they are, and what it has instead (go.mod
# explains each): a nested module of Traefik's repository that no zip contains, and a fork version
# the Go module proxy here refuses (403), replaced by the one v3.6.12 used.
KNOWN_REPLACE_DEVIATIONS = {
    f"{EXT_MODULE} => ./pkg/config/dynamic/ext": f"{EXT_MODULE} => ./dynamic-ext",
    "github.com/abbot/go-http-auth => github.com/containous/go-http-auth v0.4.1-0.20260804094822-b975dcaa8c48":
        "github.com/abbot/go-http-auth => github.com/containous/go-http-auth v0.4.1-0.20200324110947-a37a7636d23e",
}


def _gomodcache() -> Path:
    return Path(os.environ.get("GOMODCACHE") or Path(os.environ.get("GOPATH") or Path.home() / "go") / "pkg/mod")


def test_wrapper_module_repeats_upstream_replace_and_exclude_lines():
    upstream = _gomodcache() / "cache/download/github.com/traefik/traefik/v3/@v" / f"{pinned()['TRAEFIK_VERSION']}.mod"
    if not upstream.is_file():
        pytest.skip(f"upstream go.mod not in the Go module cache ({upstream}); run images/build-addons.sh traefik")
    ours = _directives((WRAPPER / "go.mod").read_text())
    theirs = _directives(upstream.read_text())
    expected = {KNOWN_REPLACE_DEVIATIONS.get(line, line) for line in theirs[0]}
    assert theirs[0] and ours[0] == expected
    assert theirs[1] and ours[1] == theirs[1]


def test_dynamic_ext_stand_in_declares_what_traefik_uses():
    """The stand-in for Traefik's nested dynamic/ext module has its module path and declares every
    ext.<Name> the pinned Traefik source uses (read from the module cache when it is there)."""
    assert re.search(rf"^module {re.escape(EXT_MODULE)}$", (WRAPPER / "dynamic-ext" / "go.mod").read_text(), re.M)
    declared = set(re.findall(r"^type (\w+) struct\{\}$", (WRAPPER / "dynamic-ext" / "ext.go").read_text(), re.M))
    assert declared == {"HTTP", "Router"}
    src = _gomodcache() / f"github.com/traefik/traefik/v3@{pinned()['TRAEFIK_VERSION']}"
    if not src.is_dir():
        pytest.skip(f"Traefik's source not in the Go module cache ({src}); run images/build-addons.sh traefik")
    used: set[str] = set()
    importers = []
    for f in src.rglob("*.go"):
        text = f.read_text(errors="replace")
        if f'"{EXT_MODULE}"' in text:
            importers.append(f.relative_to(src).as_posix())
            used |= set(re.findall(r"\bext\.([A-Z]\w*)", text))
    assert importers == ["pkg/config/dynamic/http_config.go"]
    assert used and used <= declared, f"Traefik uses ext.{sorted(used - declared)} the stand-in lacks"


# --------------------------------------------------------------------------- ingress-nginx


def test_ingress_nginx_values_follow_kinds_recipe():
    a = catalog.get("ingress-nginx")

    class C:
        def setting(self, *a, **k):
            return None

    c = a.values(C())["controller"]
    assert c["hostPort"] == {"enabled": True, "ports": {"http": 80, "https": 443}}
    assert c["nodeSelector"]["ingress-ready"] == "true"
    assert any(t["key"] == "node-role.kubernetes.io/control-plane" for t in c["tolerations"])
    assert c["image"]["digest"] == "", "a digest would bypass the image preloaded by tag"
    assert c["ingressClassResource"]["controllerValue"] == "k8s.io/ingress-nginx"
    assert a.images(C())[0] == f"registry.k8s.io/ingress-nginx/controller:{pinned()['INGRESS_NGINX_CONTROLLER_VERSION']}"
    assert a.chart.location == "https://kubernetes.github.io/ingress-nginx"


# --------------------------------------------------------------------------- cert-manager


def test_issuers_build_a_ca_chain():
    objs = certmanager.issuer_manifests()
    kinds = [(o["kind"], o["metadata"]["name"]) for o in objs]
    assert kinds == [("ClusterIssuer", "harness-selfsigned"), ("Certificate", "harness-ca"),
                     ("ClusterIssuer", "harness-ca")]
    ca_cert = objs[1]
    assert ca_cert["metadata"]["namespace"] == "cert-manager", "a ClusterIssuer reads its secret there"
    assert ca_cert["spec"]["isCA"] is True
    assert ca_cert["spec"]["issuerRef"] == {"name": "harness-selfsigned", "kind": "ClusterIssuer",
                                            "group": "cert-manager.io"}
    assert objs[2]["spec"] == {"ca": {"secretName": ca_cert["spec"]["secretName"]}}


def test_cert_manager_values_and_images():
    a = catalog.get("cert-manager")

    class C:
        def setting(self, *a, **k):
            return None

    vals = a.values(C())
    assert vals["crds"]["enabled"] is True
    assert vals["startupapicheck"]["enabled"] is True
    v = pinned()["CERT_MANAGER_CHART_VERSION"]
    assert a.chart.version == v
    assert a.images(C()) == [f"quay.io/jetstack/cert-manager-{c}:{v}"
                             for c in ("controller", "webhook", "cainjector", "startupapicheck")]
    assert "cannot be built offline" in a.offline_hint()


def test_smoke_certificate_uses_the_ca_issuer():
    cert = certmanager.smoke_certificate("x", "ns")
    assert cert["spec"]["issuerRef"]["name"] == "harness-ca"
