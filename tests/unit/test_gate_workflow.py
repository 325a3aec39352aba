"""The nightly workflow (.github/workflows/nightly.yml), read as YAML (actionlint runs in
tests/integration/test_gate_workflow_actionlint.py): what it must do: the matrix of every supported
Kubernetes version x Helm 4 and Helm 3 (node images
built locally), the gate per chart, the Helm 3 -> 4 upgrade in the Helm 4 cells, the summary, the
upload, failing the job on a failed gate, and action majors that run on Node 24."""
from __future__ import annotations

import re
from pathlib import Path

import yaml

from harness.core.pins import supported_kubernetes

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / ".github" / "workflows" / "nightly.yml"
NODE24_MAJORS = {"actions/checkout": 5, "actions/setup-python": 6, "actions/setup-go": 6,
                 "actions/upload-artifact": 6}
"""The first major of each action whose ``runs.using`` is ``node24`` (their release notes)."""


def _workflow():
    wf = yaml.safe_load(WORKFLOW.read_text())
    return wf, wf["jobs"]["gate"]


def test_workflow_gates_each_chart_in_every_kubernetes_by_helm_cell():
    wf, job = _workflow()
    on = wf.get("on", wf.get(True))  # YAML 1.1 reads the key `on` as true
    assert "schedule" in on and "workflow_dispatch" in on
    matrix = job["strategy"]["matrix"]
    assert job["strategy"]["fail-fast"] is False
    assert sorted(matrix["chart"]) == sorted(p.parent.name for p in (ROOT / "charts-under-test").glob(
        "*/harness-contract.yaml"))
    assert matrix["kubernetes"] == supported_kubernetes()
    assert [str(h) for h in matrix["helm"]] == ["4", "3"]
    env = job["env"]
    assert env["HARNESS_KUBERNETES_VERSION"] == "${{ matrix.kubernetes }}"
    # the nightly builds every node image from the pinned modules: the same images CI tests here
    assert env["HARNESS_IMAGE_SOURCE"] == "local" and "HARNESS_NODE_IMAGE" not in env
    assert env["HARNESS_HELM_FROM"] == "${{ matrix.helm == '4' && '3' || '' }}"

    steps = {s.get("id") or s.get("name"): s for s in job["steps"]}
    gate = steps["gate"]
    assert "python -m harness gate" in gate["run"] and "--report-dir report" in gate["run"]
    assert '"$HELM_MAJOR" = "3"' in gate["run"] and "--helm .tools/bin/helm3" in gate["run"]
    assert gate["env"]["HELM_MAJOR"] == "${{ matrix.helm }}"
    assert "continue-on-error" not in gate  # a failed gate fails the job
    summary = steps["Summary"]
    assert summary["if"] == "always()" and "$GITHUB_STEP_SUMMARY" in summary["run"]
    assert "report/summary.md" in summary["run"]
    upload = steps["Upload report and artifacts"]
    assert upload["if"] == "always()" and upload["uses"].startswith("actions/upload-artifact@")
    assert upload["with"]["path"].split() == ["report/", "artifacts/"]
    assert "${{ matrix.helm }}" in upload["with"]["name"] and "${{ matrix.kubernetes }}" in upload["with"]["name"]


def test_every_action_runs_on_node_24():
    _, job = _workflow()
    used = {}
    for step in job["steps"]:
        if "uses" in step:
            name, ref = step["uses"].split("@")
            used[name] = ref
    assert set(used) == set(NODE24_MAJORS)
    for name, ref in used.items():
        m = re.fullmatch(r"v(\d+)", ref)
        assert m and int(m.group(1)) >= NODE24_MAJORS[name], f"{name}@{ref} does not run on Node 24"
