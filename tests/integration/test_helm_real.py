"""harness.tools.helm with real helm binaries of both majors (Helm 4 and Helm 3): lint, template, package,
a chart repository served on 127.0.0.1."""
from __future__ import annotations

import pytest
import requests
import yaml
from real_helm import helm_of_major

from harness.core.values import ChartRef
from harness.tools.chartrepo import ChartRepo
from harness.tools.helm import Helm, HelmError, manifest_objects


@pytest.fixture(params=[4, 3], ids=["helm4", "helm3"])
def real(request, tmp_path) -> Helm:
    """A real helm of each major (tests/integration/real_helm.py): the same calls must work on both."""
    return Helm(None, home=tmp_path / "helm-home", binary=helm_of_major(request.param))


def test_real_helm_version_is_pinned(helm_bin, tmp_path):
    from harness.core.pins import pinned

    assert Helm(None, home=tmp_path / "helm-home", binary=helm_bin).version == pinned()["HELM_VERSION"]


def test_real_lint_and_template_apply_values_and_sets(real, tiny_chart, tmp_path):
    assert "1 chart(s) linted, 0 chart(s) failed" in real.lint(tiny_chart)
    over = tmp_path / "over.yaml"
    over.write_text("message: from-file\nreplicas: 2\n")
    objs = manifest_objects(real.template("rel-a", tiny_chart, values=[over], sets=["replicas=3"]))
    assert len(objs) == 1
    assert objs[0]["metadata"]["name"] == "rel-a-cm"
    assert objs[0]["data"] == {"message": "from-file", "replicas": "3"}


def test_real_lint_failure_is_a_clear_error(real, tiny_chart):
    (tiny_chart / "templates" / "broken.yaml").write_text("kind: ConfigMap\nmetadata:\n  name: {{ .Values.x.y }\n")
    with pytest.raises(HelmError) as err:
        real.lint(tiny_chart)
    msg = str(err.value)
    assert msg.startswith("helm lint failed (exit 1): [ERROR] templates/")
    assert "broken.yaml" in msg and "\n" not in msg


def test_real_template_with_invalid_values_yaml(real, tiny_chart, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("message: [oops\n")
    with pytest.raises(HelmError, match=r"helm template rel-a failed \(exit 1\): Error: .*bad.yaml"):
        real.template("rel-a", tiny_chart, values=[bad])


def test_real_package_repo_server_repo_add_and_versions(real, tmp_path, make_chart):
    repo_dir = tmp_path / "repo"
    src = tmp_path / "src"
    for v in ("1.0.0", "1.1.0"):
        chart = make_chart(src / v, name="web", version=v)
        tgz = real.package(chart, repo_dir)
        assert tgz == repo_dir / f"web-{v}.tgz" and tgz.is_file()
    real.repo_index(repo_dir)
    with ChartRepo(repo_dir) as repo:
        url = repo.url
        assert url.startswith("http://127.0.0.1:") and repo.port > 0
        index = requests.get(f"{repo.url}/index.yaml", timeout=5)
        assert index.status_code == 200
        assert sorted(e["version"] for e in yaml.safe_load(index.text)["entries"]["web"]) == ["1.0.0", "1.1.0"]
        real.repo_add("harness-charts", repo.url)
        assert real.repo_list() == [{"name": "harness-charts", "url": repo.url}]
        assert real.show_chart(ChartRef("harness-charts/web", "repo", "1.0.0"))["version"] == "1.0.0"
        with pytest.raises(HelmError) as err:
            real.show_chart(ChartRef("harness-charts/web", "repo", "9.9.9"))
        assert "9.9.9" in str(err.value) and str(err.value).startswith("helm show chart failed (exit 1): Error:")
    # The private home holds the repository; the user's helm config is untouched.
    assert "harness-charts" in (tmp_path / "helm-home" / "config" / "repositories.yaml").read_text()
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{url}/index.yaml", timeout=2)
