"""Charts as users publish them, with the pinned helm: a demo chart packaged to .tgz renders through
the harness's ChartRef path with its contract (given with --contract, or packaged inside), and the
gate's preflight resolves a repo/name chart from a local repository (and refuses an unknown version
in one line). Without helm: tests/unit/test_chart_inputs.py."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from harness.__main__ import build_parser
from harness.core.config import load_config
from harness.core.contract import (
    CONTRACT_FILE,
    chart_contract,
    resolve_charts_under_test,
)
from harness.core.errors import UsageError
from harness.core.values import ChartRef
from harness.gate import preflight
from harness.gate.plan import make_plan
from harness.scenario.targets import targets_for
from harness.tools.helm import Helm, manifest_objects

ROOT = Path(__file__).resolve().parents[2]
REALTIME = ROOT / "charts-under-test" / "realtime"


@pytest.fixture
def helm(helm_bin, tmp_path, monkeypatch):
    monkeypatch.setenv("HARNESS_CACHE", str(tmp_path / "cache"))  # where packaged charts are unpacked
    return Helm(None, home=tmp_path / "helm-home", binary=helm_bin)


def test_a_packaged_demo_chart_renders_through_the_chart_ref_path(helm, tmp_path):
    tgz = helm.package(REALTIME, tmp_path / "dist")
    cfg = load_config({"chart": [str(tgz)], "contract": str(REALTIME / CONTRACT_FILE)}, env={},
                      rootdir=tmp_path, cwd=tmp_path)
    [chart] = resolve_charts_under_test(cfg)
    assert chart.ref == ChartRef(str(tgz), "tgz") and chart.contract.ingress.host == "realtime.test"
    # a chart given as a .tgz with --contract takes its variants from the contract's directory (ci/*-values.yaml)
    [target, *_] = targets_for("upgrade", [chart], negative=False)
    objects = manifest_objects(helm.template("r", chart.ref, values=target.values))
    kinds = {o["kind"] for o in objects}
    assert {"Deployment", "Ingress"} <= kinds
    hosts = [r["host"] for o in objects if o["kind"] == "Ingress" for r in o["spec"]["rules"]]
    assert chart.contract.ingress.host in hosts
    helm.lint(chart.ref, values=target.values)


def test_a_contract_packaged_in_the_tgz_is_read(helm, tmp_path):
    src = tmp_path / "src" / "realtime"
    shutil.copytree(REALTIME, src)
    ignore = src / ".helmignore"
    ignore.write_text("".join(ln for ln in ignore.read_text().splitlines(keepends=True)
                              if ln.strip() != CONTRACT_FILE))
    (src / CONTRACT_FILE).write_text("release: packaged\ningress: {host: packaged.test}\nscenarios: [drain]\n")
    tgz = helm.package(src, tmp_path / "dist")
    contract = chart_contract(ChartRef.parse(str(tgz)))
    assert contract is not None and contract.release == "packaged" and contract.ingress.host == "packaged.test"
    assert contract.chart_dir.name == "realtime" and (contract.chart_dir / "Chart.yaml").is_file()
    # the demo chart as published (its .helmignore leaves the contract out) has none
    plain = helm.package(REALTIME, tmp_path / "plain")
    assert chart_contract(ChartRef.parse(str(plain))) is None


def test_the_gate_resolves_a_repo_chart_and_refuses_an_unknown_version(helm_bin, tmp_path):
    contract = str(REALTIME / CONTRACT_FILE)  # released.repository: ../repo, which holds realtime 1.0.0

    def plan(version: str):
        args = build_parser().parse_args(["gate", "--chart", "harness-charts/realtime", "--chart-version", version,
                                          "--contract", contract, "--helm", helm_bin,
                                          "--artifacts-dir", str(tmp_path / "a")])
        return make_plan(args, cwd=tmp_path, env={})

    good = plan("1.0.0")
    assert good.charts[0].ref.argv() == ["harness-charts/realtime", "--version", "1.0.0"]
    preflight.lint(good)  # helm show chart through the served repository: no error
    with pytest.raises(UsageError) as err:
        preflight.lint(plan("9.9.9"))
    msg = str(err.value)
    assert msg.startswith("gate: realtime: ") and "9.9.9" in msg and "\n" not in msg


def test_bad_chart_input_is_one_line_exit_4_under_pytest_and_2_for_the_gate(tmp_path):
    import os
    import subprocess
    import sys

    (tmp_path / "notachart.tgz").write_text("plain text\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("HARNESS_")}
    cases = [
        (["notachart.tgz"], "notachart.tgz is not a packaged chart (not a gzip-compressed tar archive"),
        (["missing-1.0.0.tgz"], "missing-1.0.0.tgz does not exist"),
        (["oci://registry.test/charts/web"], "oci://registry.test/charts/web needs --chart-version"),
    ]
    for chart, message in cases:
        r = subprocess.run([sys.executable, "-m", "pytest", str(ROOT / "scenarios" / "upgrade"), "-p",
                            "no:cacheprovider", "-q", "--rootdir", str(tmp_path), "--chart", *chart],
                           cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
        lines = [ln for ln in (r.stdout + r.stderr).splitlines() if message in ln]
        assert r.returncode == 4 and len(lines) == 1, (chart, r.returncode, r.stdout, r.stderr)
        assert "Traceback" not in r.stdout + r.stderr
        g = subprocess.run([sys.executable, "-m", "harness", "gate", "--chart", *chart], cwd=tmp_path, env=env,
                           capture_output=True, text=True, timeout=120)
        assert g.returncode == 2 and g.stderr.startswith("harness: error:") and message in g.stderr, g.stderr
        assert len(g.stderr.strip().splitlines()) == 1, g.stderr
