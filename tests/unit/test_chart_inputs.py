"""Charts as users publish them, without helm: a packaged .tgz checked and unpacked
(harness/core/chartfiles.py), its contract (packaged or ``--contract``), the ``--contract`` and
``oci://`` rules of the configuration, variants of a packaged chart, and where a ``repo/name``
chart's repository comes from (harness/tools/chartrepo.py). Real helm: tests/integration/test_chart_inputs_helm.py."""
from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest
from support import make_chart_tgz

from harness.core.chartfiles import extract_packaged, read_packaged
from harness.core.config import load_config
from harness.core.contract import chart_contract, resolve_charts_under_test
from harness.core.errors import UsageError
from harness.core.values import ChartRef
from harness.scenario.targets import targets_for, variants
from harness.tools.chartrepo import (
    helm_repositories_file,
    repository_source,
    user_repository,
)

CONTRACT = "release: web\ningress: {host: web.test}\nscenarios: [drain]\n"


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("HARNESS_CACHE", str(tmp_path / "cache"))


def cfg(tmp_path, cli):
    return load_config(cli, env={}, rootdir=tmp_path, cwd=tmp_path)


# --------------------------------------------------------------------------- the archive


def test_a_packaged_chart_is_read(tmp_path):
    tgz = make_chart_tgz(tmp_path / "web-0.1.0.tgz", "web", "0.1.0", {"values.yaml": "a: 1\n"})
    chart = read_packaged(tgz)
    assert (chart.name, chart.version, chart.top, chart.path) == ("web", "0.1.0", "web", tgz.resolve())
    assert ChartRef.parse(str(tgz)).kind == "tgz"


def test_files_that_are_not_packaged_charts_are_one_line_each(tmp_path):
    (tmp_path / "empty.tgz").write_bytes(b"")
    (tmp_path / "text.tgz").write_text("not gzip\n")
    no_chart = make_chart_tgz(tmp_path / "nochart.tgz", files={}, top="")  # Chart.yaml at the top, not <chart>/
    no_version = tmp_path / "noversion.tgz"
    with tarfile.open(no_version, "w:gz") as tar:
        data = b"apiVersion: v2\nname: web\n"
        info = tarfile.TarInfo("web/Chart.yaml")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    cases = {
        tmp_path / "empty.tgz": r"is not a packaged chart \(not a gzip-compressed tar archive",
        tmp_path / "text.tgz": r"is not a packaged chart \(not a gzip-compressed tar archive",
        no_chart: r"is not a packaged chart \(no <chart>/Chart.yaml in the archive; `helm package DIR` makes one\)",
        no_version: r"web/Chart.yaml has no name and version",
        tmp_path / "missing.tgz": r"packaged chart .*missing.tgz does not exist",
    }
    for path, message in cases.items():
        with pytest.raises(UsageError, match=message) as err:
            read_packaged(path)
        assert "\n" not in str(err.value)
    with pytest.raises(UsageError, match=r"chart \(option\): .*empty.tgz is not a packaged chart"):
        cfg(tmp_path, {"chart": ["empty.tgz"]})


def test_unpacking_keeps_the_charts_regular_files_only(tmp_path):
    tgz = make_chart_tgz(tmp_path / "web-0.1.0.tgz", files={"harness-contract.yaml": CONTRACT,
                                                            "ci/tls-values.yaml": "tls: true\n"})
    # an archive with an escaping entry: the entry is not written
    evil = tmp_path / "evil.tgz"
    with tarfile.open(evil, "w:gz") as tar:
        for name, text in (("web/Chart.yaml", "name: web\nversion: 1.0.0\n"), ("web/../../escape.txt", "x")):
            info = tarfile.TarInfo(name)
            info.size = len(text)
            tar.addfile(info, io.BytesIO(text.encode()))
    out = extract_packaged(tgz, root=tmp_path / "unpacked")
    assert (out / "harness-contract.yaml").read_text() == CONTRACT and (out / "ci" / "tls-values.yaml").is_file()
    assert extract_packaged(tgz, root=tmp_path / "unpacked") == out  # keyed by content: reused
    bad = extract_packaged(evil, root=tmp_path / "unpacked")
    assert (bad / "Chart.yaml").is_file()
    assert not list(tmp_path.rglob("escape.txt"))


# --------------------------------------------------------------------------- contracts and configuration


