"""The composite action's steps (ci/action/run.py) run here with the inputs action.yml passes: the
exact gate command (dry run), the summary appended to $GITHUB_STEP_SUMMARY, the outputs, the exit
codes, and one line for each bad input."""
from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from harness.core.pins import pinned

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "ci" / "action" / "run.py"


def run(step: str, *args: str, inputs: dict[str, str] | None = None, cwd: Path = ROOT,
        extra: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HARNESS_", "INPUT_", "GITHUB_"))}
    if os.environ.get("HARNESS_CACHE"):
        env["HARNESS_CACHE"] = os.environ["HARNESS_CACHE"]
    env["PYTHONPATH"] = str(ROOT)
    env.update({f"INPUT_{k.upper().replace('-', '_')}": v for k, v in (inputs or {}).items()})
    env.update(extra or {})
    return subprocess.run([sys.executable, str(SCRIPT), step, *args], capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=120, check=False)


def gate_line(r: subprocess.CompletedProcess) -> list[str]:
    lines = [ln for ln in r.stdout.splitlines() if ln.startswith("gate command: ")]
    assert len(lines) == 1, r.stdout + r.stderr
    return shlex.split(lines[0].removeprefix("gate command: "))


def test_gate_dry_run_prints_the_exact_command(tmp_path):
    out = tmp_path / "output"
    r = run("gate", "--dry-run", extra={"GITHUB_OUTPUT": str(out)}, inputs={
        "chart": "charts-under-test/realtime", "kubernetes-version": "v1.36", "helm-version": "4",
        "scenarios": "upgrade, drain", "edge": "traefik-gateway",
        "values": "charts-under-test/httproute-values.yaml\nextra.yaml"})
    assert r.returncode == 0, r.stderr
    v1_36 = next(v for v in pinned() if v == "K8S_1_36")
    assert gate_line(r) == [sys.executable, "-m", "harness", "gate", "--chart", "charts-under-test/realtime",
                            "--report-dir", "report", "--artifacts-dir", "artifacts",
                            "--kubernetes-version", pinned()[v1_36].split()[0], "--scenarios", "upgrade,drain",
                            "--edge", "traefik-gateway", "--values", "charts-under-test/httproute-values.yaml",
                            "--values", "extra.yaml"]
    assert out.read_text() == (f"artifact-name=harness-gate-realtime-{pinned()[v1_36].split()[0]}-helm4-"
                               "traefik-gateway\n")


def test_gate_dry_run_passes_the_shard_and_names_the_artifact_after_it(tmp_path):
    out = tmp_path / "output"
    r = run("gate", "--dry-run", extra={"GITHUB_OUTPUT": str(out)},
            inputs={"chart": "charts-under-test/realtime", "shard": "2/3"})
    assert r.returncode == 0, r.stderr
    assert gate_line(r)[-2:] == ["--shard", "2/3"]
    assert out.read_text() == f"artifact-name=harness-gate-realtime-{pinned()['KUBERNETES_VERSION']}-helm4-default-edge-shard-2-of-3\n"


def test_gate_dry_run_with_helm_3_uses_the_pinned_helm3():
    from harness.core.errors import EnvironmentNotReady
    from harness.tools.binaries import tool_path
    try:
        helm3 = tool_path("helm3")
    except EnvironmentNotReady as exc:
        pytest.skip(str(exc))
    r = run("gate", "--dry-run", inputs={"chart": "charts/x", "helm-version": pinned()["HELM3_VERSION"]})
    assert r.returncode == 0, r.stderr
    assert gate_line(r)[-2:] == ["--helm", helm3]


@pytest.mark.parametrize(("inputs", "line"), [
    ({}, "harness-action: error: chart: is required (the chart directory, e.g. charts/mychart)"),
    ({"chart": "c", "kubernetes-version": "v1.20"}, "harness-action: error: kubernetes-version: 'v1.20' is not supported"),
    ({"chart": "c", "helm-version": "v3.1.0"}, "harness-action: error: helm-version: 'v3.1.0' is not pinned here"),
    ({"chart": "c", "shard": "3/2"}, "harness-action: error: shard: '3/2' is not i/n with 1 <= i <= n"),
])
def test_bad_inputs_are_one_line_and_exit_2(inputs, line):
    r = run("gate", "--dry-run", inputs=inputs)
    assert r.returncode == 2
    assert len(r.stderr.splitlines()) == 1 and r.stderr.startswith(line), r.stderr
    assert "Traceback" not in r.stderr


def test_gate_runs_and_exits_with_the_gates_code(tmp_path):
    # a chart without a contract: the gate's own usage error (2) comes back as the step's code
    chart = tmp_path / "charts" / "web"
    chart.mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: web\nversion: 0.1.0\n")
    out = tmp_path / "output"
    r = run("gate", inputs={"chart": "charts/web"}, cwd=tmp_path, extra={"GITHUB_OUTPUT": str(out)})
    assert r.returncode == 2, r.stdout + r.stderr
    assert "harness: error:" in r.stderr and "Traceback" not in r.stderr
    assert out.read_text().splitlines()[-1] == "exit-code=2"
    # the gate wrote its report even so (docs/gate.md: a preflight failure still writes summary.md)
    summary = tmp_path / "step-summary.md"
    r = run("summary", inputs={"chart": "charts/web", "helm-version": "4"}, cwd=tmp_path,
            extra={"GITHUB_STEP_SUMMARY": str(summary)})
    assert r.returncode == 0
    text = summary.read_text()
    assert text.startswith("## harness gate charts/web (helm 4)\n\n")
    report = tmp_path / "report" / "summary.md"
    if report.is_file():
        assert text.endswith(report.read_text().rstrip("\n") + "\n")
        assert "Gate: FAIL" in text
    else:
        assert "Gate: FAIL — no report" in text


def test_summary_appends_the_report_and_says_when_there_is_none(tmp_path):
    summary = tmp_path / "step-summary.md"
    summary.write_text("earlier step\n")
    inputs = {"chart": "charts-under-test/realtime", "kubernetes-version": "v1.37", "shard": ""}
    r = run("summary", inputs=inputs, cwd=tmp_path, extra={"GITHUB_STEP_SUMMARY": str(summary)})
    assert r.returncode == 0
    assert summary.read_text() == ("earlier step\n## harness gate charts-under-test/realtime (Kubernetes v1.37)\n\n"
                                   "Gate: FAIL — no report (report/summary.md missing): the job failed before the "
                                   "gate could write one\n")
    (tmp_path / "report").mkdir()
    (tmp_path / "report" / "summary.md").write_text("Gate: PASS — 3 of 3 scenarios passed\n\n| a | b |\n")
    summary.write_text("")
    run("summary", inputs=inputs, cwd=tmp_path, extra={"GITHUB_STEP_SUMMARY": str(summary)})
    assert summary.read_text() == ("## harness gate charts-under-test/realtime (Kubernetes v1.37)\n\n"
                                   "Gate: PASS — 3 of 3 scenarios passed\n\n| a | b |\n")


def test_install_and_tools_dry_run_name_the_action_checkout(tmp_path):
    r = run("install", "--dry-run", extra={"ACTION_PATH": str(ROOT)})
    assert r.returncode == 0
    assert r.stdout.splitlines() == [f"install command: {shlex.join([sys.executable, '-m', 'pip', 'install', '--quiet', str(ROOT)])}"]
    r = run("tools", "--dry-run", inputs={"kubernetes-version": "v1.35"}, extra={"ACTION_PATH": str(ROOT)})
    assert r.returncode == 0
    v = pinned()["K8S_1_35"].split()[0]
    assert r.stdout.splitlines() == [f"tools command: {ROOT}/images/build-tools.sh {v}",
                                     f"tools command: {ROOT}/images/build-images.sh {v}"]


# --------------------------------------------------------------------------- merge mode (the final job)


def gate_job(root: Path, name: str, outcome: str, code: int, shard: str) -> None:
    """What one gate job of a sharded matrix uploads, as actions/download-artifact lays it out under
    ``jobs/``: <artifact-name>/report (the gate's report) beside <artifact-name>/artifacts."""
    from harness.report import render as report
    from harness.scenario.result import Cell, ScenarioResult, figures_from

    job = root / "jobs" / name
    (job / "artifacts").mkdir(parents=True)
    rec = ScenarioResult("upgrade", name, "default", None, outcome, f"{outcome}: {name}",
                         cell=Cell("v1.37.2", "v4.3.2", "traefik-nginx"),
                         figures=figures_from({"requests": 10, "failed_requests": 0 if outcome == "PASS" else 2}),
                         test_id=f"scenarios/upgrade/test_upgrade.py::test[{name}-default]")
    info = report.GateInfo(charts=[{"name": "web", "path": "charts/web", "version": "0.2.0", "app_version": "1",
                                    "from": "repo/web 0.1.0"}], scenarios=["upgrade"], exit_code=code,
                           why=f"{name} why", shard=shard, command=f"python -m harness gate --shard {shard}")
    report.write_report([rec], info, report_dir=job / "report", artifacts_dir=job / "artifacts")


def test_merge_dry_run_prints_the_exact_command_and_the_outputs(tmp_path):
    (tmp_path / "jobs" / "harness-gate-web-shard-2-of-2" / "report").mkdir(parents=True)
    (tmp_path / "jobs" / "harness-gate-web-shard-1-of-2" / "report").mkdir(parents=True)
    out = tmp_path / "output"
    r = run("gate", "--dry-run", inputs={"merge": "jobs/*/report", "helm-version": "4"}, cwd=tmp_path,
            extra={"GITHUB_OUTPUT": str(out)})
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["merge command: " + shlex.join([
        sys.executable, "-m", "harness", "report", "merge", "jobs/harness-gate-web-shard-1-of-2/report",
        "jobs/harness-gate-web-shard-2-of-2/report", "--out", "report"])]
    assert out.read_text() == ("artifact-name=harness-report-merged\n"
                               "upload-paths<<HARNESS_EOF\njobs/harness-gate-web-shard-1-of-2/\n"
                               "jobs/harness-gate-web-shard-2-of-2/\nHARNESS_EOF\n")
    assert not (tmp_path / "report").exists()


@pytest.mark.parametrize(("inputs", "line"), [
    ({"merge": "jobs/*/report"}, "harness-action: error: merge: 'jobs/*/report' matches no directory under "),
    ({"merge": "jobs", "chart": "charts/web"}, "harness-action: error: merge: a merging job runs only python -m "
                                               "harness report merge; leave chart empty"),
])
def test_bad_merge_inputs_are_one_line_and_exit_2(tmp_path, inputs, line):
    (tmp_path / "jobs").mkdir()
    r = run("gate", inputs=inputs, cwd=tmp_path)
    assert r.returncode == 2, r.stdout + r.stderr
    assert len(r.stderr.splitlines()) == 1 and r.stderr.startswith(line), r.stderr
    assert "Traceback" not in r.stderr and not (tmp_path / "report").exists()


def test_merge_joins_the_jobs_reports_and_exits_with_the_worst_code(tmp_path):
    gate_job(tmp_path, "harness-gate-web-shard-1-of-2", "PASS", 0, "1/2")
    gate_job(tmp_path, "harness-gate-web-shard-2-of-2", "FAIL", 1, "2/2")
    out, summary = tmp_path / "output", tmp_path / "step-summary.md"
    inputs = {"merge": "jobs/*/report", "helm-version": "4"}
    r = run("gate", inputs=inputs, cwd=tmp_path, extra={"GITHUB_OUTPUT": str(out)})
    assert r.returncode == 1, r.stdout + r.stderr  # the worst of the jobs': a scenario failed in shard 2
    assert "Gate: FAIL — 1 of 2 scenarios passed (exit 1" in r.stdout
    assert out.read_text().splitlines()[-1] == "exit-code=1"
    doc = json.loads((tmp_path / "report" / "gate.json").read_text())
    assert [row["chart"] for row in doc["rows"]] == ["harness-gate-web-shard-1-of-2", "harness-gate-web-shard-2-of-2"]
    assert [m["shard"] for m in doc["info"]["merged_from"]] == ["1/2", "2/2"]
    r = run("summary", inputs=inputs, cwd=tmp_path, extra={"GITHUB_STEP_SUMMARY": str(summary)})
    assert r.returncode == 0
    merged = (tmp_path / "report" / "summary.md").read_text()
    assert summary.read_text() == "## harness gate, merged: jobs/*/report\n\n" + merged.rstrip("\n") + "\n"
    assert merged.startswith("Gate: FAIL — 1 of 2 scenarios passed\n")
