"""The release gate on a real cluster, kept cheap: one scenario per run (a minute or two each).

A good chart passes (exit 0, report with the verdict line and the timeline plot); a broken overlay
from the contract fails (exit 1, the failed test's diagnostics linked). The gate runs as
users run it (``python -m harness gate`` in a subprocess) against this session's cluster, reusing it
and keeping it (a reused cluster is never deleted)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.cluster


@pytest.fixture
def run_gate(cluster, harness_config, tmp_path):
    """``run_gate(*args) -> (CompletedProcess, report dir)`` on this session's cluster."""
    where = (["--kubeconfig", str(harness_config.kubeconfig)] if harness_config.external_cluster else
             ["--cluster-name", cluster.name, "--reuse-cluster", "--keep-cluster=always"])

    def run(*args: str):
        rep = tmp_path / "report"
        r = subprocess.run([sys.executable, "-m", "harness", "gate", *where, "--artifacts-dir",
                            str(tmp_path / "artifacts"), "--report-dir", str(rep), *args],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT,
                           timeout=900, check=False)
        print(r.stdout)  # shown by pytest when the test fails
        return r, rep

    return run


def test_good_chart_passes_the_gate(run_gate):
    r, rep = run_gate("--chart", "charts-under-test/realtime", "--scenarios", "upgrade")
    assert r.returncode == 0, r.stdout[-3000:]
    summary = (rep / "summary.md").read_text()
    assert summary.startswith("Gate: PASS — 2 of 2 scenarios passed\n")  # realtime-default and hpa-tls (HTTPS)
    html = (rep / "index.html").read_text()
    assert html.count("data:image/png;base64,") >= 1  # the prober's timeline, embedded
    assert (rep / "junit.xml").is_file()
    gate_lines = [ln for ln in r.stdout.splitlines() if ln.startswith("[gate ")]
    assert any("[1/" in ln and "upgrade realtime-default: PASS in" in ln for ln in gate_lines)
    # the report says what produced it (first screen, gate.json info): the helm that ran, its own version
    assert 'id="versions"' in html and "sha256 " in html
    info = json.loads((rep / "gate.json").read_text())["info"]
    assert info["versions"]["helm"].startswith("v") and "no test ran" not in info["versions"]["helm"]
    assert info["harness_version"] and info["images"] and info["contracts"][0]["chart"] == "realtime"


def test_broken_variant_fails_the_gate(run_gate):
    """The contract's no-graceful-shutdown entry as an overlay (``--broken``: its values file is passed
    like ``--values``, and only the scenario it must fail runs): pods that exit at once on SIGTERM
    drop in-flight requests, whatever the ingress does."""
    r, rep = run_gate("--chart", "charts-under-test/ha-service", "--broken", "no-graceful-shutdown")
    assert r.returncode == 1, r.stdout[-3000:]
    summary = (rep / "summary.md").read_text()
    assert summary.startswith("Gate: FAIL — 0 of 2 scenarios passed\n")  # default and tls (HTTPS) variants
    assert "| ❌ FAIL |" in summary and "| ha-service-default |" in summary and "requests failed" in summary
    assert "Diagnostics of failed tests" in summary
    assert "diagnostics</a>" in (rep / "index.html").read_text()


def test_two_shards_merged_equal_a_single_run(run_gate, tmp_path):
    """The gate as 2 shards (each test in one of them) joined by `report merge`: the same rows as one
    run of the same plan, one verdict line, one exit code (docs/gate.md, sharding)."""
    args = ("--chart", "charts-under-test/realtime", "--scenarios", "upgrade")
    single, rep = run_gate(*args)
    assert single.returncode == 0, single.stdout[-3000:]
    dirs = []
    for i in (1, 2):
        d = tmp_path / f"shard-{i}"
        r, _ = run_gate(*args, "--shard", f"{i}/2", "--artifacts-dir", str(d / "artifacts"),
                        "--report-dir", str(d / "report"))
        assert r.returncode == 0, r.stdout[-3000:]
        dirs.append(str(d / "report"))
    m = subprocess.run([sys.executable, "-m", "harness", "report", "merge", *dirs, "--out", str(tmp_path / "merged")],
                       capture_output=True, text=True, cwd=ROOT, timeout=120, check=False)
    assert m.returncode == 0, m.stdout + m.stderr

    def rows(path):
        return sorted((x["scenario"], x["chart"], x["variant"], x["control"], x["status"])
                      for x in json.loads((path / "gate.json").read_text())["rows"])

    assert rows(tmp_path / "merged") == rows(rep)
    assert (tmp_path / "merged" / "summary.md").read_text().splitlines()[0] == \
        (rep / "summary.md").read_text().splitlines()[0]
    assert (tmp_path / "merged" / "index.html").read_text().count("data:image/png;base64,") >= 1
