"""The Gateway edge without a cluster: the ``edge`` option, the values overlay it adds to a contract,
the record's edge, the Traefik add-on's Gateway values and its Programmed check, the post-renderer's
host rename of HTTPRoutes. (The parentRef rule of the chart check: tests/unit/test_chart_checks.py;
helm rendering: tests/integration/test_gateway_render_helm.py.)"""
from __future__ import annotations

import io
import json
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from harness.core import contract as contract_mod
from harness.core.config import OPTIONS_BY_KEY, load_config
from harness.core.edges import (
    ADDON_GATEWAY,
    EDGES,
    GatewayRef,
    gateway_sets,
    parent_ref_problems,
)
from harness.core.errors import UsageError
from harness.core.values import parse_set
from harness.env.addons import catalog, traefik
from harness.env.addons.engine import AddonContext
from harness.plugin.cell import edge_for
from harness.scenario.context import edge_cell
from harness.scenario.result import Cell
from harness.tools import postrender

ROOT = Path(__file__).resolve().parents[2]


def cfg(tmp_path, cli=None, env=None):
    return load_config(cli or {}, env=env or {}, rootdir=tmp_path, cwd=tmp_path)


# --------------------------------------------------------------------------- the option


def test_edge_option_defaults_to_the_ingress_edge(tmp_path):
    c = cfg(tmp_path)
    assert c.edge == "traefik-nginx" and c.sources["edge"] == "default"
    opt = OPTIONS_BY_KEY["edge"]
    assert opt.env == "HARNESS_EDGE" and opt.choices == EDGES == ("traefik-nginx", "traefik-gateway", "ingress-nginx")


def test_edge_option_from_env_and_cli(tmp_path):
    assert cfg(tmp_path, env={"HARNESS_EDGE": "traefik-gateway"}).edge == "traefik-gateway"
    c = cfg(tmp_path, cli={"harness_edge": "traefik-gateway"}, env={"HARNESS_EDGE": "traefik-nginx"})
    assert c.edge == "traefik-gateway" and c.sources["edge"] == "option"


def test_edge_option_refuses_unknown_edges_and_a_gateway_without_traefik(tmp_path):
    with pytest.raises(UsageError, match=r"^edge \(option\): 'envoy' is not one of traefik-nginx, traefik-gateway, "
                                         r"ingress-nginx$"):
        cfg(tmp_path, cli={"edge": "envoy"})
    with pytest.raises(UsageError) as exc:
        cfg(tmp_path, cli={"edge": "traefik-gateway", "addons": ["postgres"]})
    assert "\n" not in str(exc.value)
    assert str(exc.value).startswith("edge (option): traefik-gateway needs the traefik add-on")


def test_the_ingress_nginx_edge_puts_its_add_on_in_traefiks_place(tmp_path):
    c = cfg(tmp_path, cli={"edge": "ingress-nginx"})
    assert c.addons == ("ingress-nginx", "cert-manager", "postgres")
    assert edge_for(c.addons, c.edge) == "ingress-nginx"
    assert cfg(tmp_path, cli={"edge": "ingress-nginx", "addons": ["ingress-nginx", "postgres"]}).addons == (
        "ingress-nginx", "postgres")
    with pytest.raises(UsageError, match=r"^edge \(option\): ingress-nginx needs the ingress-nginx add-on \(or "
                                         r"traefik, which it replaces\); addons \(option\) is postgres$"):
        cfg(tmp_path, cli={"edge": "ingress-nginx", "addons": ["postgres"]})


def test_a_pull_only_edge_says_why_it_cannot_run_where_images_are_built():
    from harness.core.edges import unavailable_reason
    reason = unavailable_reason("ingress-nginx", "local")
    assert reason.startswith("edge ingress-nginx cannot run on this machine: its controller image")
    assert "\n" not in reason and "image-source is pull" in reason
    assert unavailable_reason("ingress-nginx", "pull") is None
    assert unavailable_reason("traefik-nginx", "local") is None
    assert unavailable_reason("traefik-gateway", "local") is None


# --------------------------------------------------------------------------- the values overlay


