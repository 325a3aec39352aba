"""``python -m harness report merge`` (harness/report/merge.py): the reports of several gate jobs
joined into one (the records read back, artifact paths rebased, JUnit XML merged), one verdict line
and the worst exit code; a missing or unreadable directory is one line and exit 2."""
from __future__ import annotations

import base64
import json
import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path

import pytest

from harness.__main__ import main
from harness.core.errors import UsageError
from harness.gate.edges import combined_code
from harness.report import merge
from harness.report import render as report
from harness.scenario.result import Cell, ScenarioResult, figures_from

PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==")
CELL = Cell("v1.37.2", "v4.3.2", "traefik-nginx")


def rec(scenario: str, target: str, outcome: str, reason: str, **kw) -> ScenarioResult:
    return ScenarioResult(scenario, target, "default", None, outcome, reason, cell=CELL,
                          figures=figures_from({"requests": 10, "failed_requests": 0 if outcome == "PASS" else 2}),
                          test_id=f"scenarios/{scenario}/test_{scenario}.py::test[{target}-default]", **kw)


def shard_job(root: Path, name: str, results: list[ScenarioResult], code: int, *, shard: str, tests: int = 1) -> Path:
    """What one matrix job uploads: <name>/report (the gate's) beside <name>/artifacts (plots)."""
    art = root / name / "artifacts"
    for r in results:
        for a in r.artifacts:
            (art / a).parent.mkdir(parents=True, exist_ok=True)
            (art / a).write_bytes(PNG)
    (root / name).mkdir(parents=True, exist_ok=True)
    junit = root / name / "junit-src.xml"
    junit.write_text(f'<testsuites><testsuite name="pytest" tests="{tests}" failures="{int(code == 1)}" errors="0" '
                     f'skipped="0" time="2.0"><testcase classname="c" name="{name}"/></testsuite></testsuites>')
    info = report.GateInfo(charts=[{"name": "realtime", "path": "charts/realtime", "version": "1.1.0",
                                    "app_version": "1.1.0", "from": "repo/realtime 1.0.0"}],
                           scenarios=["upgrade", "sse"], node_image="kindest/node:v1.37.0", started=1000.0 + tests,
                           duration=60.0, exit_code=code, why=f"{name} why", shard=shard, harness_version="0.1.0",
                           versions={"helm": "v4.3.2", "kubernetes": "v1.37.2"}, edges=["traefik-nginx"],
                           command=f"python -m harness gate --chart charts/realtime --shard {shard}")
    report.write_report(results, info, report_dir=root / name / "report", artifacts_dir=art, junit_sources=[junit])
    return root / name / "report"


@pytest.fixture
def two_shards(tmp_path):
    one = [rec("upgrade", "realtime", "PASS", "PASS: ok", artifacts=("upgrade-realtime/probe.png",)),
           rec("sse", "realtime", "SKIP", "skipped: no cert-manager")]
    two = [rec("upgrade", "ha", "PASS", "PASS: ok", artifacts=("upgrade-ha/probe.png",))]
    return tmp_path, [shard_job(tmp_path, "shard-1", one, 0, shard="1/2"),
                      shard_job(tmp_path, "shard-2", two, 0, shard="2/2", tests=2)], one + two


def test_merged_rows_equal_the_shards_rows(two_shards, capsys):
    root, dirs, rows = two_shards
    out = root / "merged"
    code = merge.merge_reports(dirs, out, command="python -m harness report merge ...")
    assert code == 0
    doc = json.loads((out / "gate.json").read_text())
    back = [ScenarioResult.from_json({k: v for k, v in r.items() if k != "status"}) for r in doc["rows"]]
    # the same records; their artifact paths now relative to the joined artifacts root (the jobs' parent)
    assert [replace(r, artifacts=()) for r in back] == [replace(r, artifacts=()) for r in rows]
    assert [r.artifacts for r in back] == [("shard-1/artifacts/upgrade-realtime/probe.png",), (),
                                           ("shard-2/artifacts/upgrade-ha/probe.png",)]
    assert doc["artifacts_dir"] == ".." and doc["line"] == "Gate: PASS — 2 of 2 scenarios passed"
    assert [r["status"] for r in doc["rows"]] == ["PASS", "SKIP", "PASS"]
    page = (out / "index.html").read_text()
    assert page.count("data:image/png;base64,") == 2  # both shards' plots found through the rebased paths
    assert (out / "summary.md").read_text().startswith("Gate: PASS — 2 of 2 scenarios passed\n")
    suites = ET.parse(out / "junit.xml").getroot()
    assert suites.get("tests") == "3" and len(list(suites.iter("testcase"))) == 2
    info = doc["info"]
    assert [m["shard"] for m in info["merged_from"]] == ["1/2", "2/2"]
    assert info["versions"] == {"helm": "v4.3.2", "kubernetes": "v1.37.2"} and info["edges"] == ["traefik-nginx"]
    assert info["started"] == 1001.0 and info["duration"] == 61.0  # first start to last end
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1] == "Gate: PASS — 2 of 2 scenarios passed (exit 0: 2 scenario tests passed in 2 reports, 1 skipped)"


