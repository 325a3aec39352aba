"""The upgrade across the Helm major (``--helm-from 3``): the option, the test parametrization, the
helm that installs the released chart, and what the record says (key, cell, apply methods)."""
from __future__ import annotations

import base64
import gzip
import json
import types
from pathlib import Path

import pytest

from harness.core.config import load_config
from harness.core.errors import UsageError
from harness.k8s.release_store import ReleaseNotFound, ReleaseStore, StoredRevision
from harness.plugin import results as results_mod
from harness.plugin import scenarios as scen
from harness.plugin.session import CONFIG_KEY
from harness.scenario.context import across_helms
from harness.scenario.observer import ReleaseObserver
from harness.scenario.result import Cell
from harness.tools import helm as helm_mod
from harness.tools.exec import Result
from harness.tools.helm import Helm


def test_helm_from_is_3_or_unset(tmp_path):
    assert load_config({}, env={}, rootdir=tmp_path, cwd=tmp_path).helm_from is None
    c = load_config({"helm-from": "3"}, env={}, rootdir=tmp_path, cwd=tmp_path)
    assert (c.helm_from, c.sources["helm-from"]) == ("3", "option")
    c = load_config({}, env={"HARNESS_HELM_FROM": "3"}, rootdir=tmp_path, cwd=tmp_path)
    assert (c.helm_from, c.sources["helm-from"]) == ("3", "env HARNESS_HELM_FROM")
    assert load_config({"helm-from": ""}, env={}, rootdir=tmp_path, cwd=tmp_path).helm_from is None
    (tmp_path / "harness.yaml").write_text("helm-from: 3\n")
    assert load_config({}, env={}, rootdir=tmp_path, cwd=tmp_path).helm_from == "3"


def test_another_major_is_one_line(tmp_path):
    with pytest.raises(UsageError) as err:
        load_config({"helm-from": "2"}, env={}, rootdir=tmp_path, cwd=tmp_path)
    assert str(err.value) == "helm-from (option): '2' is not one of 3" and err.value.exit_code == 2


class FakeMetafunc:
    """What pytest_generate_tests reads of a metafunc, recording its parametrize calls."""

    def __init__(self, config, fixturenames, module_attrs):
        self.config = config
        self.fixturenames = fixturenames
        self.module = types.SimpleNamespace(**module_attrs)
        self.definition = types.SimpleNamespace(iter_markers=lambda name: [])
        self.calls: dict[str, tuple[list, list]] = {}

    def parametrize(self, name, values, ids=None):
        self.calls[name] = (list(values), list(ids or []))


def _metafunc(helm_from, fixturenames=("target", "scenario_ctx", "helm_from")):
    stash = pytest.Stash()
    stash[CONFIG_KEY] = types.SimpleNamespace(helm_from=helm_from)
    config = types.SimpleNamespace(stash=stash)
    return FakeMetafunc(config, list(fixturenames), {"SCENARIO": "upgrade"})


def test_helm_from_parametrizes_the_tests_that_ask_for_it(monkeypatch):
    monkeypatch.setattr(scen, "_charts", lambda config: [])
    mf = _metafunc("3")
    scen.pytest_generate_tests(mf)
    assert mf.calls["helm_from"] == (["", "3"], ["same-helm", "from-helm3"])
    unset = _metafunc(None)
    scen.pytest_generate_tests(unset)
    assert "helm_from" not in unset.calls  # test ids stay what they were without the option
    other = _metafunc("3", fixturenames=("broken_target", "scenario_ctx"))
    scen.pytest_generate_tests(other)
    assert "helm_from" not in other.calls


def test_the_record_key_of_a_from_helm3_test():
    item = types.SimpleNamespace(module=types.SimpleNamespace(SCENARIO="upgrade"),
                                 callspec=types.SimpleNamespace(params={"target": "t", "helm_from": "3"}))
    assert results_mod.scenario_params(item) == ("upgrade", "t", "from-helm3")
    item.callspec.params["helm_from"] = ""
    assert results_mod.scenario_params(item) == ("upgrade", "t", None)


class VersionRunner:
    """A helm runner that answers ``version --short`` per binary (helm3 is v3, anything else v4)."""

    def __call__(self, argv, *, timeout=300.0, check=True, input=None, env=None, hint=""):
        argv = [str(a) for a in argv]
        assert argv[1:3] == ["version", "--short"], argv
        return Result(argv, 0, ("v3.22.0+gdef5678" if argv[0].endswith("helm3") else "v4.3.2+gabc1234") + "\n", "")


