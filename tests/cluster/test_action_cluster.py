"""The composite action's script steps (ci/action/run.py, as action.yml runs them) against this
session's cluster, with ``chart: charts-under-test/realtime``: the gate step exits with the gate's
code and records it as the step output, and the summary step appends the report's summary to
$GITHUB_STEP_SUMMARY. One scenario (upgrade) keeps it to a minute or two. The cluster is reused
and kept through the ``HARNESS_*`` variables, as a workflow's ``env`` would set them."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "ci" / "action" / "run.py"
pytestmark = pytest.mark.cluster


def test_action_steps_gate_realtime_and_write_the_summary(cluster, harness_config, tmp_path):
    (tmp_path / "charts-under-test").symlink_to(ROOT / "charts-under-test")  # the workspace holds the chart
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HARNESS_", "INPUT_", "GITHUB_"))}
    env.update({"PYTHONPATH": str(ROOT), "GITHUB_OUTPUT": str(tmp_path / "output"),
                "GITHUB_STEP_SUMMARY": str(tmp_path / "step-summary.md"),
                "INPUT_CHART": "charts-under-test/realtime", "INPUT_SCENARIOS": "upgrade",
                "INPUT_HELM_VERSION": "4"})
    if os.environ.get("HARNESS_CACHE"):
        env["HARNESS_CACHE"] = os.environ["HARNESS_CACHE"]
    if harness_config.external_cluster:
        env["HARNESS_KUBECONFIG"] = str(harness_config.kubeconfig)
    else:
        env.update({"HARNESS_CLUSTER_NAME": cluster.name, "HARNESS_REUSE_CLUSTER": "true",
                    "HARNESS_KEEP_CLUSTER": "always"})
    r = subprocess.run([sys.executable, str(SCRIPT), "gate"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, cwd=tmp_path, env=env, timeout=900, check=False)
    print(r.stdout)  # shown by pytest when the test fails
    assert r.returncode == 0, r.stdout[-3000:]
    assert r.stdout.splitlines()[0].startswith(f"gate command: {sys.executable} -m harness gate --chart "
                                               "charts-under-test/realtime --report-dir report")
    assert (tmp_path / "output").read_text().splitlines()[-1] == "exit-code=0"
    r = subprocess.run([sys.executable, str(SCRIPT), "summary"], capture_output=True, text=True, cwd=tmp_path,
                       env=env, timeout=60, check=False)
    assert r.returncode == 0, r.stderr
    summary = (tmp_path / "step-summary.md").read_text()
    assert summary.startswith("## harness gate charts-under-test/realtime (helm 4)\n\n"
                              "Gate: PASS — 2 of 2 scenarios passed\n")  # realtime-default and hpa-tls (HTTPS)
    assert (tmp_path / "report" / "index.html").is_file() and (tmp_path / "artifacts").is_dir()
