"""charts-under-test/static-site, the chart shaped like a public one, rendered by REAL helm of both
majors: its defaults (one replica, no Ingress, no PDB, image tag = appVersion), the values its
contract declares (the Ingress the harness probes, the PDB, the rollout and the preStop wait), the
broken overlays the contract lists, the released 0.1.0 from repo/, and the scenarios' post-renderer.

The contract is read as plain YAML (its top-level ``values`` and the ``broken`` entries), not through
harness.core.contract, so this test pins the chart and its overlays, whichever contract loader runs."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from real_helm import helm_of_major

from harness.tools.helm import Helm, manifest_objects

ROOT = Path(__file__).resolve().parents[2]
CHARTS = ROOT / "charts-under-test"
CHART = CHARTS / "static-site"
CONTRACT = yaml.safe_load((CHART / "harness-contract.yaml").read_text())
BASE = [CHART / v for v in CONTRACT["values"]]
BROKEN = {b["name"]: b for b in CONTRACT["broken"]}
RELEASED_TGZ = CHARTS / "repo" / f"static-site-{CONTRACT['released']['version']}.tgz"


@pytest.fixture(params=[4, 3], ids=["helm4", "helm3"])
def helm(request, tmp_path) -> Helm:
    return Helm(None, home=tmp_path / "helm-home", binary=helm_of_major(request.param))


def render(helm: Helm, chart: Path, values: list[Path] = (), extra: list[str] = ()) -> dict[str, list[dict[str, Any]]]:
    """``{kind: [objects]}`` of ``helm template r <chart> -f values...``."""
    out: dict[str, list[dict[str, Any]]] = {}
    for d in manifest_objects(helm.template("r", chart, values=values, extra=extra)):
        out.setdefault(d["kind"], []).append(d)
    return out


def the(objs: dict[str, list[dict[str, Any]]], kind: str) -> dict[str, Any]:
    assert len(objs.get(kind, [])) == 1, f"want one {kind}, got {len(objs.get(kind, []))}"
    return objs[kind][0]


def container(dep: dict[str, Any]) -> dict[str, Any]:
    (c,) = dep["spec"]["template"]["spec"]["containers"]
    return c


def test_defaults_are_a_scaffolded_chart_one_replica_no_ingress_no_pdb(helm):
    objs = render(helm, CHART)
    assert "Ingress" not in objs and "PodDisruptionBudget" not in objs
    dep = the(objs, "Deployment")
    assert dep["spec"]["replicas"] == 1 and "strategy" not in dep["spec"]
    c = container(dep)
    assert c["image"] == "harness/static-site:1.1.0"  # image.tag "" -> the chart's appVersion
    assert c["readinessProbe"]["httpGet"] == {"path": "/", "port": "http"}
    assert c["livenessProbe"]["httpGet"] == {"path": "/", "port": "http"}
    assert "lifecycle" not in c
    assert c["securityContext"]["readOnlyRootFilesystem"] is True and c["securityContext"]["runAsNonRoot"] is True


def test_contract_values_give_the_nginx_ingress_on_the_probe_host_pdb_and_a_draining_rollout(helm):
    assert CONTRACT["probe"] == {"host": "static-site.test", "via": "ingress", "path": "/"}
    assert CONTRACT["set"] == [] and CONTRACT["scenarios"] == ["upgrade", "rollback", "drain"]
    for key in ("versionFrom", "postgres", "sse", "data", "ingress"):
        assert key not in CONTRACT, f"the contract declares {key}: the application cooperates in nothing"
    helm.lint(CHART, values=BASE, strict=True)
    objs = render(helm, CHART, BASE)

    ing = the(objs, "Ingress")
    assert ing["spec"]["ingressClassName"] == "nginx"
    (rule,) = ing["spec"]["rules"]
    assert rule["host"] == CONTRACT["probe"]["host"]
    (path,) = rule["http"]["paths"]
    svc = the(objs, "Service")
    assert path["path"] == CONTRACT["probe"]["path"]
    assert path["backend"]["service"] == {"name": svc["metadata"]["name"],
                                          "port": {"number": svc["spec"]["ports"][0]["port"]}}

    dep = the(objs, "Deployment")
    replicas = dep["spec"]["replicas"]
    pdb = the(objs, "PodDisruptionBudget")
    assert pdb["spec"]["minAvailable"] == 1 < replicas  # an eviction is always allowed
    assert pdb["spec"]["selector"]["matchLabels"] == dep["spec"]["selector"]["matchLabels"]
    assert dep["spec"]["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}
    c = container(dep)
    pre_stop = c["lifecycle"]["preStop"]["sleep"]["seconds"]
    assert pre_stop >= 1
    # preStop + the server's default 10 s shutdown timeout fit in the grace period
    assert dep["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] >= pre_stop + 10
    # every image the chart runs is one the contract has loaded into the nodes
    assert {container(d)["image"] for d in objs["Deployment"]} <= set(CONTRACT["images"])


def test_broken_overlays_pdb_equal_to_replicas_and_every_pod_down_at_once(helm):
    assert {n: b["scenario"] for n, b in BROKEN.items()} == {"pdb-blocks-drain": "drain",
                                                             "max-unavailable-all": "upgrade"}
    assert all(b["reason"] for b in BROKEN.values())

    pdb_values = BASE + [(CHART / BROKEN["pdb-blocks-drain"]["values"]).resolve()]
    helm.lint(CHART, values=pdb_values, strict=True)
    objs = render(helm, CHART, pdb_values)
    assert the(objs, "PodDisruptionBudget")["spec"]["minAvailable"] == the(objs, "Deployment")["spec"]["replicas"] == 3

    all_values = BASE + [(CHART / BROKEN["max-unavailable-all"]["values"]).resolve()]
    helm.lint(CHART, values=all_values, strict=True)
    objs = render(helm, CHART, all_values)
    assert the(objs, "Deployment")["spec"]["strategy"]["rollingUpdate"] == {"maxSurge": 0, "maxUnavailable": "100%"}
    assert the(objs, "PodDisruptionBudget")["spec"]["minAvailable"] == 1  # only the rollout is broken
    assert the(objs, "Ingress")["spec"]["rules"][0]["host"] == "static-site.test"


def test_released_chart_from_the_repo_runs_the_released_image_with_the_same_values(helm):
    assert RELEASED_TGZ.is_file(), "run charts-under-test/package-released.sh"
    index = yaml.safe_load((CHARTS / "repo" / "index.yaml").read_text())
    (entry,) = index["entries"]["static-site"]
    assert (entry["version"], entry["appVersion"]) == (CONTRACT["released"]["version"], "1.0.0")
    objs = render(helm, RELEASED_TGZ, BASE)
    assert container(the(objs, "Deployment"))["image"] == "harness/static-site:1.0.0"
    assert the(objs, "Ingress")["spec"]["ingressClassName"] == "nginx"
    assert the(objs, "PodDisruptionBudget")["spec"]["minAvailable"] == 1


def test_scenarios_post_renderer_renames_the_host_and_makes_pods_never_ready(helm):
    host = CONTRACT["probe"]["host"]
    objs = render(helm, CHART, BASE, extra=helm.post_renderer(f"host:{host}=r.{host}", "never-ready"))
    assert the(objs, "Ingress")["spec"]["rules"][0]["host"] == f"r.{host}"
    c = container(the(objs, "Deployment"))
    assert c["readinessProbe"]["exec"]["command"] == ["/helm-e2e-harness-never-ready"]
    assert c["livenessProbe"]["httpGet"]["path"] == "/"  # untouched
