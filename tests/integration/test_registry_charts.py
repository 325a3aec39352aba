"""OCI charts for real: a bundled chart (charts-under-test/static-site) packaged and pushed with
``helm push`` to the loopback registry (harness/env/registry.py), then read back through the
harness's own code: ``Helm.pull``/``show_chart``/``template`` with a ChartRef parsed from
``oci://127.0.0.1:<port>/charts/static-site`` (``--plain-http`` added for loopback), with Helm 4
and Helm 3; ``python -m harness check`` with ``--chart oci://...`` and with a contract whose
``released.chart`` is ``oci://...``. Needs Docker, the registry image and the pinned helms."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from harness.core.chartfiles import read_packaged
from harness.core.config import load_config
from harness.core.errors import EnvironmentNotReady, HarnessError
from harness.core.values import ChartRef
from harness.env import registry as reg_mod
from harness.tools import docker
from harness.tools.binaries import tool_path
from harness.tools.helm import Helm, HelmError, manifest_objects

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts-under-test" / "static-site"
RELEASED_TGZ = ROOT / "charts-under-test" / "repo" / "static-site-0.1.0.tgz"


@pytest.fixture(scope="module")
def reg():
    try:
        docker.require_engine()
        tool_path("helm")
    except HarnessError as exc:
        pytest.skip(str(exc))
    image = reg_mod.default_image()
    if subprocess.run(["docker", "image", "inspect", image], capture_output=True).returncode != 0:
        pytest.skip(f"{image} is not built; run images/build-registry.sh")
    r = reg_mod.start(0)
    yield r
    reg_mod.stop(r)


@pytest.fixture(scope="module")
def pushed(reg, tmp_path_factory):
    """``(released ref, candidate ref)``: static-site 0.1.0 (the repository's archive) and the
    candidate directory packaged, both pushed to oci://<registry>/charts."""
    home = tmp_path_factory.mktemp("helm-home")
    helm = Helm(None, home=home)
    candidate = helm.package(CHART, tmp_path_factory.mktemp("pkg"))
    released = helm.push(RELEASED_TGZ, reg.chart_url())
    cand = helm.push(candidate, reg.chart_url())
    return released, cand


def test_push_returns_the_oci_ref_and_the_registry_saw_helm(reg, pushed):
    released, cand = pushed
    assert released == ChartRef(f"oci://{reg.address}/charts/static-site", "oci", "0.1.0")
    assert cand.version == yaml.safe_load((CHART / "Chart.yaml").read_text())["version"]
    puts = [r for r in reg_mod.requests(reg) if r.method == "PUT" and r.manifest]
    assert {("charts/static-site", "0.1.0"), ("charts/static-site", cand.version)} <= {r.manifest for r in puts}
    assert all("helm" in r.user_agent.lower() for r in puts)


@pytest.mark.parametrize("binary", ["helm", "helm3"])
def test_pull_show_template_through_the_harness(reg, pushed, tmp_path, binary):
    try:
        helm = Helm(None, home=tmp_path / "home", binary=tool_path(binary))
    except EnvironmentNotReady as exc:
        pytest.skip(str(exc))
    _, cand = pushed
    ref = ChartRef.parse(cand.ref, version=cand.version)  # what --chart oci://... --chart-version V gives
    assert ref.plain_http
    tgz = helm.pull(ref, tmp_path / "pulled")
    meta = read_packaged(tgz)
    assert (meta.name, meta.version) == ("static-site", cand.version)
    assert helm.show_chart(ref)["version"] == cand.version
    objs = manifest_objects(helm.template("site", ref, values=[CHART / "ci" / "harness-values.yaml"]))
    assert "Deployment" in {o["kind"] for o in objs}
    before = len(reg_mod.requests(reg))
    helm.show_chart(ref)
    after = reg_mod.requests(reg)[before:]
    assert any(r.manifest == ("charts/static-site", cand.version) and r.method == "GET" and r.status == 200
               for r in after), after


def test_missing_chart_version_is_helms_error_line(reg, pushed, tmp_path):
    helm = Helm(None, home=tmp_path / "home")
    ref = ChartRef(pushed[1].ref, "oci", "9.9.9")
    with pytest.raises(HelmError, match=r"^helm show chart failed \(exit 1\): Error: .*9\.9\.9.*not found"):
        helm.show_chart(ref)


def test_config_keeps_the_oci_chart_and_version(reg, pushed):
    _, cand = pushed
    cfg = load_config({"chart": [cand.ref], "chart-version": cand.version}, env={}, rootdir=ROOT)
    assert cfg.charts[0] == ChartRef(cand.ref, "oci", cand.version)
    assert cfg.charts[0].argv()[-1] == "--plain-http"


def _check(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HARNESS_")}
    return subprocess.run([sys.executable, "-m", "harness", "check", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def test_check_resolves_an_oci_candidate(reg, pushed, tmp_path):
    _, cand = pushed
    res = _check("--chart", cand.ref, "--chart-version", cand.version, "--contract",
                 str(CHART / "harness-contract.yaml"), cwd=tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr


def test_check_renders_an_oci_released_chart_from_the_contract(reg, pushed, tmp_path):
    released, _ = pushed
    work = tmp_path / "charts"
    shutil.copytree(CHART, work / "static-site")
    shutil.copytree(ROOT / "charts-under-test" / "broken", work / "broken")
    contract_file = work / "static-site" / "harness-contract.yaml"
    contract = yaml.safe_load(contract_file.read_text())
    contract["released"] = {"chart": released.ref, "version": released.version}
    contract_file.write_text(yaml.safe_dump(contract, sort_keys=False))
    before = len(reg_mod.requests(reg))
    res = _check("--chart", str(work / "static-site"), cwd=tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "released 0.1.0" in res.stdout
    fetched = [r for r in reg_mod.requests(reg)[before:] if r.manifest == ("charts/static-site", "0.1.0")]
    assert fetched, "the released chart was not fetched from the loopback registry"
