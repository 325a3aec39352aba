"""The gate's report (harness/report/render.py): reading JUnit XML and scenarios.json, the rows and their
key figures, the self-contained HTML page (parsed, not string-matched), the Markdown summary."""
from __future__ import annotations

import base64
import json
import os
import time
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest

from harness.k8s.diagnostics import artifact_dir
from harness.report import render as report

PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==")

UPGRADE_OK = "scenarios/upgrade/test_upgrade.py::test_upgrade[realtime-default]"
UPGRADE_BAD = "scenarios/upgrade/test_upgrade.py::test_upgrade[ha-service-default]"
UPGRADE_TLS = "scenarios/upgrade/test_upgrade.py::test_upgrade[realtime-hpa-tls]"
CONTROL = "scenarios/upgrade/test_upgrade.py::test_upgrade_catches_broken[ha-service-broken-max-unavailable-all]"
DB_STOP = "scenarios/db_outage/test_db_outage.py::test_db_outage[ha-service-default-stop]"
SSE = "scenarios/sse/test_sse.py::test_sse[realtime-default]"
DRAIN_ERR = "scenarios/drain/test_drain.py::test_drain[realtime-default]"

FIG_OK = {"requests": 236, "failed_requests": 0, "failure_budget": 0, "longest_failure_run": 0,
          "longest_failure_seconds": 0.0, "probe_success_ratio": 1.0, "probe_p50_ms": 3.1, "probe_p99_ms": 48.2,
          "sse1_max_reconnect_s": 1.0, "sse1_missed_ids": 0, "sse1_duplicates": 0, "sse1_disconnects": 1,
          "sse2_max_reconnect_s": 1.2, "sse2_missed_ids": 0, "sse2_duplicates": 0, "sse2_disconnects": 1}
FIG_BAD = {"requests": 355, "failed_requests": 2, "failure_budget": 0, "longest_failure_run": 1,
           "longest_failure_seconds": 10.01, "probe_success_ratio": 0.99437, "probe_p50_ms": 254.0,
           "probe_p99_ms": 5380.0}
FIG_DB = {"fault": "stop", "outage_seconds": 26.1, "not_ready_bound_s": 11.0, "slowest_not_ready_s": 3.3,
          "ingress_requests": 120, "ingress_503": 116, "ingress_passed_through": 0, "restarts": 0,
          "recovery_bound_s": 14.0, "ready_after_recovery_s": 1.9, "shared_run_seconds": 134.2}
FIG_SSE = {"streams": 3, "hold_seconds": 120.0, "hold_longest_silence_s": 15.0, "rollout_disconnects": 3,
           "rollout_max_reconnect_s": 6.2, "rollout_missed_ids": 0, "rollout_duplicate_ids": 0}


