"""The Gateway API pin and the CRDs vendored from its Go module (images/vendor-gateway-api-crds.sh):
the pin parses, the vendored chart says the same version, every vendored file is the standard
channel at that version, and Traefik's source in the module cache (when there) builds against it and
names the controller the add-on's GatewayClass uses. Rendered by helm:
tests/integration/test_gateway_render_helm.py."""
from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
import yaml

from harness.core.edges import ADDON_GATEWAY
from harness.core.pins import parse_versions, pinned
from harness.env.addons import traefik

ROOT = Path(__file__).resolve().parents[2]
CRDS = ROOT / "harness" / "env" / "addons" / "charts" / "gateway-api-crds"
TRAEFIK_CHART = ROOT / "harness" / "env" / "addons" / "charts" / "traefik"
# Traefik's Kubernetes Gateway provider (v3.7.12) starts an informer on each of these kinds and waits
# for every cache (pkg/provider/kubernetes/gateway/client.go): each CRD must be in the bundle.
WATCHED = {"GatewayClass": "v1", "Gateway": "v1", "HTTPRoute": "v1", "GRPCRoute": "v1",
           "ReferenceGrant": "v1beta1", "BackendTLSPolicy": "v1", "TLSRoute": "v1"}


def _gomodcache() -> Path:
    return Path(os.environ.get("GOMODCACHE") or Path(os.environ.get("GOPATH") or Path.home() / "go") / "pkg/mod")


def test_the_pin_parses_and_is_a_release():
    v = pinned()["GATEWAY_API_VERSION"]
    assert re.fullmatch(r"v\d+\.\d+\.\d+", v), v


def test_the_pin_parser_reads_the_line():
    text = "# comment\nTRAEFIK_VERSION=v3.7.12\nGATEWAY_API_VERSION=v1.6.1\n"
    assert parse_versions(text)["GATEWAY_API_VERSION"] == "v1.6.1"


def test_vendored_chart_matches_the_pin():
    v = pinned()["GATEWAY_API_VERSION"]
    meta = yaml.safe_load((CRDS / "Chart.yaml").read_text())
    assert meta["appVersion"] == v and meta["version"] == v.lstrip("v")
    assert (CRDS / "files" / "VERSION").read_text().strip() == v
    assert traefik.GatewayApiCrds.chart.version == meta["version"]


def test_every_vendored_file_is_the_standard_channel_at_the_pin():
    v = pinned()["GATEWAY_API_VERSION"]
    order = (CRDS / "files" / "standard" / "ORDER").read_text().split()
    files = sorted(p.name for p in (CRDS / "files" / "standard").glob("*.yaml"))
    assert sorted(order) == files and len(files) >= 10
    served: dict[str, set[str]] = {}
    for name in order:
        for doc in yaml.safe_load_all((CRDS / "files" / "standard" / name).read_text()):
            if not doc:
                continue
            ann = doc["metadata"]["annotations"]
            assert ann["gateway.networking.k8s.io/bundle-version"] == v, name
            assert ann["gateway.networking.k8s.io/channel"] == "standard", name
            if doc["kind"] == "CustomResourceDefinition":
                assert doc["spec"]["group"] == "gateway.networking.k8s.io"
                served[doc["spec"]["names"]["kind"]] = {x["name"] for x in doc["spec"]["versions"] if x.get("served")}
    missing = {k: ver for k, ver in WATCHED.items() if ver not in served.get(k, set())}
    assert missing == {}, f"CRDs Traefik's Gateway provider watches but the bundle does not serve: {missing}"


def test_traefik_builds_against_the_pinned_gateway_api():
    gomod = _gomodcache() / "cache/download/github.com/traefik/traefik/v3/@v" / f"{pinned()['TRAEFIK_VERSION']}.mod"
    if not gomod.is_file():
        pytest.skip(f"Traefik's go.mod not in the Go module cache ({gomod}); run images/build-addons.sh traefik")
    m = re.search(r"^\s*sigs\.k8s\.io/gateway-api (v\S+)", gomod.read_text(), re.M)
    assert m and m.group(1) == pinned()["GATEWAY_API_VERSION"]


def test_gateway_class_names_the_providers_controller():
    values = yaml.safe_load((TRAEFIK_CHART / "values.yaml").read_text())["gateway"]
    src = _gomodcache() / f"github.com/traefik/traefik/v3@{pinned()['TRAEFIK_VERSION']}/pkg/provider/kubernetes/gateway/kubernetes.go"
    if src.is_file():
        m = re.search(r'controllerName\s*=\s*"([^"]+)"', src.read_text())
        assert m and values["controllerName"] == m.group(1)
    assert values["controllerName"] == "traefik.io/gateway-controller"
    # the Gateway the chart creates is the one the edge points charts at
    assert (values["name"], traefik.Traefik.namespace, values["listener"]["name"]) == \
        (ADDON_GATEWAY.name, ADDON_GATEWAY.namespace, ADDON_GATEWAY.section)
    assert values["enabled"] is False  # off unless the edge asks for it
