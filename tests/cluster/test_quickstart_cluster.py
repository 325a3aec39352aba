"""README.md's quick start for one's own chart, its scenario step on this session's cluster (issue 11,
Docs: the quick start works verbatim). The chart is made with ``helm create`` in a temporary
directory outside the repository, the README's files are written as they stand with its
``own-image`` block applied (the harness's static-site image, 1.0.0 released and 1.1.0 candidate, in
place of the scaffold's nginx, which a registry-less cluster cannot pull), its check runs, and its
``pytest --pyargs harness.scenarios.upgrade --harness-chart charts/mychart`` runs as it stands, with
only the options that point it at this session's cluster (reused and kept, or its
``--kubeconfig``) and at a private artifacts directory added. The upgrade must PASS: a scaffolded
chart with two replicas behind the harness's edge keeps serving through a rolling update of an
application that knows nothing about the harness. How each step is followed: tests/quickstart.py;
the same steps without a cluster: tests/integration/test_quickstart.py. About two minutes."""
from __future__ import annotations

import shlex

import pytest
from docblocks import commands
from quickstart import follow
from support import session_cluster_args

from harness.scenario.result import gate_status, read_results
from harness.scenario.verdicts import OLD_PODS_DRAINED
from harness.tools.binaries import tool_path

pytestmark = pytest.mark.cluster


def test_the_quick_starts_scenario_reaches_a_verdict_on_the_running_cluster(cluster, harness_config, tmp_path):
    qs = follow(tmp_path / "repo", tool_path("helm"), own_image=True)
    r = qs.run("set -e\n" + "\n".join(commands(qs.block("run"))))
    assert r.returncode == 0, r.stdout

    [scenario] = commands(qs.block("cluster"))
    assert scenario.startswith("pytest --pyargs harness.scenarios.upgrade ")
    artifacts = tmp_path / "artifacts"
    extra = [*session_cluster_args(cluster, harness_config), "--harness-artifacts-dir", str(artifacts),
             "-p", "no:cacheprovider", "-q", "-rfEs"]
    r = qs.run(f"{scenario} {shlex.join(extra)}", timeout=1500)
    print(r.stdout)  # shown by pytest when the test fails
    # The quick start reaches a verdict on a chart nobody wrote for the harness. A `helm create`
    # chart has no preStop delay, so a rollout may drop requests at the edge (the README says so,
    # and how to fix it): the availability check may fail, and so may "old pods drained before
    # termination" (the edge sent a request to a pod after it stopped: the same missing delay, seen
    # by attribution; a CI run hit it), nothing else may, and no ERROR.
    assert r.returncode in (0, 1), r.stdout[-3000:]
    records = [rec for rec in read_results(artifacts / "scenarios.json") if rec.scenario == "upgrade"]
    assert [(rec.chart, rec.variant) for rec in records] == [("mychart", "default")], r.stdout[-3000:]
    rec = records[0]
    failed = [c.name for c in rec.checks if not c.passed]
    assert rec.outcome in ("PASS", "FAIL") and set(failed) <= {"availability", OLD_PODS_DRAINED}, \
        (rec.outcome, rec.reason)
    assert (rec.outcome == "FAIL") == bool(failed) == (r.returncode == 1), rec.reason
    if failed:
        assert "requests failed during the upgrade (budget 0)" in rec.reason, rec.reason
    else:
        assert gate_status(rec) == "PASS" and rec.figures["failed_requests"].value == 0
    # who served each request, from the edge's access log: the application cooperates in nothing
    assert rec.figures["attribution"].value == "traefik access log", rec.figures["attribution"].value
    assert rec.figures["attributed_requests"].value > 0
    assert rec.figures["old_after_rollout_requests"].value == 0