def _testcase(suite: ET.Element, nodeid: str, props: dict, *, outcome: str = "passed", message: str = "",
              seconds: float = 30.0) -> None:
    path, _, name = nodeid.partition("::")
    tc = ET.SubElement(suite, "testcase", classname=path.removesuffix(".py").replace("/", "."), name=name,
                       time=f"{seconds:.3f}")
    if props:
        ps = ET.SubElement(tc, "properties")
        for k, v in props.items():
            ET.SubElement(ps, "property", name=k, value=str(v))
    if outcome != "passed":
        ET.SubElement(tc, {"failed": "failure", "error": "error", "skipped": "skipped"}[outcome], message=message)


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    """An artifacts directory as a scenario run leaves it: junit.xml, scenarios.json, plots, diagnostics."""
    art = tmp_path / "artifacts"
    art.mkdir()
    bad_diag = artifact_dir(art, UPGRADE_BAD)
    suites = ET.Element("testsuites")
    suite = ET.SubElement(suites, "testsuite", name="pytest", tests="7", failures="1", errors="1", skipped="1")
    _testcase(suite, UPGRADE_OK, {**FIG_OK, "verdict": "PASS", "reason": "PASS: 236 requests, 0 failed"})
    _testcase(suite, UPGRADE_BAD, {**FIG_BAD, "verdict": "FAIL", "reason": "2 of 355 requests failed during the upgrade",
                                   "harness_artifacts": str(bad_diag)},
              outcome="failed", message="AssertionError: 2 of 355 requests failed during the upgrade")
    _testcase(suite, UPGRADE_TLS, {}, outcome="skipped", message="realtime-hpa-tls: the Ingress has spec.tls")
    _testcase(suite, CONTROL, {**FIG_BAD, "verdict": "FAIL", "reason": "6 of 277 requests failed"})
    _testcase(suite, DB_STOP, FIG_DB)
    _testcase(suite, SSE, FIG_SSE)
    _testcase(suite, DRAIN_ERR, {}, outcome="error", message="failed on setup with HarnessError: helm install failed")
    ET.ElementTree(suites).write(art / "junit.xml", encoding="utf-8", xml_declaration=True)
    rows = [
        {"nodeid": UPGRADE_OK, "scenario": "upgrade", "target": "realtime-default", "control": "positive",
         "outcome": "PASS", "seconds": 29.2, "reason": "PASS: 236 requests, 0 failed", "figures": FIG_OK},
        {"nodeid": UPGRADE_BAD, "scenario": "upgrade", "target": "ha-service-default", "control": "positive",
         "outcome": "FAIL", "seconds": 39.0, "reason": "2 of 355 requests failed during the upgrade", "figures": FIG_BAD},
        {"nodeid": CONTROL, "scenario": "upgrade", "target": "ha-service-broken-max-unavailable-all",
         "control": "broken:max-unavailable-all", "outcome": "FAIL", "seconds": 33.0, "reason": "6 of 277 requests failed",
         "figures": FIG_BAD},
        {"nodeid": DB_STOP, "scenario": "db_outage", "target": "ha-service-default", "control": "positive",
         "outcome": "PASS", "seconds": 0.1, "reason": "PASS: stop: 3 pods NotReady within 3.3 s", "figures": FIG_DB},
        {"nodeid": SSE, "scenario": "sse", "target": "realtime-default", "control": "positive", "outcome": "PASS",
         "seconds": 166.0, "reason": "PASS: 3 streams held 120 s uncut", "figures": FIG_SSE},
    ]
    (art / "scenarios.json").write_text(json.dumps({"scenarios": rows}))
    for d, names in ((artifact_dir(art, UPGRADE_OK), ["probe.png", "sse.png"]), (bad_diag, ["probe.png"]),
                     (art / "test_db_outage__ha-service-default", ["probe-stop.png", "probe-pause.png"]),
                     (art / "test_sse__realtime-default", ["sse.png"])):
        d.mkdir(parents=True, exist_ok=True)
        for n in names:
            (d / n).write_bytes(PNG)
    (bad_diag / "summary.txt").write_text("pods ...")
    (art / "timings.json").write_text(json.dumps({"phases": [
        {"name": "cluster harness ready", "start": 0, "duration": 2.0, "outcome": "ok", "depth": 0},
        {"name": "add-ons", "start": 2, "duration": 30.0, "outcome": "ok", "depth": 0}]}))
    return art


def info(code: int = 1) -> report.GateInfo:
    return report.GateInfo(charts=[{"name": "realtime", "path": "charts-under-test/realtime", "version": "1.1.0",
                                    "app_version": "1.1.0", "from": "harness-charts/realtime 1.0.0"}],
                           scenarios=["upgrade", "db_outage", "sse", "drain"], node_image="kindest/node:v1.33.1",
                           cluster="harness", addons=["traefik", "postgres"], started=time.time() - 60, duration=60,
                           exit_code=code, why="2 of 6 scenario tests failed")


def by_id(rows: list[report.Row]) -> dict[str, report.Row]:
    return {r.nodeid: r for r in rows}


# --------------------------------------------------------------------------- reading


def test_rows_join_junit_scenarios_json_plots_and_diagnostics(run_dir):
    rows = by_id(report.collect_rows(run_dir))
    assert list(rows) == [UPGRADE_OK, UPGRADE_BAD, UPGRADE_TLS, CONTROL, DB_STOP, SSE, DRAIN_ERR]
    assert {k: r.status for k, r in rows.items()} == {
        UPGRADE_OK: "PASS", UPGRADE_BAD: "FAIL", UPGRADE_TLS: "SKIP", CONTROL: "PASS", DB_STOP: "PASS", SSE: "PASS",
        DRAIN_ERR: "ERROR"}
    ok = rows[UPGRADE_OK]
    assert (ok.scenario, ok.target, ok.control, ok.verdict) == ("upgrade", "realtime-default", "positive", "PASS")
    assert [p.name for p in ok.plots] == ["probe.png", "sse.png"] and ok.diagnostics is None
    bad = rows[UPGRADE_BAD]
    assert bad.diagnostics == artifact_dir(run_dir, UPGRADE_BAD) and bad.reason.startswith("2 of 355")
    ctl = rows[CONTROL]
    assert ctl.is_control and ctl.verdict == "FAIL" and ctl.variant == "ha-service"
    db = rows[DB_STOP]
    assert (db.target, db.fault) == ("ha-service-default", "stop")
    assert [p.name for p in db.plots] == ["probe-stop.png"]  # the shared run's plot for this fault only
    assert [p.name for p in rows[SSE].plots] == ["sse.png"]
    err = rows[DRAIN_ERR]
    assert (err.scenario, err.target) == ("drain", "realtime-default") and "helm install failed" in err.reason
    assert rows[UPGRADE_TLS].reason.startswith("realtime-hpa-tls: the Ingress has spec.tls")


