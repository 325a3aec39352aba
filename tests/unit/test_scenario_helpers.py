"""harness.scenario's cluster-free parts: targets from contracts, settings, manifest readings, the report."""
from __future__ import annotations

from pathlib import Path

import pytest

from harness.core.contract import ChartUnderTest, discover
from harness.core.errors import HarnessError
from harness.core.values import ChartRef
from harness.scenario.manifests import (
    ingress_has_tls,
    ingress_read_timeout,
    probe_bounds,
    workload_images,
)
from harness.scenario.settings import Settings
from harness.scenario.targets import targets_for, variants

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def charts() -> list[ChartUnderTest]:
    return [ChartUnderTest(ChartRef(str(c.chart_dir), "dir"), c) for c in discover(ROOT / "charts-under-test")]


def test_targets_follow_the_contracts(charts):
    charts = [c for c in charts if c.name in ("ha-service", "realtime")]  # static-site: the test below
    ids = {s: [t.id for t in targets_for(s, charts, negative=False)] for s in ("upgrade", "sse", "db_outage")}
    assert ids["upgrade"] == ["ha-service-default", "ha-service-tls", "realtime-default", "realtime-hpa-tls"]
    assert ids["sse"] == ["realtime-default", "realtime-hpa-tls"]      # ha-service does not list sse
    assert ids["db_outage"] == ["ha-service-default", "ha-service-tls"]
    neg = targets_for("upgrade", charts, negative=True)
    assert [t.id for t in neg] == ["ha-service-broken-max-unavailable-all"]
    # an upgrade stops the released version's pods, so the candidate's shutdown defect is drain's
    assert [t.id for t in targets_for("drain", charts, negative=True)] == [
        "ha-service-broken-pdb-blocks-drain", "ha-service-broken-no-graceful-shutdown"]
    assert all(t.variant == "default" and t.values[0].name == "default-values.yaml" for t in neg)
    assert targets_for("rollback", charts, negative=True)[0].broken.name == "migration-fails"


def test_static_site_runs_upgrade_rollback_drain_with_one_control_each_for_upgrade_and_drain(charts):
    site = [c for c in charts if c.name == "static-site"]
    assert len(site) == 1
    for s in ("upgrade", "rollback", "drain"):
        assert targets_for(s, site, negative=False), s
    for s in ("sse", "db_outage"):  # an HTML page: no stream, no database
        assert targets_for(s, site, negative=False) == [], s
    neg = {s: [t.id for t in targets_for(s, site, negative=True)] for s in ("upgrade", "rollback", "drain")}
    assert neg == {"upgrade": ["static-site-broken-max-unavailable-all"], "rollback": [],
                   "drain": ["static-site-broken-pdb-blocks-drain"]}


def test_a_chart_without_contract_gets_no_scenarios():
    bare = ChartUnderTest(ChartRef("harness-charts/x", "repo", "1.0.0"), None)
    assert targets_for("upgrade", [bare], negative=False) == []
    assert variants(bare) == [("default", ())]


def test_settings_from_env(monkeypatch):
    monkeypatch.setenv("HARNESS_SCENARIO_SSE_HOLD", "130")
    monkeypatch.setenv("HARNESS_SCENARIO_SSE_STREAMS", "2")
    s = Settings.from_env()
    assert s.sse_hold == 130.0 and s.sse_streams == 2 and isinstance(s.sse_streams, int)
    monkeypatch.setenv("HARNESS_SCENARIO_DRAIN_BUDGET", "3m")  # a seconds knob takes a duration like helm's
    monkeypatch.setenv("HARNESS_SCENARIO_SETTLE", "0")
    s = Settings.from_env()
    assert (s.drain_budget, s.settle) == (180.0, 0.0)
    monkeypatch.setenv("HARNESS_SCENARIO_DRAIN_BUDGET", "soon")
    with pytest.raises(HarnessError, match="HARNESS_SCENARIO_DRAIN_BUDGET: 'soon' is not a duration; use seconds"):
        Settings.from_env()
    monkeypatch.delenv("HARNESS_SCENARIO_DRAIN_BUDGET")
    monkeypatch.setenv("HARNESS_SCENARIO_PROBE_RATE", "fast")  # not seconds: a number
    with pytest.raises(HarnessError, match="HARNESS_SCENARIO_PROBE_RATE='fast' is not a number"):
        Settings.from_env()


MANIFEST = [
    {"kind": "Deployment", "metadata": {"name": "web"}, "spec": {"template": {"spec": {
        "initContainers": [{"name": "init", "image": "busybox:1"}],
        "containers": [{"name": "app", "image": "app:2",
                        "readinessProbe": {"httpGet": {"path": "/ready"}, "periodSeconds": 2, "failureThreshold": 2,
                                           "timeoutSeconds": 2},
                        "livenessProbe": {"httpGet": {"path": "/healthz"}}}]}}}},
    {"kind": "Job", "metadata": {"name": "migrate"}, "spec": {"template": {"spec": {
        "containers": [{"name": "m", "image": "job:1"}]}}}},
    {"kind": "Ingress", "metadata": {"name": "a", "annotations": {
        "nginx.ingress.kubernetes.io/proxy-read-timeout": "3600"}}, "spec": {"rules": []}},
    {"kind": "Ingress", "metadata": {"name": "b"}, "spec": {"tls": [{"hosts": ["x"]}]}},
]


def test_manifest_readings():
    assert workload_images(MANIFEST) == {"busybox:1", "app:2"}
    b = probe_bounds(MANIFEST)["Deployment/web/app"]
    assert (b["readiness_period"], b["readiness_failure"], b["readiness_timeout"]) == (2, 2, 2)
    assert (b["liveness_period"], b["liveness_failure"], b["liveness_timeout"]) == (10, 3, 1)  # API defaults
    assert ingress_read_timeout(MANIFEST) == 60  # the unannotated Ingress: ingress-nginx's default
    assert ingress_read_timeout(MANIFEST[:3]) == 3600
    assert ingress_read_timeout([]) == 60
    assert ingress_has_tls(MANIFEST) and not ingress_has_tls(MANIFEST[:3])