def test_gateway_sets_parse_as_helm_set_pairs():
    pairs = gateway_sets("realtime.test")
    assert pairs == ("ingress.enabled=false", "httpRoute.enabled=true",
                     "httpRoute.parentRefs[0].group=gateway.networking.k8s.io",
                     "httpRoute.parentRefs[0].kind=Gateway",
                     "httpRoute.parentRefs[0].name=harness",
                     "httpRoute.parentRefs[0].namespace=harness-traefik",
                     "httpRoute.parentRefs[0].sectionName=web",
                     "httpRoute.hostnames[0]=realtime.test")
    for p in pairs:
        parse_set(p)  # each is valid --set syntax
    assert "httpRoute.parentRefs[0].sectionName=web" not in gateway_sets("a.test", GatewayRef("g", "ns"))


def test_the_overlay_renders_a_route_the_check_accepts():
    """What gateway_sets produce, as the chart templates them, attaches to the harness's Gateway."""
    route = {"kind": "HTTPRoute", "metadata": {"name": "r"},
             "spec": {"parentRefs": [{"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "harness",
                                      "namespace": "harness-traefik", "sectionName": "web"}],
                      "hostnames": ["realtime.test"]}}
    assert parent_ref_problems(route, None) == []
    route["spec"]["parentRefs"][0]["namespace"] = "default"
    assert parent_ref_problems(route, None) != []
    # the route's own namespace stands in for a parentRef without one
    route["spec"]["parentRefs"][0].pop("namespace")
    assert parent_ref_problems(route, "harness-traefik") == []


def test_with_edge_turns_the_contract_to_its_httproute():
    c = contract_mod.load(ROOT / "charts-under-test" / "realtime")
    assert contract_mod.with_edge(c, "traefik-nginx") is c
    assert contract_mod.with_edge(None, "traefik-gateway") is None
    g = contract_mod.with_edge(c, "traefik-gateway")
    assert g.probe.via == "httproute" and g.probe.host == c.probe.host and g.probe.path == c.probe.path
    assert g.sets == (*c.sets, *gateway_sets("realtime.test"))
    assert c.probe.via == "ingress"  # the loaded contract is left as it was


def test_resolve_charts_applies_the_edge(tmp_path):
    c = load_config({"chart": [str(ROOT / "charts-under-test" / "ha-service")], "edge": "traefik-gateway",
                     "set": ["a=1"]}, env={}, rootdir=ROOT, cwd=ROOT)
    (chart,) = contract_mod.resolve_charts_under_test(c)
    assert chart.contract.probe.via == "httproute"
    assert "httpRoute.hostnames[0]=ha-service.test" in chart.contract.sets
    assert chart.sets == ("a=1",)  # the user's --set stay last (targets.set_pairs appends them)


# --------------------------------------------------------------------------- the record's edge


def test_cell_edge_follows_the_option_and_the_contract():
    assert edge_for(["traefik", "postgres"]) == "traefik-nginx"
    assert edge_for(["traefik"], "traefik-gateway") == "traefik-gateway"
    assert edge_for(["ingress-nginx"], "traefik-gateway") == "ingress-nginx"
    assert edge_for(["postgres"]) == ""
    via = SimpleNamespace(probe=SimpleNamespace(via="httproute"))
    ing = SimpleNamespace(probe=SimpleNamespace(via="ingress"))
    assert edge_cell(Cell("v1.37.2", "v4.3.2", "traefik-nginx"), via).edge == "traefik-gateway"
    assert edge_cell(Cell("v1.37.2", "v4.3.2", "traefik-nginx"), ing).edge == "traefik-nginx"
    assert edge_cell(Cell(edge="ingress-nginx"), via).edge == "ingress-nginx"
    assert edge_cell(Cell(edge="traefik-gateway"), via).edge == "traefik-gateway"


# --------------------------------------------------------------------------- the add-on


def test_the_edge_turns_the_traefik_gateway_on():
    cluster = SimpleNamespace(kubeconfig="/dev/null", context="", name="x")
    on = AddonContext.from_config(SimpleNamespace(edge="traefik-gateway", image_source="local"), cluster, kubectl=object())
    off = AddonContext.from_config(SimpleNamespace(edge="traefik-nginx", image_source="local"), cluster, kubectl=object())
    t = catalog.get("traefik")
    assert t.values(on)["gateway"] == {"enabled": True}
    assert t.gateway(on) == ADDON_GATEWAY
    assert "gateway" not in t.values(off) and t.gateway(off) is None
    # an explicit add-on value wins over the edge
    on.settings["traefik"]["values"] = {"gateway": {"enabled": False}}
    assert t.gateway(on) is None