@pytest.mark.parametrize(("codes", "worst"), [
    ((0, 0), 0), ((0, 1), 1), ((1, 3), 3), ((3, 2), 2), ((1, 2, 130), 130), ((0, 5), 5), ((), 0),
])
def test_the_worst_code_wins_in_the_gates_order(codes, worst):
    assert merge.worst_code(codes) == worst
    assert combined_code(codes) == worst  # the gate's edges follow the same rule


def test_a_failed_shard_fails_the_merge_and_says_which(tmp_path):
    a = shard_job(tmp_path, "a", [rec("upgrade", "x", "PASS", "PASS: ok")], 0, shard="1/2")
    b = shard_job(tmp_path, "b", [rec("upgrade", "y", "FAIL", "2 of 10 requests failed")], 1, shard="2/2")
    code = merge.merge_reports([a, b], tmp_path / "out", say=lambda line: None)
    assert code == 1
    doc = json.loads((tmp_path / "out" / "gate.json").read_text())
    assert doc["line"] == "Gate: FAIL — 1 of 2 scenarios passed" and doc["why"] == f"{b}: exit 1: b why"


def test_nothing_ran_in_any_shard_is_3(tmp_path):
    a = shard_job(tmp_path, "a", [rec("sse", "x", "SKIP", "skipped: no cert-manager")], 0, shard="1/2")
    b = shard_job(tmp_path, "b", [], 0, shard="2/2")
    assert merge.merge_reports([a, b], tmp_path / "out", say=lambda line: None) == 3
    assert json.loads((tmp_path / "out" / "gate.json").read_text())["why"].startswith("nothing ran")


def test_missing_or_unreadable_inputs_are_one_line_and_exit_2(tmp_path, capsys):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "gate.json").write_text("{not json")
    empty = tmp_path / "empty"
    empty.mkdir()
    cases = [(tmp_path / "nowhere", "is not a directory"), (empty, "has no gate.json"),
             (bad, "cannot be read as a gate report: JSONDecodeError")]
    for d, message in cases:
        assert main(["report", "merge", str(d), "--out", str(tmp_path / "out")]) == 2
        err = capsys.readouterr().err
        assert len(err.splitlines()) == 1 and err.startswith("harness: error: report merge: ") and message in err
    (bad / "gate.json").write_text(json.dumps({"rows": [{"scenario": "x"}], "exit_code": 0}))
    with pytest.raises(UsageError, match="cannot be read as a gate report"):
        merge.read_part(bad)
    assert not (tmp_path / "out").exists()


def test_out_must_not_be_an_input_nor_an_input_given_twice(two_shards):
    root, dirs, _ = two_shards
    with pytest.raises(UsageError, match="is one of the inputs"):
        merge.merge_reports(dirs, dirs[0])
    with pytest.raises(UsageError, match="given more than once"):
        merge.merge_reports([dirs[0], dirs[1], dirs[0]], root / "out")


def test_the_cli_merges_and_exits_with_the_code(two_shards, capsys):
    root, dirs, _ = two_shards
    assert main(["report", "merge", *map(str, dirs), "--out", str(root / "m")]) == 0
    doc = json.loads((root / "m" / "gate.json").read_text())
    assert doc["info"]["command"].startswith("python -m harness report merge ")
    assert capsys.readouterr().out.splitlines()[-1].startswith("Gate: PASS — 2 of 2 scenarios passed (exit 0")