@pytest.fixture
def helm4(tmp_path, monkeypatch):
    monkeypatch.setattr(helm_mod, "_VERSION_CACHE", {})
    return Helm(tmp_path / "kubeconfig", home=tmp_path / "home", namespace="ns1", kube_context="kind-x",
                binary="/tools/helm", runner=VersionRunner(), kube_version="v1.36.3")


def test_released_helm_is_the_pinned_helm3_sharing_home_cluster_and_namespace(helm4, monkeypatch):
    asked = []
    monkeypatch.setattr(scen.binaries, "tool_path",
                        lambda name, kubernetes_version=None: asked.append((name, kubernetes_version)) or "/tools/helm3")
    assert scen.released_helm(helm4, "", "v1.36.3") is helm4
    h3 = scen.released_helm(helm4, "3", "v1.36.3")
    assert asked == [("helm3", "v1.36.3")]
    assert (h3.binary, h3.version, h3.major) == ("/tools/helm3", "v3.22.0", 3)
    assert (h3.home, h3.kubeconfig, h3.namespace, h3.kube_context, h3.kube_version) == (
        helm4.home, helm4.kubeconfig, "ns1", "kind-x", "v1.36.3")
    assert h3.env["HELM_REPOSITORY_CONFIG"] == helm4.env["HELM_REPOSITORY_CONFIG"]  # harness-charts resolves


def test_helm_from_3_with_helm3_under_test_is_skipped_with_the_reason(tmp_path, monkeypatch):
    monkeypatch.setattr(helm_mod, "_VERSION_CACHE", {})
    h3 = Helm(None, home=tmp_path / "home", binary="/tools/helm3", runner=VersionRunner())
    with pytest.raises(pytest.skip.Exception, match="already Helm 3; the same-helm row covers it"):
        scen.released_helm(h3, "3", None)


def test_the_cell_names_both_helms_when_they_differ(helm4):
    cell = Cell("v1.37.2", "v4.3.2", "traefik-nginx")
    assert across_helms(cell, helm4, helm4) is cell
    h3 = types.SimpleNamespace(version="v3.22.0")
    assert across_helms(cell, h3, helm4) == Cell("v1.37.2", "v3.22.0→v4.3.2", "traefik-nginx")


class FakeStore:
    def __init__(self, methods):
        self.methods = methods

    def get(self, revision=None):
        if revision not in self.methods:
            raise ReleaseNotFound(f"no revision {revision}")
        return types.SimpleNamespace(apply_method=self.methods[revision])


def test_apply_method_from_the_stored_release():
    obs = ReleaseObserver(None, "ns", "web", store=FakeStore({1: "", 2: "csa"}), informer=object())
    assert [obs.apply_method(r) for r in (1, 2, 3)] == ["unset", "csa", "unreadable"]


def test_the_store_decodes_helm4s_apply_method():
    def payload(extra):
        body = {"name": "web", "namespace": "ns", "version": 1, "manifest": "", **extra}
        return base64.b64encode(base64.b64encode(gzip.compress(json.dumps(body).encode()))).decode()

    class Reader:
        def __init__(self, extra):
            self.extra = extra

        def list_revisions(self, namespace, release):
            return [StoredRevision(1, "deployed", "u1", "sh.helm.release.v1.web.v1")]

        def read_payload(self, namespace, name):
            return payload(self.extra)

    assert ReleaseStore(None, "ns", "web", reader=Reader({"apply_method": "ssa"})).get().apply_method == "ssa"
    assert ReleaseStore(None, "ns", "web", reader=Reader({})).get().apply_method == ""


def test_every_new_name_is_documented():
    doc = (Path(__file__).resolve().parents[2] / "docs" / "configuration.md").read_text()
    assert "`from-helm3`" in doc and "`released_apply_method`" in doc


def test_helm3_sharing_the_home_loads_no_plugins(helm4, monkeypatch):
    monkeypatch.setattr(scen.binaries, "tool_path", lambda name, kubernetes_version=None: "/tools/helm3")
    h3 = scen.released_helm(helm4, "3", None)
    assert h3.env["HELM_NO_PLUGINS"] == "1" and h3.env["HELM_PLUGINS"] == helm4.env["HELM_PLUGINS"]
    assert "HELM_NO_PLUGINS" not in helm4.env  # Helm 4 runs the harness's post-renderer plugin
