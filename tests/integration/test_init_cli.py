"""`python -m harness init` with the real pinned helm: on each chart under test (its contract left
alone: --out elsewhere) and on a `helm create` chart without one; the written contract loads, names
the scenarios that apply and why, and `python -m harness check` passes on it."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from support import harness_env

from harness.core import contract as contract_mod

ROOT = Path(__file__).resolve().parents[2]
CHARTS = ROOT / "charts-under-test"


def env() -> dict[str, str]:
    return harness_env(ROOT)


def harness(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "harness", *args], capture_output=True, text=True, cwd=cwd,
                          env=env(), timeout=300, check=False)


def commented(text: str) -> dict[str, str]:
    """``{scenario: comment}`` of the scenarios init left commented out."""
    out = {}
    for line in text.splitlines():
        s = line.strip()
        if s.startswith("# - ") and s.split()[2] in contract_mod.SCENARIOS:
            out[s.split()[2]] = s.split("#", 2)[2].strip()
    return out


@pytest.mark.parametrize(("chart", "applies", "left"), [
    ("ha-service", ("upgrade", "rollback", "drain", "db_outage"), {"sse": "fill in: sse.path"}),
    ("realtime", ("upgrade", "rollback", "drain"), {"sse": "fill in: sse.path", "db_outage": "no database setting"}),
    ("static-site", ("upgrade", "rollback", "drain"), {"sse": "no sign of an event stream",
                                                       "db_outage": "no database setting"}),
])
def test_init_on_each_chart_under_test_then_check(helm_bin, tmp_path, chart, applies, left):
    out = tmp_path / f"{chart}.yaml"
    r = harness("init", "--chart", str(CHARTS / chart), "--out", str(out))
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.splitlines()[0] == f"wrote {out}: scenarios {', '.join(applies)}"
    assert r.stdout.splitlines()[-1].startswith("check: clean")
    c = contract_mod.load(out)
    assert c.scenarios == applies
    assert c.released.version == "1.0.0" if chart != "static-site" else c.released.version == "0.1.0"
    assert c.released.repository == CHARTS / "repo"
    assert c.probe.host == f"{chart}.test" and c.probe.via == "ingress"
    mine = contract_mod.load(CHARTS / chart)  # the hand-written contract: same images, same host
    assert set(c.images) == set(mine.images)
    found = commented(out.read_text())
    assert set(found) == set(left)
    for name, start in left.items():
        assert found[name].startswith(start), found[name]
    if chart == "ha-service":
        assert (c.postgres.secret_value, c.postgres.migration_job) == ("database.existingSecret", True)
    # the contract the check reads is this one (--contract replaces the directory's own)
    r = harness("check", "--chart", str(CHARTS / chart), "--contract", str(out))
    assert r.returncode == 0, r.stdout + r.stderr


def test_init_on_a_chart_without_a_contract(helm_bin, tmp_path):
    subprocess.run([helm_bin, "create", "mychart"], cwd=tmp_path, check=True, capture_output=True, timeout=60)
    chart = tmp_path / "mychart"
    r = harness("init", "--chart", "mychart", cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    contract = chart / "harness-contract.yaml"
    text = contract.read_text()
    raw = yaml.safe_load(text)
    assert contract_mod.schema_problems(raw) == []
    c = contract_mod.load(contract)
    assert c.scenarios == ()  # nothing applies yet: no released version, no PDB, no stream, no database
    assert c.sets == ("ingress.enabled=true", "ingress.className=nginx")  # kept: they make the probe host served
    assert (c.probe.host, c.probe.probe_path) == ("chart-example.local", "/")
    found = commented(text)
    assert found["upgrade"].startswith("fill in: released") and "no PodDisruptionBudget" in found["drain"]
    assert "  upgrade: fill in: released" in r.stdout
    r = harness("check", "--chart", "mychart", cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    # a second init does not overwrite it
    r = harness("init", "--chart", "mychart", cwd=tmp_path)
    assert r.returncode == 2
    assert r.stderr.splitlines() == [f"harness: error: init: {contract} exists; pass --force to overwrite it "
                                     "(or --out FILE to write elsewhere)"]
    assert contract.read_text() == text
    r = harness("init", "--chart", "mychart", "--force", cwd=tmp_path)
    assert r.returncode == 0 and "Traceback" not in r.stderr


def test_init_bad_input_is_one_line(tmp_path):
    r = harness("init", "--chart", str(tmp_path), cwd=tmp_path)
    assert r.returncode == 2
    assert len(r.stderr.splitlines()) == 1
    assert r.stderr.startswith(f"harness: error: chart (option): {tmp_path} is not a chart directory (no Chart.yaml")
    (tmp_path / "Chart.yaml").write_text("apiVersion: v2\nname: broken\nversion: 0.1.0\n")
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "x.yaml").write_text("{{ .Values.nope.deeper }}\n")
    r = harness("init", "--chart", str(tmp_path), cwd=tmp_path)
    assert r.returncode in (2, 3), r.stderr  # 3 only when no helm is installed
    assert len(r.stderr.splitlines()) == 1 and "Traceback" not in r.stderr