def test_files_older_than_the_run_are_ignored(run_dir):
    old = time.time() - 3600
    for p in run_dir.rglob("*"):
        if p.is_file():
            os.utime(p, (old, old))
    assert report.collect_rows(run_dir, since=time.time() - 10) == []
    assert len(report.collect_rows(run_dir, since=old - 10)) == 7


def test_nodeid_of_junit_classname():
    assert report.nodeid_of("scenarios.sse.test_sse", "test_sse[realtime-default]") == SSE
    assert report.nodeid_of("tests.unit.test_x.TestThing", "test_a") == "tests/unit/test_x.py::TestThing::test_a"


def test_merge_junit_copies_one_file_and_merges_several(tmp_path, run_dir):
    one = report.merge_junit([run_dir / "junit.xml", tmp_path / "missing.xml"], tmp_path / "out" / "junit.xml")
    assert one.read_bytes() == (run_dir / "junit.xml").read_bytes()
    other = tmp_path / "other.xml"
    other.write_text('<testsuites><testsuite name="pytest" tests="2" failures="1" errors="0" skipped="0" time="3.5">'
                     '<testcase classname="a" name="b"/><testcase classname="a" name="c"><failure message="x"/>'
                     "</testcase></testsuite></testsuites>")
    merged = ET.parse(report.merge_junit([run_dir / "junit.xml", other], tmp_path / "m.xml")).getroot()
    assert (merged.get("tests"), merged.get("failures"), merged.get("errors")) == ("9", "2", "1")
    assert len(list(merged.iter("testcase"))) == 9
    assert report.merge_junit([tmp_path / "none.xml"], tmp_path / "n.xml") is None


# --------------------------------------------------------------------------- key figures


def test_key_figures_per_scenario(run_dir):
    rows = by_id(report.collect_rows(run_dir))
    ok = report.key_figures(rows[UPGRADE_OK])
    assert ok["success"].text == "100 %" and not ok["success"].bad
    assert ok["p99 latency"].text == "48 ms" and ok["streams"].text == "max 1.2 s"
    assert ok["drain"].empty and ok["NotReady / Ready"].empty
    bad = report.key_figures(rows[UPGRADE_BAD])
    assert (bad["success"].text, bad["success"].detail, bad["success"].bad) == ("99.44 %", "2 of 355 failed", True)
    assert (bad["longest outage"].text, bad["longest outage"].bad) == ("10 s", True)
    assert bad["p99 latency"].text == "5.38 s"
    db = report.key_figures(rows[DB_STOP])
    assert db["NotReady / Ready"].text == "3.3 s / 1.9 s" and not db["NotReady / Ready"].bad
    assert db["success"].text == "503 × 116"
    sse = report.key_figures(rows[SSE])
    assert sse["streams"].text == "max 6.2 s" and "0 ids missed" in sse["streams"].detail
    drain = report.key_figures(report.Row("n", "drain", "t", figures={"drain_seconds": 17.2, "drain_outcome": "blocked",
                                                                       "eviction_refusals_429": 6}))
    assert (drain["drain"].text, drain["drain"].detail, drain["drain"].bad) == ("17 s", "blocked, 6 × 429", True)
    slow = report.key_figures(report.Row("n", "db_outage", "t", figures={**FIG_DB, "ready_after_recovery_s": 20.0}))
    assert slow["NotReady / Ready"].bad


# --------------------------------------------------------------------------- Markdown


def test_markdown_starts_with_the_verdict_line(run_dir, tmp_path):
    rows = report.collect_rows(run_dir)
    md = report.render_markdown(rows, info(1), report_dir=tmp_path / "report")
    lines = md.splitlines()
    assert lines[0] == "Gate: FAIL — 4 of 6 scenarios passed"  # the skipped test is not counted
    assert "**exit 1**" in lines[2] and "chart **realtime** 1.1.0 ← harness-charts/realtime 1.0.0" in lines[2]
    table = [ln for ln in lines if ln.startswith("| ")]
    assert len(table) == 1 + 6  # header + every test that ran
    assert any(ln.startswith("| ❌ FAIL | upgrade | ha-service-default |") for ln in table)
    assert any("control max-unavailable-all" in ln and "caught: 6 of 277" in ln for ln in table)
    assert "Skipped (1):" in md and f"`{os.path.relpath(artifact_dir(run_dir, UPGRADE_BAD), tmp_path)}/`" in md
    passed = report.render_markdown([r for r in rows if r.status == "PASS"], info(0))
    assert passed.splitlines()[0] == "Gate: PASS — 4 of 4 scenarios passed"


