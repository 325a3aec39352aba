"""What the ingress and cert-manager add-ons configure: the Traefik add-on values, ingress-nginx values
for kind, cert-manager's issuers; and the Traefik build inputs (pinned version, wrapper module). The
Traefik chart rendered by helm: tests/integration/test_addons_render_helm.py."""
from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
import yaml

from harness.core.pins import pinned
from harness.env.addons import catalog, certmanager

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "harness" / "env" / "addons" / "charts" / "traefik"


def test_chart_versions_match_the_pins():
    meta = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert meta["appVersion"] == pinned()["TRAEFIK_VERSION"]
    assert catalog.get("traefik").chart.version == meta["version"]


def test_traefik_addon_values_and_images():
    t = catalog.get("traefik")

    class C:
        settings = {"traefik": {"values": {"logLevel": "DEBUG"}}}

        def setting(self, addon, key, default=None):
            return self.settings.get(addon, {}).get(key, default)

        def effective_image_source(self):
            return self.source

    C.source = "local"
    vals = t.values(C())
    assert vals["image"] == {"repository": "harness/traefik", "tag": pinned()["TRAEFIK_VERSION"]}
    assert vals["logLevel"] == "DEBUG"
    assert t.images(C()) == [f"harness/traefik:{pinned()['TRAEFIK_VERSION']}", "harness/toolbox:latest"]
    # pull mode: the official images, pulled by the nodes (harness/data/versions.env)
    C.source = "pull"
    assert t.values(C())["image"] == {"repository": "traefik", "tag": pinned()["TRAEFIK_VERSION"]}
    assert t.images(C()) == [pinned()["TRAEFIK_PULL_IMAGE"], pinned()["TOOLBOX_PULL_IMAGE"]]
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

        def effective_image_source(self):
            return "local"

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
    assert vals["startupapicheck"]["enabled"] is False
    v = pinned()["CERT_MANAGER_VERSION"]
    assert a.chart.version == v
    assert a.images(C()) == [f"quay.io/jetstack/cert-manager-{c}:{v}" for c in ("controller", "webhook", "cainjector")]
    assert "build-cert-manager.sh" in a.offline_hint()


def test_smoke_certificate_uses_the_ca_issuer():
    cert = certmanager.smoke_certificate("x", "ns")
    assert cert["spec"]["issuerRef"]["name"] == "harness-ca"