@pytest.mark.parametrize("status, done, says", [
    ({"conditions": [{"type": "Accepted", "status": "True"},
                     {"type": "Programmed", "status": "True", "reason": "Programmed", "observedGeneration": 1}]},
     True, "Programmed=True (Programmed"),
    ({}, False, "no Programmed condition written yet: is the Kubernetes Gateway provider running?"),
    ({"conditions": [{"type": "Programmed", "status": "Unknown", "reason": "Pending"}]}, False, "no Programmed"),
    ({"conditions": [{"type": "Programmed", "status": "True", "reason": "Programmed", "observedGeneration": 0}]},
     False, "Programmed is for generation 0, the Gateway is at 1"),
    ({"conditions": [{"type": "Programmed", "status": "False", "reason": "Invalid", "message": "listeners invalid"}],
      "listeners": [{"name": "web", "conditions": [
          {"type": "Accepted", "status": "False", "reason": "PortUnavailable",
           "message": "Cannot find entryPoint for Gateway: no matching entryPoint for port 80"}]}]},
     False, "Programmed=False (Invalid: listeners invalid); listener web: Accepted=False (PortUnavailable: Cannot find"),
])
def test_gateway_programmed_says_what_it_saw(status, done, says):
    got, state = traefik.gateway_programmed({"metadata": {"generation": 1}, "status": status})
    assert got is done and says in state, state


def test_gateway_programmed_without_the_gateway():
    assert traefik.gateway_programmed(None) == (False, "the Gateway does not exist")


# --------------------------------------------------------------------------- post-renderer


def test_postrender_renames_httproute_hostnames(monkeypatch, capsys):
    docs = [{"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute", "metadata": {"name": "r"},
             "spec": {"hostnames": ["a.test", "other.test"]}},
            {"kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"hostnames": "a.test"}}]
    monkeypatch.setattr(sys, "stdin", io.StringIO(yaml.safe_dump_all(docs)))
    assert postrender.main(["postrender.py", "host:a.test=rel-1.a.test"]) == 0
    out = [d for d in yaml.safe_load_all(capsys.readouterr().out) if d]
    assert out[0]["spec"]["hostnames"] == ["rel-1.a.test", "other.test"]
    assert out[1] == json.loads(json.dumps(docs[1]))  # other kinds untouched


class FakeHelm:
    """helm as the Traefik add-on uses it: ``list``, ``get_values`` and ``upgrade --install`` recorded."""

    def __init__(self, deployed: dict[str, dict]):
        self.deployed = deployed  # release -> {"chart": label, "values": {...}}
        self.upgraded: list[str] = []

    def list(self, namespace=None):
        return [{"name": n, "status": "deployed", "chart": r["chart"], "namespace": namespace}
                for n, r in self.deployed.items()]

    def get_values(self, release, namespace=None):
        return self.deployed[release]["values"]

    def upgrade(self, release, chart, *, values=(), **kw):
        self.upgraded.append(release)
        self.deployed[release] = {"chart": "?", "values": yaml.safe_load(Path(values[0]).read_text())}


def test_gateway_edge_installs_the_crds_first_and_counts_them_for_present():
    cluster = SimpleNamespace(kubeconfig="/dev/null", context="", name="x")
    c = AddonContext.from_config(SimpleNamespace(edge="traefik-gateway", image_source="local"), cluster, kubectl=object())
    c.helm = FakeHelm({})
    t, crds = catalog.get("traefik"), traefik.GatewayApiCrds()
    assert t.decide(c) == "install"
    t.install(c)
    assert c.helm.upgraded == ["gateway-api-crds", "traefik"]
    assert c.helm.deployed["gateway-api-crds"]["values"] == {"harnessChartDigest": crds.values(c)["harnessChartDigest"]}
    for rel, addon in (("traefik", t), ("gateway-api-crds", crds)):
        c.helm.deployed[rel]["chart"] = addon.chart_label()
    assert t.decide(c) == "present"
    del c.helm.deployed["gateway-api-crds"]  # CRDs gone (or another version): Traefik alone is not enough
    assert t.decide(c) == "upgrade"
    # without the edge the CRD release is not looked at
    off = AddonContext.from_config(SimpleNamespace(edge="traefik-nginx", image_source="local"), cluster, kubectl=object())
    off.helm = FakeHelm({})
    t.install(off)
    assert off.helm.upgraded == ["traefik"]
