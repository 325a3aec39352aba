"""The gate through several edges (harness/gate/edges.py, plan.edges): option parsing, each run's
options, the exit code over the runs, the cluster's fate, artifact paths in the joined report."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from harness.__main__ import build_parser
from harness.core.errors import UsageError
from harness.gate import edges
from harness.gate.plan import make_plan
from harness.scenario.result import Cell, ScenarioResult

ROOT = Path(__file__).resolve().parents[2]
REALTIME = ROOT / "charts-under-test" / "realtime"


@pytest.fixture(autouse=True)
def _no_harness_env(monkeypatch):
    for name in list(os.environ):
        if name.startswith("HARNESS_"):
            monkeypatch.delenv(name)


def plan_for(*args: str):
    return make_plan(build_parser().parse_args(["gate", "--chart", str(REALTIME), *args]))


def test_one_edge_is_a_plain_gate(tmp_path):
    plan = plan_for("--edge", "traefik-gateway")
    assert plan.edges == ("traefik-gateway",) and not plan.edge_matrix and plan.cfg.edge == "traefik-gateway"
    assert plan_for().edges == ("traefik-nginx",)


def test_edges_comma_separated_each_once_in_order(tmp_path):
    plan = plan_for("--edge", "traefik-gateway,traefik-nginx,traefik-gateway", "--artifacts-dir", str(tmp_path))
    assert plan.edges == ("traefik-gateway", "traefik-nginx") and plan.edge_matrix
    assert plan.cfg.edge == "traefik-gateway"  # the configuration holds the first
    runs = edges.edge_runs(plan)
    assert [r.edge for r in runs] == ["traefik-gateway", "traefik-nginx"]
    assert runs[1].artifacts == tmp_path / "edge-traefik-nginx" and runs[1].junit == tmp_path / "edge-traefik-nginx" / "junit.xml"
    assert runs[1].extra == ("--harness-edge=traefik-nginx", f"--harness-artifacts-dir={tmp_path / 'edge-traefik-nginx'}",
                             f"--junitxml={tmp_path / 'edge-traefik-nginx' / 'junit.xml'}",
                             "--harness-reuse-cluster", "--harness-keep-cluster=always")


def test_an_external_cluster_is_neither_reused_nor_kept(tmp_path):
    kubeconfig = tmp_path / "kc"
    kubeconfig.write_text("apiVersion: v1\nkind: Config\n")
    plan = plan_for("--edge", "traefik-nginx,traefik-gateway", "--kubeconfig", str(kubeconfig))
    assert all("--harness-reuse-cluster" not in r.extra for r in edges.edge_runs(plan))


def test_an_unknown_edge_is_one_usage_line():
    with pytest.raises(UsageError, match=r"--edge: 'envoy' is not one of traefik-nginx, traefik-gateway"):
        plan_for("--edge", "traefik-nginx,envoy")


@pytest.mark.parametrize(("codes", "code"), [([0, 0], 0), ([1, 0], 1), ([0, 1], 1), ([1, 3], 3), ([0, 130], 130),
                                              ([2], 2), ([], 0)])
def test_combined_code(codes, code):
    assert edges.combined_code(codes) == code


@pytest.mark.parametrize(("keep", "code", "existed", "delete"), [
    ("never", 1, False, True), ("on-failure", 0, False, True), ("on-failure", 1, False, False),
    ("on-failure", 130, False, False), ("always", 0, False, False), ("never", 0, True, False)])
def test_delete_after(keep, code, existed, delete):
    assert edges.delete_after(keep, code, existed=existed) is delete


def test_rebased_artifacts_point_into_the_edges_directory(tmp_path):
    run = edges.EdgeRun("traefik-gateway", tmp_path / "edge-traefik-gateway", ())
    r = ScenarioResult("sse", "realtime", "realtime-default", None, "PASS", "PASS", cell=Cell(edge="traefik-gateway"),
                       artifacts=("sse-realtime/sse.png", "/abs/elsewhere.png"))
    (out,) = edges.rebased([r], run, tmp_path)
    assert out.artifacts == ("edge-traefik-gateway/sse-realtime/sse.png", "/abs/elsewhere.png")
