"""The nightly workflow (.github/workflows/nightly.yml), read as YAML (actionlint runs in
tests/integration/test_gate_workflow_actionlint.py): what it must do: the Kubernetes matrix pinned by digest, the gate per chart, the summary, the
upload, failing the job on a failed gate."""
from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / ".github" / "workflows" / "nightly.yml"


def test_workflow_gates_each_chart_on_pinned_kubernetes_versions():
    wf = yaml.safe_load(WORKFLOW.read_text())
    on = wf.get("on", wf.get(True))  # YAML 1.1 reads the key `on` as true
    assert "schedule" in on and "workflow_dispatch" in on
    job = wf["jobs"]["gate"]
    matrix = job["strategy"]["matrix"]
    assert job["strategy"]["fail-fast"] is False
    assert sorted(matrix["chart"]) == sorted(p.parent.name for p in (ROOT / "charts-under-test").glob(
        "*/harness-contract.yaml"))
    versions = {k["version"]: k["node-image"] for k in matrix["kubernetes"]}
    assert {v.rsplit(".", 1)[0] for v in versions} == {"v1.32", "v1.33"}
    for version, image in versions.items():
        assert image.startswith(f"kindest/node:{version}@sha256:") and len(image.split("@sha256:")[1]) == 64
    assert job["env"]["HARNESS_IMAGE_SOURCE"] == "pull"
    assert job["env"]["HARNESS_NODE_IMAGE"] == "${{ matrix.kubernetes.node-image }}"

    steps = {s.get("id") or s.get("name"): s for s in job["steps"]}
    gate = steps["gate"]
    assert "python -m harness gate" in gate["run"] and "--report-dir report" in gate["run"]
    assert "continue-on-error" not in gate  # a failed gate fails the job
    summary = steps["Summary"]
    assert summary["if"] == "always()" and "$GITHUB_STEP_SUMMARY" in summary["run"]
    assert "report/summary.md" in summary["run"]
    upload = steps["Upload report and artifacts"]
    assert upload["if"] == "always()" and upload["uses"].startswith("actions/upload-artifact@")
    assert upload["with"]["path"].split() == ["report/", "artifacts/"]
