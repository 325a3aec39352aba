"""What the scenario context takes from contract v2: the serving wait's paths, the prober's version
source, the expected version, the values and sets of each install, and the HTTPRoute skip."""
from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

import pytest
from scenario_fakes import make_ctx, target

from harness.core.contract import Probe, VersionFrom
from harness.core.errors import ScenarioSkipped, UsageError
from harness.scenario.context import _no_version


def with_contract(ctx, **changes):
    t = ctx.target
    ctx.target = replace(t, chart=replace(t.chart, contract=replace(t.contract, **changes)))
    return ctx


def test_serving_wait_polls_the_ready_path_then_the_probe_path(tmp_path):
    ctx = make_ctx(tmp_path, target("upgrade"))  # ha-service: readyPath /ready, path /slow?ms=250
    assert ctx.target.chart.name == "ha-service"
    asked: list[str] = []
    ctx.http = lambda method, path, **kw: asked.append(path) or SimpleNamespace(status_code=200, headers={})
    ctx.wait_serving()
    assert asked == ["/ready", "/slow?ms=250"]
    asked.clear()
    with_contract(ctx, probe=Probe("ha-service.test", "/"))  # readyPath omitted: the probe path, once
    ctx.wait_serving()
    assert asked == ["/"]


def test_prober_reads_the_declared_version_source_only(tmp_path):
    ctx = make_ctx(tmp_path, target("upgrade"), base_url="http://127.0.0.1:9")
    p = ctx.prober()
    assert p.version_from.__self__ == VersionFrom("json", "version") and p.version_from.__name__ == "extract"
    assert ctx.version_source == "json: version"
    with_contract(ctx, version_from=None)
    assert ctx.prober().version_from is _no_version and ctx.version_source is None


def test_expected_version(tmp_path):
    ctx = make_ctx(tmp_path, target("upgrade"))
    assert ctx.expected_version("1.1.0") == "1.1.0"
    with_contract(ctx, version_from=VersionFrom("regex", r"v(\d+\.\d+\.\d+)"))
    assert ctx.expected_version("v1.1.0") == "1.1.0"
    with_contract(ctx, version_from=None)
    assert ctx.expected_version("v1.1.0") == "v1.1.0"  # the summary still names it; nothing checks it


def test_install_values_and_sets_follow_the_contract(tmp_path):
    ctx = make_ctx(tmp_path, target("upgrade"))
    top, rel = tmp_path / "top.yaml", tmp_path / "rel.yaml"
    c = ctx.contract
    with_contract(ctx, values=(top,), sets=("a=1",), released=replace(c.released, values=(rel,), sets=("b=2",)))
    variant = list(ctx.target.values)
    assert ctx.values(candidate=True) == [top, *variant]
    assert ctx.values(candidate=False) == [top, rel, *variant]
    ctx._db_sets = lambda: ["db=x"]
    assert ctx.sets() == ["a=1", "db=x"] and ctx.sets(candidate=False) == ["a=1", "b=2", "db=x"]


def test_httproute_probe_skips_with_one_line_without_the_gateway_edge(tmp_path):
    ctx = make_ctx(tmp_path, target("upgrade"))
    with_contract(ctx, probe=Probe("web.test", "/", via="httproute"))
    with pytest.raises(ScenarioSkipped) as err:
        ctx.require_reachable_ingress(ctx.candidate, [])
    assert "\n" not in str(err.value) and "probe.via: httproute" in str(err.value)
    assert "--harness-edge traefik-gateway" in str(err.value)


def test_httproute_probe_runs_through_the_gateway_edge(tmp_path):
    from harness.core.edges import ADDON_GATEWAY

    ctx = make_ctx(tmp_path, target("upgrade"))
    with_contract(ctx, probe=Probe("web.test", "/", via="httproute"))
    ctx.env.addons.state["traefik-gateway"] = ADDON_GATEWAY  # what the traefik add-on leaves when its Gateway is Programmed
    ctx.env.addons.http_port = 18080
    assert ctx.gateway == ADDON_GATEWAY
    ctx.require_reachable_ingress(ctx.candidate, [])  # no skip, no rendering needed
    # plain HTTP on the Gateway's listener, the Ingresses' port, whatever the Ingress's TLS
    ctx.manifest = lambda revision=None: [{"kind": "Ingress", "spec": {"tls": [{"hosts": ["web.test"]}]}}]
    assert ctx.ingress_base() == ("http://127.0.0.1:18080", True, None)


def test_gate_preflight_runs_the_chart_check(monkeypatch):
    from harness.gate import preflight
    from harness.scenario.preflight import CheckReport

    plan = SimpleNamespace(charts=[SimpleNamespace(ref=SimpleNamespace(is_local=True))],
                           cfg=SimpleNamespace(edge="traefik-nginx"), edges=("traefik-nginx",))
    monkeypatch.setattr(preflight, "check_charts", lambda charts, cfg: CheckReport(["c: 3 variants"], []))
    assert preflight.lint(plan) == ["c: 3 variants"]
    monkeypatch.setattr(preflight, "check_charts",
                        lambda charts, cfg: CheckReport(["c"], ["c default: no Ingress has host c.test", "c: image x"]))
    with pytest.raises(UsageError) as err:
        preflight.lint(plan)
    assert str(err.value).splitlines() == ["gate: chart check found 2 problems:",
                                           "  c default: no Ingress has host c.test", "  c: image x"]


def test_gate_preflight_checks_the_chart_through_each_edge(monkeypatch):
    from harness.core.config import HarnessConfig
    from harness.gate import preflight
    from harness.scenario.preflight import CheckReport

    seen = []

    def check(charts, cfg):
        seen.append(cfg.edge)
        return CheckReport([f"c via {cfg.edge}"], ["c default: no HTTPRoute has host c.test"] if cfg.edge == "traefik-gateway" else [])

    monkeypatch.setattr(preflight, "check_charts", check)
    plan = SimpleNamespace(charts=[SimpleNamespace(ref=SimpleNamespace(is_local=True))], cfg=HarnessConfig(),
                           edges=("traefik-nginx", "traefik-gateway"))
    with pytest.raises(UsageError, match=r"^gate: through edge traefik-gateway: chart check found 1 problem"):
        preflight.lint(plan)
    assert seen == ["traefik-nginx", "traefik-gateway"]


def test_a_contract_base_values_file_in_ci_is_not_a_variant():
    from pathlib import Path

    from harness.core.contract import ChartUnderTest, load
    from harness.core.values import ChartRef
    from harness.scenario.targets import variants

    root = Path(__file__).resolve().parents[2] / "charts-under-test"
    static = load(root / "static-site")
    assert [v[0] for v in variants(ChartUnderTest(ChartRef(str(root / "static-site"), "dir"), static))] == ["default"]
    ha = load(root / "ha-service")
    assert [v[0] for v in variants(ChartUnderTest(ChartRef(str(root / "ha-service"), "dir"), ha))] == ["default", "tls"]