def test_the_contract_of_each_chart_form(tmp_path):
    contract = tmp_path / "elsewhere" / "harness-contract.yaml"
    contract.parent.mkdir()
    contract.write_text(CONTRACT.replace("release: web", "release: given"))
    packaged = make_chart_tgz(tmp_path / "web-0.1.0.tgz", files={"harness-contract.yaml": CONTRACT})
    bare = make_chart_tgz(tmp_path / "bare-0.1.0.tgz", "bare")
    assert chart_contract(ChartRef(str(packaged), "tgz")).release == "web"
    assert chart_contract(ChartRef(str(bare), "tgz")) is None
    assert chart_contract(ChartRef("myrepo/web", "repo", "1.0.0")) is None
    assert chart_contract(ChartRef("oci://r.test/c/web", "oci", "1.0.0"), contract).release == "given"
    assert chart_contract(ChartRef(str(packaged), "tgz"), contract).release == "given"  # --contract wins
    c = cfg(tmp_path, {"chart": ["bare-0.1.0.tgz"], "contract": str(contract)})
    [chart] = resolve_charts_under_test(c)
    assert chart.contract.release == "given" and c.contract == contract


def test_contract_and_oci_rules_of_the_configuration(tmp_path):
    make_chart_tgz(tmp_path / "web-0.1.0.tgz")
    (tmp_path / "c.yaml").write_text(CONTRACT)
    with pytest.raises(UsageError, match=r"contract \(option\): contract file .*nope.yaml does not exist"):
        cfg(tmp_path, {"chart": ["web-0.1.0.tgz"], "contract": "nope.yaml"})
    with pytest.raises(UsageError, match=r"contract \(option\): applies to exactly one --chart; got 2"):
        cfg(tmp_path, {"chart": ["web-0.1.0.tgz", "myrepo/web"], "contract": "c.yaml"})
    with pytest.raises(UsageError, match=r"contract \(option\): applies to exactly one --chart; got none"):
        cfg(tmp_path, {"contract": "c.yaml"})
    with pytest.raises(UsageError, match=r"chart \(option\): oci://r.test/c/web needs --chart-version"):
        cfg(tmp_path, {"chart": ["oci://r.test/c/web"]})
    ok = cfg(tmp_path, {"chart": ["oci://r.test/c/web"], "chart-version": "1.0.0", "contract": "c.yaml"})
    assert ok.charts[0].argv() == ["oci://r.test/c/web", "--version", "1.0.0"]
    assert cfg(tmp_path, {"chart": ["myrepo/web"]}).charts[0].version is None  # repo/name: helm's latest


def test_a_packaged_charts_variants_come_from_its_ci_values(tmp_path):
    make_chart_tgz(tmp_path / "web-0.1.0.tgz", files={
        "harness-contract.yaml": CONTRACT, "ci/default-values.yaml": "a: 1\n", "ci/tls-values.yaml": "tls: true\n"})
    [chart] = resolve_charts_under_test(cfg(tmp_path, {"chart": ["web-0.1.0.tgz"]}))
    assert [v[0] for v in variants(chart)] == ["default", "tls"]
    assert [t.id for t in targets_for("drain", [chart], negative=False)] == ["web-default", "web-tls"]
    bare = make_chart_tgz(tmp_path / "bare-0.1.0.tgz", "bare")
    [plain] = resolve_charts_under_test(cfg(tmp_path, {"chart": [str(bare)]}))
    assert variants(plain) == [("default", ())] and targets_for("drain", [plain], negative=False) == []


# --------------------------------------------------------------------------- repositories


def test_the_users_helm_repositories_are_read(tmp_path):
    repos = tmp_path / "repositories.yaml"
    repos.write_text("apiVersion: v1\nrepositories:\n- name: myrepo\n  url: https://charts.example.test/x\n")
    env = {"HELM_REPOSITORY_CONFIG": str(repos)}
    assert helm_repositories_file(env) == repos
    assert helm_repositories_file({"HOME": "/h"}) == Path("/h/.config/helm/repositories.yaml")
    assert helm_repositories_file({"XDG_CONFIG_HOME": "/x"}) == Path("/x/helm/repositories.yaml")
    assert user_repository("myrepo", env) == "https://charts.example.test/x"
    assert user_repository("other", env) is None
    assert user_repository("myrepo", {"HELM_REPOSITORY_CONFIG": str(tmp_path / "none.yaml")}) is None


def test_where_a_repo_charts_repository_comes_from(tmp_path):
    from harness.core.contract import Released

    local = tmp_path / "charts-under-test" / "repo"
    local.mkdir(parents=True)
    (local / "index.yaml").write_text("apiVersion: v1\nentries: {}\n")
    repos = tmp_path / "repositories.yaml"
    repos.write_text("repositories:\n- {name: myrepo, url: 'https://charts.example.test/x'}\n")
    env = {"HELM_REPOSITORY_CONFIG": str(repos)}
    released = Released("myrepo/web", "1.0.0", "https://from-contract.test", "repo")
    assert repository_source("myrepo", released=released, env=env) == "https://from-contract.test"
    assert repository_source("myrepo", env=env) == "https://charts.example.test/x"
    assert repository_source("harness-charts", rootdir=tmp_path, env=env) == local
    with pytest.raises(UsageError, match=r"helm repository 'nope' is unknown: `helm repo add nope URL` first "
                                         r"\(the harness reads .*repositories.yaml\), or name it in the contract"):
        repository_source("nope", env=env)
