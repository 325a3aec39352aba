"""``make matrix`` (harness/gate/matrix.py): the cells it plans, the pytest line of each, the rows it
reads from the cells' scenarios.json records and the table it writes; run with fakes (no cluster)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.core.errors import EnvironmentNotReady, UsageError
from harness.gate import matrix
from harness.gate.matrix import CellRun, MatrixCell
from harness.scenario.result import Cell, Figure, ScenarioResult, write_results

SUPPORTED = ["v1.35.4", "v1.36.3", "v1.37.2"]


def test_default_plan_is_every_supported_version_times_helm_4_and_3():
    cells = matrix.plan_cells(matrix.kubernetes_versions("", SUPPORTED), matrix.helm_majors(""))
    assert [(c.kubernetes_version, c.helm) for c in cells] == [
        ("v1.35.4", "4"), ("v1.35.4", "3"), ("v1.36.3", "4"), ("v1.36.3", "3"), ("v1.37.2", "4"), ("v1.37.2", "3")]
    assert cells[-1].cluster_name == "harness-v1-37" and cells[-1].name == "k8s-v1.37.2-helm3"
    assert matrix.scenario_names("") == ["upgrade", "rollback"]


def test_versions_by_minor_or_pin_and_helms_by_name():
    assert matrix.kubernetes_versions("v1.37, 1.35", SUPPORTED) == ["v1.37.2", "v1.35.4"]
    assert matrix.kubernetes_versions(["v1.36.3", "v1.36"], SUPPORTED) == ["v1.36.3"]
    assert matrix.helm_majors("helm3 4 3to4") == ["3", "4", "3to4"]
    assert matrix.scenario_names("drain,upgrade") == ["drain", "upgrade"]


@pytest.mark.parametrize("call, message", [
    (lambda: matrix.kubernetes_versions("v1.34", SUPPORTED),
     "matrix: Kubernetes 'v1.34' is not supported; supported: v1.35.4, v1.36.3, v1.37.2"),
    (lambda: matrix.helm_majors("2"), "matrix: helm '2' is not one of 4, 3, 3to4"),
    (lambda: matrix.scenario_names("upgrades"), "matrix: scenario 'upgrades' is not one of"),
])
def test_bad_input_is_one_usage_line(call, message):
    with pytest.raises(UsageError) as err:
        call()
    assert str(err.value).startswith(message) and "\n" not in str(err.value) and err.value.exit_code == 2


def test_pytest_argv_per_cell(tmp_path):
    argv = matrix.pytest_argv(MatrixCell("v1.36.3", "3"), ["upgrade", "rollback"], artifacts=tmp_path / "a",
                              helm_binary="/t/helm3", scenarios_dir=Path("/s"), python="py", extra=["-x"])
    assert argv == ["py", "-m", "pytest", "/s/upgrade", "/s/rollback", "-q", "-rfEs",
                    "--harness-kubernetes-version", "v1.36.3", "--harness-cluster-name", "harness-v1-36",
                    "--harness-reuse-cluster", "--harness-keep-cluster", "always",
                    "--harness-helm", "/t/helm3", "--harness-artifacts-dir", str(tmp_path / "a"), "-x"]
    cross = matrix.pytest_argv(MatrixCell("v1.37.2", "3to4"), ["upgrade"], artifacts=tmp_path, helm_binary="/t/helm",
                               scenarios_dir=Path("/s"), python="py")
    assert cross[-4:] == ["--harness-helm-from", "3", "-k", "from-helm3"]


def record(scenario="upgrade", outcome="PASS", helm="v4.3.2", key=None, control=None, **figs):
    return ScenarioResult(scenario=scenario, chart="ha-service", variant="default", control=control, outcome=outcome,
                          reason="ok" if outcome == "PASS" else "3 failed requests > budget 0",
                          cell=Cell("v1.37.2", helm, "traefik-nginx"), key=key,
                          figures={k: Figure(v) for k, v in figs.items()})


def test_rows_from_records_and_an_error_row_for_a_cell_without_records(tmp_path):
    run = CellRun(MatrixCell("v1.37.2", "4"), 1, 12.0, tmp_path)
    rows = matrix.rows_for(run, [record(failed_requests=0, requests=120, unrelated=5),
                                 record(helm="v3.22.0→v4.3.2", key="from-helm3", released_apply_method="unset",
                                        upgraded_apply_method="csa"),
                                 record(outcome="FAIL", control="slow-start")])
    assert [(r.kubernetes, r.helm, r.chart, r.control, r.outcome) for r in rows] == [
        ("v1.37.2", "v4.3.2", "ha-service-default", "positive", "PASS"),
        ("v1.37.2", "v3.22.0→v4.3.2", "ha-service-default (from-helm3)", "positive", "PASS"),
        ("v1.37.2", "v4.3.2", "ha-service-broken-slow-start", "broken:slow-start", "PASS")]  # control caught
    assert rows[0].figures == {"failed_requests": 0, "requests": 120}
    assert rows[1].figures == {"released_apply_method": "unset", "upgraded_apply_method": "csa"}
    [empty] = matrix.rows_for(CellRun(MatrixCell("v1.35.4", "3"), 3, 1.0, tmp_path), [])
    assert (empty.outcome, empty.helm, empty.cell) == ("ERROR", "helm3", "k8s-v1.35.4-helm3")
    assert empty.reason.startswith("no scenario records: pytest exited 3")


def test_markdown_table(tmp_path):
    run = CellRun(MatrixCell("v1.37.2", "4"), 0, 75.0, tmp_path)
    rows = matrix.rows_for(run, [record(failed_requests=0, longest_failure_seconds=0.25),
                                 record(scenario="rollback", outcome="FAIL")])
    md = matrix.render_markdown(rows, [run])
    lines = md.splitlines()
    assert lines[0] == "# Matrix: 1/2 rows passed"
    assert "k8s-v1.37.2-helm4 (exit 0," in lines[2]
    assert lines[4] == "| Kubernetes | helm | scenario | chart | control | outcome | figures | reason |"
    assert lines[6].startswith("| v1.37.2 | v4.3.2 | upgrade | ha-service-default | positive | PASS | failed_requests=0")
    assert "longest_failure_seconds=" in lines[6] and lines[7].endswith("| FAIL |  | 3 failed requests > budget 0 |")


class FakeClusters:
    def __init__(self, existing=()):
        self.names = set(existing)
        self.deleted: list[str] = []

    def existing(self):
        return set(self.names)

    def delete(self, name):
        self.deleted.append(name)
        self.names.discard(name)


def test_run_matrix_one_cluster_per_version_in_turn_and_the_report(tmp_path, monkeypatch):
    monkeypatch.setattr(matrix.binaries, "tool_path", lambda name, version=None: f"/tools/{version}/{name}")
    clusters = FakeClusters(existing={"harness"})
    calls: list[list[str]] = []

    def runner(argv):
        calls.append(list(argv))
        if "pytest" not in argv:
            return 0
        name = argv[argv.index("--harness-cluster-name") + 1]
        clusters.names.add(name)  # the first cell of a version creates its cluster
        art = Path(argv[argv.index("--harness-artifacts-dir") + 1])
        version = argv[argv.index("--harness-kubernetes-version") + 1]
        if version == "v1.35.4" and "/tools/v1.35.4/helm3" in argv:
            return 3  # this cell left no records
        write_results(art / "scenarios.json", [record()])
        return 0

    cells = matrix.plan_cells(["v1.35.4", "v1.37.2"], ["4", "3"])
    write_results(tmp_path / "art" / "k8s-v1.35.4-helm3" / "scenarios.json", [record()])  # a previous run's
    rc, rows = matrix.run_matrix(cells, ["upgrade"], artifacts_root=tmp_path / "art", report_dir=tmp_path / "report",
                                 runner=runner, clusters=clusters, say=lambda line: None)
    assert rc == 1 and [r.outcome for r in rows] == ["PASS", "ERROR", "PASS", "PASS"]
    assert [Path(c[1]).name if c[0] == "bash" else c[c.index("--harness-helm") + 1] for c in calls] == [
        "build-tools.sh", "build-images.sh", "/tools/v1.35.4/helm", "/tools/v1.35.4/helm3",
        "build-tools.sh", "build-images.sh", "/tools/v1.37.2/helm", "/tools/v1.37.2/helm3"]
    assert clusters.deleted == ["harness-v1-35", "harness-v1-37"] and "harness" in clusters.names
    data = json.loads((tmp_path / "report" / "matrix.json").read_text())
    assert [c["exit_code"] for c in data["cells"]] == [0, 3, 0, 0] and len(data["rows"]) == 4
    assert (tmp_path / "report" / "matrix.md").read_text().startswith("# Matrix: 3/4 rows passed")


def test_a_cluster_that_existed_is_reused_and_kept_and_a_missing_tool_is_an_error_row(tmp_path, monkeypatch):
    def tool_path(name, version=None):
        raise EnvironmentNotReady(f"{name} not found; run `images/build-tools.sh {version}`")

    monkeypatch.setattr(matrix.binaries, "tool_path", tool_path)
    clusters = FakeClusters(existing={"harness-v1-36"})
    rc, rows = matrix.run_matrix(matrix.plan_cells(["v1.36.3"], ["4"]), ["upgrade"], artifacts_root=tmp_path,
                                 report_dir=tmp_path / "r", runner=lambda argv: 0, clusters=clusters,
                                 say=lambda line: None)
    assert rc == 1 and clusters.deleted == [] and rows[0].outcome == "ERROR" and "exited 3" in rows[0].reason


JUNIT = """<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest" tests="3">
<testcase classname="test_cluster_basics" name="test_all_nodes_ready" time="0.1"/>
<testcase classname="test_cluster_basics" name="test_dns" time="0.1">{bad}</testcase>
<testcase classname="test_cluster_basics" name="test_pvc" time="0.1"/>
</testsuite></testsuites>"""


def test_cluster_basics_row_per_version_from_junit(tmp_path, monkeypatch):
    monkeypatch.setattr(matrix.binaries, "tool_path", lambda name, version=None: f"/tools/{version}/{name}")
    clusters = FakeClusters(existing=set())
    calls: list[list[str]] = []

    def runner(argv):
        calls.append(list(argv))
        if "pytest" not in argv:
            return 0
        clusters.names.add(argv[argv.index("--harness-cluster-name") + 1])
        junit = [a for a in argv if a.startswith("--junitxml=")]
        if junit:  # the cluster basics: v1.36's DNS test fails
            bad = '<failure message="AssertionError: nslookup failed&#10;more">x</failure>' if "v1.36.3" in argv else ""
            Path(junit[0].split("=", 1)[1]).write_text(JUNIT.format(bad=bad))
            return 1 if bad else 0
        write_results(Path(argv[argv.index("--harness-artifacts-dir") + 1]) / "scenarios.json", [record()])
        return 0

    rc, rows = matrix.run_matrix(matrix.plan_cells(["v1.36.3", "v1.37.2"], ["4"]), ["upgrade"],
                                 artifacts_root=tmp_path / "art", report_dir=tmp_path / "r", runner=runner,
                                 clusters=clusters, cluster_tests=Path("/repo/tests/cluster/test_cluster_basics.py"),
                                 say=lambda line: None)
    assert [(r.cell, r.scenario, r.outcome) for r in rows] == [
        ("k8s-v1.36.3-cluster", "cluster-basics", "FAIL"), ("k8s-v1.36.3-helm4", "upgrade", "PASS"),
        ("k8s-v1.37.2-cluster", "cluster-basics", "PASS"), ("k8s-v1.37.2-helm4", "upgrade", "PASS")]
    assert rows[0].reason == "test_dns failure: AssertionError: nslookup failed" and rc == 1
    assert rows[2].reason == "3 cluster tests passed" and rows[2].figures == {"tests_passed": 3, "tests": 3}
    basics = [c for c in calls if "/repo/tests/cluster/test_cluster_basics.py" in c]
    assert len(basics) == 2 and basics[1][basics[1].index("--harness-cluster-name") + 1] == "harness-v1-37"
    # the basics run on the version's cluster after its images are built, before its first cell
    builds = [i for i, c in enumerate(calls) if c[0] == "bash" and c[1].endswith("build-images.sh")]
    assert [calls.index(b) for b in basics] == [builds[0] + 1, builds[1] + 1]


def test_cluster_basics_without_a_junit_report_is_an_error_row(tmp_path):
    row = matrix.cluster_row("v1.35.4", tmp_path / "missing.xml", 4)
    assert row.outcome == "ERROR" and "pytest exited 4" in row.reason
    (tmp_path / "j.xml").write_text(JUNIT.format(bad='<skipped message="no NodePort mapping"/>'))
    row = matrix.cluster_row("v1.35.4", tmp_path / "j.xml", 0)
    assert row.outcome == "FAIL" and row.reason == "test_dns skipped: no NodePort mapping"


def test_skipped_rows_do_not_fail_the_matrix_and_are_counted(tmp_path, monkeypatch):
    monkeypatch.setattr(matrix.binaries, "tool_path", lambda name, version=None: f"/tools/{version}/{name}")
    clusters = FakeClusters(existing=set())

    def runner(argv):
        if "pytest" in argv:
            clusters.names.add(argv[argv.index("--harness-cluster-name") + 1])
            write_results(Path(argv[argv.index("--harness-artifacts-dir") + 1]) / "scenarios.json",
                          [record(), record(outcome="SKIP", key="tls")])
        return 0

    rc, rows = matrix.run_matrix(matrix.plan_cells(["v1.37.2"], ["4"]), ["upgrade"], artifacts_root=tmp_path / "a",
                                 report_dir=tmp_path / "r", runner=runner, clusters=clusters, say=lambda line: None)
    assert rc == 0 and [r.outcome for r in rows] == ["PASS", "SKIP"]
    assert (tmp_path / "r" / "matrix.md").read_text().startswith("# Matrix: 1/2 rows passed, 1 skipped")


def test_deleting_a_version_cluster_also_removes_its_postgres_containers(monkeypatch):
    asked = []
    monkeypatch.setattr(matrix.cluster_mod.containers, "delete_kind_cluster", lambda kind, name: asked.append(name))
    monkeypatch.setattr(matrix.cluster_mod.containers, "remove_postgres_of", lambda name: asked.append(f"pg {name}"))
    matrix.KindClusters().delete("harness-v1-36")
    assert asked == ["harness-v1-36", "pg harness-v1-36"]
