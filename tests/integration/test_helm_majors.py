"""harness.tools.helm with REAL helm binaries of both majors (Helm 4 and Helm 3), offline only:
``helm template`` renders for the cluster's Kubernetes version (a chart with ``kubeVersion:
">=1.30.0-0"``), and the version/major detection matches what the binary prints."""
from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from real_helm import helm_of_major

from harness.tools.helm import Helm, HelmError, manifest_objects


@pytest.fixture(params=[4, 3], ids=["helm4", "helm3"])
def helm(request, tmp_path) -> Helm:
    return Helm(None, home=tmp_path / "helm-home", binary=helm_of_major(request.param))


def kube_version_chart(root: Path, constraint: str = ">=1.30.0-0") -> Path:
    chart = root / "needs-k8s"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text(textwrap.dedent(f"""\
        apiVersion: v2
        name: needs-k8s
        version: 0.1.0
        kubeVersion: "{constraint}"
        """))
    (chart / "templates" / "cm.yaml").write_text(textwrap.dedent("""\
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: {{ .Release.Name }}-k8s
        data:
          version: {{ .Capabilities.KubeVersion.Version | quote }}
        """))
    return chart


def test_major_is_read_from_helm_version(helm, request):
    want = 4 if request.node.callspec.id == "helm4" else 3
    assert helm.major == want and helm.version.startswith(f"v{want}.")
    assert "+" not in helm.version and helm.version.count(".") == 2  # a stamped build: vX.Y.Z


def test_template_renders_a_chart_requiring_kubernetes_1_30_for_the_pinned_version(helm, tmp_path):
    from harness.core.pins import pinned

    chart = kube_version_chart(tmp_path)
    objs = manifest_objects(helm.template("rel", chart))
    assert objs[0]["data"]["version"] == pinned()["KUBERNETES_VERSION"]
    objs = manifest_objects(helm.template("rel", chart, kube_version="v1.35.4"))
    assert objs[0]["data"]["version"] == "v1.35.4"
    assert "1 chart(s) linted, 0 chart(s) failed" in helm.lint(chart)


def test_template_for_a_too_old_kubernetes_fails_naming_the_constraint(helm, tmp_path):
    chart = kube_version_chart(tmp_path)
    with pytest.raises(HelmError) as err:
        helm.template("rel", chart, kube_version="v1.29.0")
    assert "helm template rel failed (exit 1): Error:" in str(err.value)
    assert ">=1.30.0-0" in str(err.value) and "v1.29.0" in str(err.value)


def test_real_helm_accepts_every_install_flag_the_harness_builds(helm):
    """``helm install --dry-run=client`` renders without a cluster: the wait strategy, the renamed
    atomic/force flags, the apply method and the post-renderer of this major are all accepted, and
    the post-renderer ran on what would be applied."""
    from harness.tools.helm import manifest_objects

    if helm.major == 3:
        pytest.skip("Helm 3's install reaches for the cluster even with --dry-run=client; its argv is the "
                    "one the real-cluster suite has always run")
    chart = Path(__file__).resolve().parents[2] / "charts-under-test" / "realtime"
    rel = helm.install("r", chart, namespace="ns1", wait=True, wait_for_jobs=True, atomic=True, force_replace=True,
                       timeout=30, server_side=False,
                       extra=[*helm.post_renderer("host:realtime.test=r.realtime.test", "never-ready"),
                              "--dry-run=client"])
    assert (rel.name, rel.namespace, rel.revision) == ("r", "ns1", 1)
    assert rel.apply_method == "csa"  # server_side=False; Helm 4's default would be "ssa"
    objs = manifest_objects(rel.raw["manifest"])
    assert next(o for o in objs if o["kind"] == "Ingress")["spec"]["rules"][0]["host"] == "r.realtime.test"
    dep = next(o for o in objs if o["kind"] == "Deployment")
    assert dep["spec"]["template"]["metadata"]["annotations"]["helm-e2e-harness/fault"] == "never-ready"
    # without server_side, Helm 4 installs with server-side apply (its default)
    assert helm.install("r2", chart, namespace="ns1", extra=["--dry-run=client"]).apply_method == "ssa"
