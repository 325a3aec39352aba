"""harness/tools/postrender.py as the scenarios' helm post-renderer, run by REAL helm of both majors
through :meth:`harness.tools.helm.Helm.post_renderer` (Helm 4: the ``postrenderer/v1`` plugin
installed into the private helm home; Helm 3: the script's path)."""
from __future__ import annotations

from pathlib import Path

import pytest
from real_helm import helm_of_major

from harness.core.errors import UsageError
from harness.tools.helm import Helm, manifest_objects
from harness.tools.helm_plugins import POSTRENDER_PLUGIN

ROOT = Path(__file__).resolve().parents[2]
CHARTS = ROOT / "charts-under-test"


@pytest.fixture(params=[4, 3], ids=["helm4", "helm3"])
def helm(request, tmp_path) -> Helm:
    return Helm(None, home=tmp_path / "helm-home", binary=helm_of_major(request.param))


def test_realtime_host_rename_and_never_ready(helm):
    docs = manifest_objects(helm.template("r", CHARTS / "realtime", sets=["ingress.tls.enabled=true"],
                                          extra=helm.post_renderer("host:realtime.test=r.realtime.test",
                                                                   "never-ready")))
    ing = next(d for d in docs if d["kind"] == "Ingress")
    assert [r["host"] for r in ing["spec"]["rules"]] == ["r.realtime.test"]
    assert ing["spec"]["tls"][0]["hosts"] == ["r.realtime.test"]
    dep = next(d for d in docs if d["kind"] == "Deployment")
    for c in dep["spec"]["template"]["spec"]["containers"]:
        assert c["readinessProbe"]["exec"]["command"] == ["/helm-e2e-harness-never-ready"]
    assert dep["spec"]["template"]["metadata"]["annotations"]["helm-e2e-harness/fault"] == "never-ready"
    plugin = helm.plugins_dir / POSTRENDER_PLUGIN
    assert plugin.is_dir() == (helm.major == 4)  # Helm 3 needs no plugin


def test_ha_service_hooks_and_probes_untouched(helm):
    docs = manifest_objects(helm.template(
        "r", CHARTS / "ha-service", sets=["database.existingSecret=x", "ingress.tls.enabled=true"],
        extra=helm.post_renderer("host:ha-service.test=r.ha-service.test", "never-ready")))
    dep = next(d for d in docs if d["kind"] == "Deployment")
    c = dep["spec"]["template"]["spec"]["containers"][0]
    assert c["readinessProbe"]["exec"]["command"] == ["/helm-e2e-harness-never-ready"]
    assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"  # untouched
    job = next(d for d in docs if d["kind"] == "Job")
    assert "readinessProbe" not in job["spec"]["template"]["spec"]["containers"][0]


def test_only_the_host_changes_without_never_ready(helm):
    chart = CHARTS / "realtime"
    plain = manifest_objects(helm.template("r", chart, extra=helm.post_renderer("host:nothing=else")))
    renamed = manifest_objects(helm.template("r", chart, extra=helm.post_renderer("host:realtime.test=x.test")))
    assert [d["kind"] for d in plain] == [d["kind"] for d in renamed]
    for a, b in zip(plain, renamed, strict=True):
        if a["kind"] != "Ingress":
            assert a == b
    assert next(d for d in renamed if d["kind"] == "Ingress")["spec"]["rules"][0]["host"] == "x.test"


def test_second_use_reuses_the_installed_plugin(helm):
    if helm.major == 3:
        pytest.skip("Helm 3 runs the script by path")
    helm.post_renderer("never-ready")
    yaml_file = helm.plugins_dir / POSTRENDER_PLUGIN / "plugin.yaml"
    ino = yaml_file.stat().st_ino
    again = helm.bind("other").post_renderer("never-ready")  # another Helm on the same home
    assert again[:2] == ["--post-renderer", POSTRENDER_PLUGIN] and yaml_file.stat().st_ino == ino


def test_an_unknown_operation_is_refused_before_helm_runs(helm):
    # Helm 4 would report only 'plugin "harness-postrender" exited with error' (it drops the stderr)
    with pytest.raises(UsageError, match=r"^post-renderer: unknown operation 'explode' \(known: never-ready, "):
        helm.post_renderer("never-ready", "explode")
