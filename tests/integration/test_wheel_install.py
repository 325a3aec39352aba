"""The built wheel, installed into a fresh virtualenv outside the repository, runs from there: the
CLI, the pinned versions, the add-on charts and the scenario modules all come from site-packages
(issue 11, item 6). Building and installing takes about a minute (the dependencies come from PyPI
through pip's cache). The same install running a scenario on a real cluster:
tests/cluster/test_wheel_scenario_cluster.py."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from support import install_wheel_with_charts

from harness.core.pins import pinned

ROOT = Path(__file__).resolve().parents[2]

PROBE = """\
import json, harness
from harness.core.packaged import checkout_root
from harness.core.pins import VERSIONS_FILE, pinned
from harness.env.addons.engine import ADDON_CHARTS
from harness.env.addons.traefik import CHART_DIR, CRDS_CHART_DIR
from harness.gate.run import SCENARIOS_DIR
from harness.report.render import TEMPLATES
print(json.dumps({"package": harness.__file__, "pins": str(VERSIONS_FILE), "k8s": pinned()["KUBERNETES_VERSION"],
                  "charts": str(ADDON_CHARTS), "traefik": str(CHART_DIR / "Chart.yaml"),
                  "crds": str(CRDS_CHART_DIR / "files" / "standard" / "gateway.networking.k8s.io_httproutes.yaml"),
                  "crds_order": str(CRDS_CHART_DIR / "files" / "standard" / "ORDER"),
                  "scenarios": str(SCENARIOS_DIR), "templates": str(TEMPLATES),
                  "checkout": str(checkout_root()) if checkout_root() else None}))
"""


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """``(python, work dir)``: the wheel installed in a fresh venv; the work dir holds copies of
    the realtime chart, its released repository and the broken overlays, as a user's would."""
    return install_wheel_with_charts(ROOT, tmp_path_factory.mktemp("wheel"))


def run(python: Path, work: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("HARNESS_", "PYTHON"))}
    return subprocess.run([str(python), *args], cwd=work, capture_output=True, text=True, timeout=300,
                          env={**environ, **(env or {})})


def test_the_cli_runs_from_the_installed_package(installed):
    python, work = installed
    r = run(python, work, "-m", "harness", "--help")
    assert r.returncode == 0 and "gate" in r.stdout, r.stderr
    r = run(python, work, "-m", "harness", "config", "--format", "json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["kubernetes-version"] == pinned()["KUBERNETES_VERSION"]
    r = run(python, work, "-m", "harness", "config")
    assert f"# rootdir: {work}" in r.stdout  # defaults resolve against where the user runs it


def test_pins_addon_charts_and_scenarios_resolve_from_site_packages(installed):
    python, work = installed
    r = run(python, work, "-c", PROBE)
    assert r.returncode == 0, r.stderr
    where = json.loads(r.stdout)
    site = Path(where["package"]).parent.parent
    assert site.name == "site-packages" and python.parent.parent in site.parents
    for key in ("pins", "charts", "traefik", "crds", "crds_order", "scenarios", "templates"):
        path = Path(where[key])
        assert site in path.parents and ROOT not in path.parents, (key, path)
        assert path.exists(), (key, path)
    assert where["k8s"] == pinned()["KUBERNETES_VERSION"] and where["checkout"] is None
    assert (Path(where["scenarios"]) / "upgrade" / "test_upgrade.py").is_file()


def test_scenarios_collect_from_the_installed_package(installed):
    python, work = installed
    shutil.rmtree(work / "artifacts", ignore_errors=True)
    r = run(python, work, "-m", "pytest", "--pyargs", "harness.scenarios.upgrade", "--collect-only", "-q",
            "-p", "no:cacheprovider", "--chart", "charts/realtime")
    assert r.returncode == 0, r.stdout + r.stderr
    ids = [ln for ln in r.stdout.splitlines() if "::" in ln]
    assert [i.rsplit("::", 1)[1] for i in ids] == ["test_upgrade[realtime-default]", "test_upgrade[realtime-hpa-tls]"]
    assert all(i.split("::")[0].endswith("test_upgrade.py") for i in ids)
    # no ini file: the harness's rootdir is where pytest was started, not site-packages
    assert (work / "artifacts" / "junit.xml").is_file()


def test_a_missing_tool_is_one_line_naming_the_pinned_version(installed, tmp_path):
    python, work = installed
    code = ("from harness.core.errors import EnvironmentNotReady\n"
            "from harness.tools.binaries import tool_path\n"
            "try:\n    tool_path('kind')\nexcept EnvironmentNotReady as e:\n    print(e)\n")
    r = run(python, work, "-c", code, env={"PATH": str(tmp_path), "HARNESS_CACHE": str(tmp_path / "cache")})
    assert r.returncode == 0, r.stderr
    line = r.stdout.strip()
    assert line.startswith("kind not found; put kind v") and "on PATH or in" in line
    assert "the installed package does not build tools" in line and "\n" not in line


def test_the_gate_writes_its_report_where_the_user_runs_it(installed):
    python, work = installed
    r = run(python, work, "-m", "harness", "gate", "--chart", "charts/realtime", "--report-only")
    assert r.returncode == 1, r.stdout + r.stderr  # no records yet: no pass without a passed test
    assert (work / "report" / "index.html").is_file()
    r = run(python, work, "-m", "harness", "matrix")
    assert r.returncode == 2 and "run it from a checkout of the repository" in r.stderr
