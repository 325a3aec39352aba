"""The upgrade across the Helm major with REAL helm binaries, offline: the pinned Helm 3 bound like the
Helm 4 under test (harness.tools.helm.Helm.with_binary) shares its private home, so a repository Helm 4
added (``harness-charts``) resolves for Helm 3, and Helm 4's post-renderer plugin in that home does not
make Helm 3 complain on every call."""
from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from real_helm import helm_of_major

from harness.core.values import ChartRef
from harness.tools.chartrepo import ChartRepo
from harness.tools.exec import run
from harness.tools.helm import Helm, manifest_objects


@pytest.fixture
def helm4(tmp_path) -> Helm:
    return Helm(None, home=tmp_path / "helm-home", binary=helm_of_major(4))


def packaged_chart(tmp_path: Path, helm: Helm) -> Path:
    src = tmp_path / "src" / "web"
    (src / "templates").mkdir(parents=True)
    (src / "Chart.yaml").write_text("apiVersion: v2\nname: web\nversion: 1.0.0\nappVersion: \"1.0\"\n")
    (src / "templates" / "ing.yaml").write_text(textwrap.dedent("""\
        apiVersion: networking.k8s.io/v1
        kind: Ingress
        metadata:
          name: {{ .Release.Name }}
        spec:
          rules:
            - host: web.example
        """))
    repo = tmp_path / "repo"
    helm.package(src, repo)
    helm.repo_index(repo)
    return repo


def test_helm3_resolves_the_repository_helm4_added_and_post_renders(tmp_path, helm4):
    helm3 = helm4.with_binary(helm_of_major(3))
    assert (helm3.major, helm4.major) == (3, 4) and helm3.home == helm4.home
    with ChartRepo(packaged_chart(tmp_path, helm4), name="harness-charts") as repo:
        helm4.repo_add(repo.name, repo.url)
        ref = ChartRef("harness-charts/web", "repo", "1.0.0")
        assert helm3.show_chart(ref)["version"] == "1.0.0"
        helm4.post_renderer("host:web.example=r1.web.example")  # installs Helm 4's plugin into the shared home
        for h in (helm4, helm3):
            objs = manifest_objects(h.template("r1", ref, extra=h.post_renderer("host:web.example=r1.web.example")))
            assert objs[0]["spec"]["rules"][0]["host"] == "r1.web.example", h.version


def test_helm3_loads_no_plugin_from_the_shared_home(tmp_path, helm4):
    helm4.post_renderer()  # Helm 4's postrenderer/v1 plugin.yaml in the shared plugin directory
    helm3 = helm4.with_binary(helm_of_major(3))
    quiet = run([helm3.binary, "env"], env=helm3.env, timeout=60)
    assert "failed to load plugins" not in quiet.stderr, quiet.stderr
    loud = run([helm3.binary, "env"], env={**helm3.env, "HELM_NO_PLUGINS": "0"}, timeout=60)
    assert "failed to load plugins" in loud.stderr  # what HELM_NO_PLUGINS=1 spares every Helm 3 call