def test_markdown_without_rows_explains_the_exit(tmp_path):
    i = info(3)
    i.why = "harness: error: Docker is not answering at DOCKER_HOST=unix:///nonexistent.sock"
    md = report.render_markdown([], i)
    assert md.splitlines()[0] == "Gate: FAIL — 0 of 0 scenarios passed"
    assert "**exit 3**: the environment could not be set up" in md and "> harness: error: Docker" in md


# --------------------------------------------------------------------------- HTML


class _Page(HTMLParser):
    """What the checks need from the page: table rows by table class, images, links, external refs."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[tuple[str, list[list[str]]]] = []
        self._cell: list[str] | None = None
        self._row: list[str] | None = None
        self.row_classes: list[str] = []
        self.images: list[str] = []
        self.links: list[str] = []
        self.external: list[str] = []
        self.sections: list[str] = []
        self.title = ""
        self._in_title = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table":
            self.tables.append((a.get("class", ""), []))
        elif tag == "tr" and self.tables:
            self._row = []
            self.row_classes.append(a.get("class", ""))
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []
        elif tag == "img":
            self.images.append(a.get("src", ""))
        elif tag == "a":
            self.links.append(a.get("href", ""))
        elif tag == "section":
            self.sections.append(a.get("id", ""))
        elif tag == "title":
            self._in_title = True
        for k in ("src", "href"):
            if str(a.get(k, "")).startswith(("http:", "https:", "//")):
                self.external.append(a[k])
        if tag in ("script", "link"):
            self.external.append(tag)

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.tables[-1][1].append(self._row)
            self._row = None
        elif tag == "title":
            self._in_title = False

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)
        if self._in_title:
            self.title += data


def test_html_has_one_row_per_test_and_embedded_plots(run_dir, tmp_path):
    rep = tmp_path / "report"
    written = report.write_report(report.collect_rows(run_dir), info(1), report_dir=rep, artifacts_dir=run_dir,
                                  junit_sources=[run_dir / "junit.xml"])
    assert set(written) == {"html", "markdown", "json", "junit"}
    page = _Page()
    page.feed((rep / "index.html").read_text())
    assert page.title == "Gate: FAIL — 4 of 6 scenarios passed"
    assert page.external == []  # self-contained: no scripts, stylesheets or remote images
    tables = {cls: rows for cls, rows in page.tables}
    positives = [r for r in tables["rows"] if r and r[0] in report.STATUSES]
    controls = [r for r in tables["rows controls"] if r and r[0] in report.STATUSES]
    # result, scenario, variant, the key figures, time, evidence
    assert all(len(r) == 3 + len(report.COLUMNS) + 2 for r in positives + controls)
    assert [(r[0], r[1], r[2]) for r in positives] == [
        ("FAIL", "upgrade", "ha-service-default"), ("ERROR", "drain", "realtime-default"),
        ("PASS", "upgrade", "realtime-default"), ("PASS", "db_outage stop", "ha-service-default"),
        ("PASS", "sse", "realtime-default")]
    assert [(r[0], r[2]) for r in controls] == [("PASS", "max-unavailable-allon ha-service")]
    header = tables["rows"][0]
    assert header[3:3 + len(report.COLUMNS)] == list(report.COLUMNS)
    fail = positives[0]
    assert fail[3].startswith("99.44 %") and fail[4].startswith("10 s") and fail[5].startswith("5.38 s")
    # plots: every PNG of the run, embedded (upgrade ok: 2, bad: 1, db stop: 1, sse: 1)
    assert len(page.images) == 5
    for src in page.images:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    diag = os.path.relpath(artifact_dir(run_dir, UPGRADE_BAD), rep) + "/"
    assert diag in page.links and diag.startswith("../artifacts/")
    assert "#" + report.Row(UPGRADE_BAD, "", "").anchor in page.links
    assert len(page.sections) == 6  # one detail section per test that ran
    assert "junit.xml" in page.links and (rep / "junit.xml").is_file()
    doc = json.loads((rep / "gate.json").read_text())
    assert doc["exit_code"] == 1 and doc["counts"] == {"PASS": 4, "FAIL": 1, "ERROR": 1, "SKIP": 1}


def test_html_escapes_what_the_scenarios_wrote(tmp_path):
    row = report.Row("scenarios/upgrade/test_upgrade.py::test_upgrade[x]", "upgrade", "x", outcome="failed",
                     verdict="FAIL", reason='<script>alert("x")</script> & more')
    html = report.render_html([row], info(1), report_dir=tmp_path)
    assert "<script>" not in html and "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; more" in html
