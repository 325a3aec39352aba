"""The gate's report (harness/report/) drawn from scenario records alone: records written and read
back (scenarios.json), key figures, figures with their units, the terminal table, the
self-contained HTML page (parsed, not string-matched) and the Markdown summary, for pass, fail,
error, skip and negative-control rows. Records are built directly; no node id is parsed anywhere."""
from __future__ import annotations

import base64
import json
import os
import time
import xml.etree.ElementTree as ET
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path

import pytest

from harness.report import render as report
from harness.report.figures import attribution_summary, format_cell, format_figure
from harness.report.table import summary_table
from harness.scenario.result import (
    Cell,
    Figure,
    ScenarioResult,
    StepRecord,
    figures_from,
    gate_status,
    read_results,
    write_results,
)

PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==")
CELL = Cell("v1.33.1", "v3.18.6", "traefik-nginx")

FIG_OK = {"requests": 236, "failed_requests": 0, "failure_budget": 0, "longest_failure_run": 0,
          "longest_failure_seconds": 0.0, "probe_success_ratio": 1.0, "probe_p50_ms": 3.1, "probe_p99_ms": 48.2,
          "sse1_max_reconnect_s": 1.0, "sse1_missed_ids": 0, "sse1_duplicates": 0, "sse1_disconnects": 1,
          "sse2_max_reconnect_s": 1.2, "sse2_missed_ids": 0, "sse2_duplicates": 0, "sse2_disconnects": 1}
FIG_BAD = {"requests": 355, "failed_requests": 2, "failure_budget": 0, "longest_failure_run": 1,
           "longest_failure_seconds": 10.01, "probe_success_ratio": 0.99437, "probe_p50_ms": 254.0,
           "probe_p99_ms": 5380.0}
FIG_DB = {"outage_seconds": 26.1, "not_ready_bound_s": 11.0, "slowest_not_ready_s": 3.3,
          "ingress_requests": 120, "ingress_503": 116, "ingress_passed_through": 0, "restarts": 0,
          "recovery_bound_s": 14.0, "ready_after_recovery_s": 1.9, "shared_run_seconds": 134.2}
FIG_SSE = {"streams": 3, "hold_seconds": 120.0, "hold_longest_silence_s": 15.0, "rollout_disconnects": 3,
           "rollout_max_reconnect_s": 6.2, "rollout_missed_ids": 0, "rollout_duplicate_ids": 0}
STEPS = (StepRecord("install the released chart", 0.0, 12.5), StepRecord("helm upgrade to the candidate", 14.0, 21.3),
         StepRecord("wait for the rollout", 35.3, 4.0, "failed", "WaitFailed: 1 pod not Ready"))


def rec(scenario: str, chart: str, variant: str, outcome: str, reason: str, figures: dict | None = None, *,
        control: str | None = None, key: str | None = None, **kw) -> ScenarioResult:
    return ScenarioResult(scenario, chart, variant, control, outcome, reason, cell=CELL, key=key,
                          figures=figures_from(figures or {}), test_id=f"id of {scenario} {chart} {variant} {control}",
                          **kw)


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    """An artifacts directory as a scenario run leaves it: scenarios.json (the records), plots,
    diagnostics, timings.json."""
    art = tmp_path / "artifacts"
    files = {"upgrade-ok/probe.png": PNG, "upgrade-ok/sse.png": PNG, "upgrade-bad/probe.png": PNG,
             "upgrade-bad/summary.txt": b"pods ...", "db/probe-stop.png": PNG, "db/probe-pause.png": PNG,
             "sse/sse.png": PNG, "upgrade-ok/probe.csv": b"t,status\n"}
    for name, data in files.items():
        (art / name).parent.mkdir(parents=True, exist_ok=True)
        (art / name).write_bytes(data)
    write_results(art / "scenarios.json", records())
    (art / "timings.json").write_text(json.dumps({"phases": [
        {"name": "cluster harness ready", "start": 0, "duration": 2.0, "outcome": "ok", "depth": 0},
        {"name": "add-ons", "start": 2, "duration": 30.0, "outcome": "ok", "depth": 0}]}))
    return art


def records() -> list[ScenarioResult]:
    """pass, fail (with diagnostics), skip, a caught control, a control that was not caught, a
    shared run with a key, sse, and an error."""
    return [
        rec("upgrade", "realtime", "default", "PASS", "PASS: 236 requests, 0 failed", FIG_OK, steps=STEPS[:2],
            artifacts=("upgrade-ok/probe.csv", "upgrade-ok/probe.png", "upgrade-ok/sse.png"), seconds=29.2),
        rec("upgrade", "ha-service", "default", "FAIL", "2 of 355 requests failed during the upgrade", FIG_BAD,
            steps=STEPS, artifacts=("upgrade-bad/probe.png", "upgrade-bad"), seconds=39.0),
        rec("upgrade", "realtime", "hpa-tls", "SKIP", "realtime-hpa-tls: the Ingress has spec.tls"),
        rec("upgrade", "ha-service", "default", "FAIL", "6 of 277 requests failed", FIG_BAD,
            control="max-unavailable-all", expected_reason="requests failed", seconds=33.0),
        rec("drain", "ha-service", "default", "PASS", "PASS: 2 pods evicted", {"drain_seconds": 9.5},
            control="pdb-blocks-drain", expected_reason="drain blocked", seconds=20.0),
        rec("db_outage", "ha-service", "default", "PASS", "PASS: stop: 3 pods NotReady within 3.3 s", FIG_DB,
            key="stop", artifacts=("db/probe-stop.png",), seconds=0.1),
        rec("sse", "realtime", "default", "PASS", "PASS: 3 streams held 120 s uncut", FIG_SSE,
            artifacts=("sse/sse.png",), seconds=166.0),
        rec("drain", "realtime", "default", "ERROR", "setup: HarnessError: helm install failed"),
    ]


def info(code: int = 1) -> report.GateInfo:
    return report.GateInfo(charts=[{"name": "realtime", "path": "charts-under-test/realtime", "version": "1.1.0",
                                    "app_version": "1.1.0", "from": "harness-charts/realtime 1.0.0"}],
                           scenarios=["upgrade", "db_outage", "sse", "drain"], node_image="kindest/node:v1.33.1",
                           cluster="harness", addons=["traefik", "postgres"], started=time.time() - 60, duration=60,
                           exit_code=code, why="3 of 7 scenario tests failed")


# --------------------------------------------------------------------------- the records


def test_records_round_trip_through_scenarios_json(run_dir):
    back = report.load_results(run_dir)
    assert back == records()
    assert [gate_status(r) for r in back] == ["PASS", "FAIL", "SKIP", "PASS", "FAIL", "PASS", "PASS", "ERROR"]
    assert back[1].steps[2].error == "WaitFailed: 1 pod not Ready" and back[5].key == "stop"
    assert back[0].figures["probe_p99_ms"] == Figure(48.2, "ms") and back[0].cell == CELL


def test_gate_status_of_positive_tests_and_controls():
    assert gate_status(rec("upgrade", "c", "default", "PASS", "ok")) == "PASS"
    assert gate_status(rec("upgrade", "c", "default", "FAIL", "3 requests failed")) == "FAIL"
    caught = rec("upgrade", "c", "default", "FAIL", "3 requests failed", control="bad", expected_reason="requests failed")
    assert gate_status(caught) == "PASS"
    assert gate_status(replace(caught, reason="the release is failed")) == "FAIL"  # caught, for another reason
    assert gate_status(replace(caught, outcome="PASS")) == "FAIL"  # not caught at all
    assert gate_status(replace(caught, outcome="ERROR")) == "ERROR"
    assert gate_status(replace(caught, outcome="SKIP")) == "SKIP"


def test_a_scenarios_json_older_than_the_run_is_ignored(run_dir):
    old = time.time() - 3600
    os.utime(run_dir / "scenarios.json", (old, old))
    assert report.load_results(run_dir, since=time.time() - 10) == []
    assert len(report.load_results(run_dir, since=old - 10)) == 8
    assert report.load_results(run_dir / "nowhere") == []


def test_a_file_that_is_not_records_is_an_error(tmp_path):
    (tmp_path / "scenarios.json").write_text(json.dumps({"scenarios": []}))  # the old, untyped format
    with pytest.raises(ValueError, match="no 'results' list"):
        report.load_results(tmp_path)
    (tmp_path / "scenarios.json").write_text(json.dumps({"results": [{"scenario": "x", "outcome": "MAYBE"}]}))
    with pytest.raises(ValueError, match="unknown outcome 'MAYBE'"):
        read_results(tmp_path / "scenarios.json")


def test_plots_and_diagnostics_come_from_the_records_paths(run_dir):
    ok, bad = records()[:2]
    assert [p.name for p in report.plots(ok, run_dir)] == ["probe.png", "sse.png"]
    assert report.diagnostics(ok, run_dir) is None
    assert report.diagnostics(bad, run_dir) == run_dir / "upgrade-bad"
    gone = replace(ok, artifacts=("upgrade-ok/missing.png",))
    assert report.plots(gone, run_dir) == []


def test_merge_junit_copies_one_file_and_merges_several(tmp_path):
    a, b = tmp_path / "a.xml", tmp_path / "b.xml"
    a.write_text('<testsuites><testsuite name="pytest" tests="1" failures="0" errors="1" skipped="0" time="1.5">'
                 '<testcase classname="x" name="y"><error message="e"/></testcase></testsuite></testsuites>')
    b.write_text('<testsuite name="pytest" tests="2" failures="1" errors="0" skipped="0" time="3.5">'
                 '<testcase classname="a" name="b"/><testcase classname="a" name="c"><failure message="x"/>'
                 "</testcase></testsuite>")
    one = report.merge_junit([a, tmp_path / "missing.xml"], tmp_path / "out" / "junit.xml")
    assert one.read_bytes() == a.read_bytes()
    merged = ET.parse(report.merge_junit([a, b], tmp_path / "m.xml")).getroot()
    assert (merged.get("tests"), merged.get("failures"), merged.get("errors"), merged.get("time")) == \
        ("3", "1", "1", "5.000")
    assert len(list(merged.iter("testcase"))) == 3
    assert report.merge_junit([tmp_path / "none.xml"], tmp_path / "n.xml") is None


# --------------------------------------------------------------------------- figures


@pytest.mark.parametrize(("fig", "text"), [
    (Figure(10.01, "s"), "10 s"), (Figure(3.3, "s"), "3.3 s"), (Figure(134.2, "s"), "2m14s"),
    (Figure(48.2, "ms"), "48 ms"), (Figure(5380.0, "ms"), "5.38 s"), (Figure(3.1, "ms"), "3.1 ms"),
    (Figure(0.99437, "ratio"), "99.44 %"), (Figure(1.0, "ratio"), "100 %"),
    (Figure(236, "requests"), "236 requests"), (Figure(2, "restarts"), "2 restarts"), (Figure(4, "count"), "4"),
    (Figure(0.5, ""), "0.5"), (Figure("blocked", ""), "blocked"), (Figure(None, "s"), "–"), (Figure(True, ""), "True"),
])
def test_figures_print_with_their_units(fig, text):
    assert format_figure(fig) == text


def test_cell_text():
    assert format_cell(CELL) == "Kubernetes v1.33.1 · helm v3.18.6 · traefik-nginx"
    assert format_cell(Cell(edge="ingress-nginx")) == "ingress-nginx" and format_cell(Cell()) == ""


def test_key_figures_per_scenario():
    ok, bad, _, _, drain_ctl, db, sse, _ = records()
    k = report.key_figures(ok)
    assert k["success"].text == "100 %" and not k["success"].bad
    assert k["p99 latency"].text == "48 ms" and k["p99 latency"].detail == "p50 3.1 ms"
    assert k["streams"].text == "max 1.2 s" and k["drain"].empty and k["NotReady / Ready"].empty
    k = report.key_figures(bad)
    assert (k["success"].text, k["success"].detail, k["success"].bad) == ("99.44 %", "2 of 355 failed", True)
    assert (k["longest outage"].text, k["longest outage"].bad) == ("10 s", True)
    assert k["p99 latency"].text == "5.38 s"
    # failed requests the harness sent late are not the chart's: the judged ratio, and the late ones named
    late = rec("upgrade", "c", "default", "PASS", "PASS: ...",
               {**FIG_OK, "requests": 200, "probe_success_ratio": 0.985, "probe_late_failed_count": 3})
    k = report.key_figures(late)
    assert (k["success"].text, k["success"].detail, k["success"].bad) == ("100 %", "0 of 200 failed (+3 sent late, "
                                                                          "not counted)", False)
    k = report.key_figures(db)
    assert k["NotReady / Ready"].text == "3.3 s / 1.9 s" and not k["NotReady / Ready"].bad
    assert k["success"].text == "503 × 116"
    k = report.key_figures(sse)
    assert k["streams"].text == "max 6.2 s" and "0 ids missed" in k["streams"].detail
    blocked = rec("drain", "c", "default", "FAIL", "drain blocked",
                  {"drain_seconds": 17.2, "drain_outcome": "blocked", "eviction_refusals_429": 6})
    k = report.key_figures(blocked)
    assert (k["drain"].text, k["drain"].detail, k["drain"].bad) == ("17 s", "blocked, 6 × 429", True)
    assert report.key_figures(drain_ctl)["drain"].text == "9.5 s"
    slow = rec("db_outage", "c", "default", "FAIL", "slow", {**FIG_DB, "ready_after_recovery_s": 20.0})
    assert report.key_figures(slow)["NotReady / Ready"].bad


# --------------------------------------------------------------------------- the terminal table


def test_terminal_table_from_the_records():
    assert summary_table([]) == "(no scenarios ran)"
    text = summary_table(records())
    lines = text.splitlines()
    assert lines[0].split()[:5] == ["scenario", "target", "control", "outcome", "time"]
    assert len(lines) == 1 + 2 * 8  # a line of figures and a line of reason per record
    row = lines[1].split()
    assert row[:6] == ["upgrade", "realtime-default", "positive", "PASS", "29", "s"]
    assert "failed_requests=0, requests=236, longest_failure_seconds=0.0 s" in lines[1]
    assert lines[2].strip() == "PASS: 236 requests, 0 failed"
    assert any(ln.split()[:4] == ["upgrade", "ha-service-broken-max-unavailable-all", "broken:max-unavailable-all",
                                  "FAIL"] for ln in lines)
    assert any(ln.split()[:4] == ["db_outage", "ha-service-default", "(stop)", "positive"] for ln in lines)
    assert any(ln.split()[:4] == ["drain", "realtime-default", "positive", "ERROR"] for ln in lines)


# --------------------------------------------------------------------------- Markdown


def test_markdown_starts_with_the_verdict_line(run_dir, tmp_path):
    results = report.load_results(run_dir)
    md = report.render_markdown(results, info(1), report_dir=tmp_path / "report", artifacts_dir=run_dir)
    lines = md.splitlines()
    assert lines[0] == "Gate: FAIL — 4 of 7 scenarios passed"  # the skipped test is not counted
    assert "**exit 1**" in lines[2] and "chart **realtime** 1.1.0 ← harness-charts/realtime 1.0.0" in lines[2]
    table = [ln for ln in lines if ln.startswith("| ")]
    assert len(table) == 1 + 7  # header + every test that ran
    assert table[0].startswith("| result | scenario | chart variant | cell | success |")
    cell = "Kubernetes v1.33.1 · helm v3.18.6 · traefik-nginx"
    assert any(ln.startswith(f"| ❌ FAIL | upgrade | ha-service-default | {cell} | 99.44 % |") for ln in table)
    assert any(ln.startswith("| ⚠️ ERROR | drain | realtime-default |") and "helm install failed" in ln for ln in table)
    assert any(ln.startswith("| ✅ PASS | db_outage (stop) | ha-service-default |") for ln in table)
    assert any("control max-unavailable-all" in ln and "caught: 6 of 277" in ln for ln in table)
    assert any(ln.startswith("| ❌ FAIL | drain | ha-service, control pdb-blocks-drain |")
               and "not caught: 2 pods evicted" in ln for ln in table)
    assert "Skipped (1):" in md and "- upgrade realtime-hpa-tls: realtime-hpa-tls: the Ingress has spec.tls" in md
    assert f"`{os.path.relpath(run_dir / 'upgrade-bad', tmp_path)}/`" in md
    passed = report.render_markdown([r for r in results if gate_status(r) == "PASS"], info(0))
    assert passed.splitlines()[0] == "Gate: PASS — 4 of 4 scenarios passed"


def test_markdown_groups_rows_by_edge():
    """A run through both Traefik edges: each edge's rows together (in the order the edges first
    appear), failures first within each edge."""
    gw = replace(CELL, edge="traefik-gateway")
    results = [rec("upgrade", "realtime", "default", "PASS", "PASS: ok", FIG_OK),
               replace(rec("upgrade", "realtime", "default", "PASS", "PASS: ok", FIG_OK), cell=gw),
               rec("sse", "realtime", "default", "FAIL", "streams were cut", FIG_SSE),
               replace(rec("sse", "realtime", "default", "FAIL", "stream cut at 30.0 s", FIG_SSE), cell=gw)]
    table = [ln for ln in report.render_markdown(results, info(1)).splitlines() if ln.startswith("| ")][1:]
    edges = [ln.split(" | ")[3].rsplit(" · ", 1)[-1] for ln in table]
    assert edges == ["traefik-nginx", "traefik-nginx", "traefik-gateway", "traefik-gateway"]
    assert [ln.split(" | ")[1] for ln in table] == ["sse", "upgrade", "sse", "upgrade"]


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


def test_html_has_one_row_per_test_steps_units_and_embedded_plots(run_dir, tmp_path):
    rep = tmp_path / "report"
    junit = tmp_path / "junit.xml"
    junit.write_text('<testsuites><testsuite name="pytest" tests="0"/></testsuites>')
    written = report.write_report(report.load_results(run_dir), info(1), report_dir=rep, artifacts_dir=run_dir,
                                  junit_sources=[junit])
    # the run's Gantt chart from timings.json, beside the page (report/run-gantt.png)
    assert set(written) == {"html", "markdown", "json", "junit", "gantt"}
    assert written["gantt"] == rep / "run-gantt.png" and written["gantt"].stat().st_size > 0
    page = _Page()
    page.feed((rep / "index.html").read_text())
    assert page.title == "Gate: FAIL — 4 of 7 scenarios passed"
    assert page.external == []  # self-contained: no scripts, stylesheets or remote images
    tables: dict[str, list[list[str]]] = {}
    for cls, rows in page.tables:
        tables.setdefault(cls, []).extend(rows)
    positives = [r for r in tables["rows"] if r and r[0] in report.STATUSES]
    controls = [r for r in tables["rows controls"] if r and r[0] in report.STATUSES]
    # result, scenario, variant (with its cell), the key figures, time, evidence
    assert all(len(r) == 3 + len(report.COLUMNS) + 2 for r in positives + controls)
    cell = "Kubernetes v1.33.1 · helm v3.18.6 · traefik-nginx"
    assert [(r[0], r[1], r[2]) for r in positives] == [
        ("FAIL", "upgrade", f"ha-service-default{cell}"), ("ERROR", "drain", f"realtime-default{cell}"),
        ("PASS", "upgrade", f"realtime-default{cell}"), ("PASS", "db_outage stop", f"ha-service-default{cell}"),
        ("PASS", "sse", f"realtime-default{cell}")]
    assert [(r[0], r[2]) for r in controls] == [("FAIL", f"pdb-blocks-drainon ha-service{cell}"),
                                                ("PASS", f"max-unavailable-allon ha-service{cell}")]
    assert tables["rows"][0][3:3 + len(report.COLUMNS)] == list(report.COLUMNS)
    fail = positives[0]
    assert fail[3].startswith("99.44 %") and fail[4].startswith("10 s") and fail[5].startswith("5.38 s")
    assert positives[3][-2] == "2m14sshared run"  # the shared run's time, longer than the test's own
    # the named steps with their timings, in the details of the rows that have them
    steps = tables["figs steps"]
    assert steps[0] == ["step", "at", "took", "outcome"]
    assert ["helm upgrade to the candidate", "+14 s", "21 s", "ok"] in steps
    assert ["wait for the rollout", "+35 s", "4.0 s", "failed: WaitFailed: 1 pod not Ready"] in steps
    assert sum(1 for r in steps if r[0] == "step") == 2  # pass and fail rows have steps, the others none
    # every figure with its unit
    figs: dict[str, str] = {}
    for r in tables["figs"]:  # the first section's figures (failures come first: the FAIL row's)
        if len(r) == 2:
            figs.setdefault(r[0], r[1])
    assert figs["probe_p99_ms"] == "5.38 s" and figs["requests"] == "355" and figs["failed_requests"] == "2 requests"
    assert figs["shared_run_seconds"] == "2m14s" and figs["probe_success_ratio"] == "99.44 %"
    assert figs["probe_p50_ms"] == "254 ms" and figs["longest_failure_seconds"] == "10 s"
    # plots: the records' PNGs, embedded (upgrade ok: 2, bad: 1, db stop: 1, sse: 1), and the run's Gantt chart
    assert len(page.images) == 6
    for src in page.images:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    diag = os.path.relpath(run_dir / "upgrade-bad", rep) + "/"
    assert diag in page.links and diag.startswith("../artifacts/")
    assert all(f"#{s}" in page.links for s in page.sections)
    assert len(page.sections) == 7  # one detail section per test that ran
    assert "junit.xml" in page.links and (rep / "junit.xml").is_file()
    doc = json.loads((rep / "gate.json").read_text())
    assert doc["exit_code"] == 1 and doc["counts"] == {"PASS": 4, "FAIL": 2, "ERROR": 1, "SKIP": 1}
    assert [r["status"] for r in doc["rows"]] == ["PASS", "FAIL", "SKIP", "PASS", "FAIL", "PASS", "PASS", "ERROR"]
    assert ScenarioResult.from_json({k: v for k, v in doc["rows"][1].items() if k != "status"}) == records()[1]


def test_html_escapes_what_the_scenarios_wrote(tmp_path):
    r = rec("upgrade", "x", "default", "FAIL", '<script>alert("x")</script> & more')
    html = report.render_html([r], info(1), report_dir=tmp_path)
    # jinja2's autoescape (markupsafe) writes a double quote as &#34;, the same character as &quot;
    assert "<script>" not in html and "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; more" in html


def test_html_shows_the_harness_cpu_share_while_it_measured(tmp_path):
    measured = rec("upgrade", "x", "default", "PASS", "PASS: ok", {"harness_cpu_percent": 2.4, "requests": 10})
    unmeasured = rec("drain", "y", "default", "PASS", "PASS: ok", {"requests": 10})
    html = report.render_html([measured, unmeasured], info(0), report_dir=tmp_path)
    assert html.count("harness CPU while measuring") == 1
    assert "harness CPU while measuring: 2.4 % of the machine" in html


FIG_SERVED = {"attribution": "traefik access log", "attributed_requests": 298, "unattributed_requests": 2,
              "unattributed_reasons": "answered by the edge x2", "served_by_old_requests": 120,
              "served_by_new_requests": 178, "served_spans": "old 0.0-10.8 s, new 4.6-15.0 s",
              "mixed_serving_seconds": 6.0, "old_after_rollout_requests": 0, "old_pods_with_traffic_count": 2,
              "old_pod_last_request_margin_s": 4.1, "old_after_termination_requests": 0}


def test_who_served_is_one_line_from_the_attribution_figures():
    assert attribution_summary(figures_from(FIG_SERVED)) == (
        "served (edge log): old 0.0-10.8 s, new 4.6-15.0 s · 120 to old pods, 178 to new · "
        "2 not attributed (answered by the edge x2) · closest old pod: last request 4.1 s before it terminated")
    late = attribution_summary(figures_from({**FIG_SERVED, "old_pod_last_request_margin_s": -2.0,
                                             "old_after_rollout_requests": 3, "unattributed_requests": 0}))
    assert "3 to old pods after the rollout completed" in late and "last request 2.0 s after it terminated" in late
    assert "not attributed" not in late
    assert attribution_summary(figures_from({"attribution": "unavailable: the edge is ingress-nginx"})) == \
        "served (edge log): unavailable: the edge is ingress-nginx"
    assert attribution_summary(figures_from({"requests": 10})) == ""


def test_html_says_who_served_each_upgrade(tmp_path):
    served = rec("upgrade", "x", "default", "PASS", "PASS: ok", {**FIG_SERVED, "requests": 300})
    other = rec("drain", "y", "default", "PASS", "PASS: ok", {"requests": 10})
    html = report.render_html([served, other], info(0), report_dir=tmp_path)
    assert html.count('<p class="served">') == 1
    assert "served (edge log): old 0.0-10.8 s, new 4.6-15.0 s · 120 to old pods, 178 to new" in html


# --------------------------------------------------------------------------- what produced the report


def described(code: int = 0) -> report.GateInfo:
    i = info(code)
    i.harness_version = "0.1.0"
    i.versions = {"helm": "v4.3.2", "kind": "v0.33.0", "kubectl": "v1.37.2", "kubernetes": "v1.37.2"}
    i.edges = ["traefik-nginx", "traefik-gateway"]
    i.image_source = "auto (pull here)"
    i.images = [{"image": "kindest/node:v1.37.0@sha256:a1", "use": "kind node", "source": "pulled by digest"},
                {"image": "traefik:v3.7.12", "use": "traefik", "source": "pulled by the nodes"}]
    i.contracts = [{"chart": "realtime", "path": "charts/realtime/harness-contract.yaml", "sha256": "ab" * 32}]
    i.shard = "1/2"
    return i


class _Block(HTMLParser):
    """The text of the element with id="versions" and its position among the page's first elements."""

    def __init__(self) -> None:
        super().__init__()
        self.depth = 0
        self.text: list[str] = []
        self.order: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag in ("header", "table", "h2", "section") or a.get("id") == "versions":
            self.order.append(a.get("id") or tag)
        if self.depth or a.get("id") == "versions":
            self.depth += 1

    def handle_endtag(self, tag):
        if self.depth:
            self.depth -= 1

    def handle_data(self, data):
        if self.depth:
            self.text.append(data)


def test_the_first_screen_says_what_produced_the_report(run_dir, tmp_path):
    rep = tmp_path / "report"
    report.write_report(report.load_results(run_dir), described(1), report_dir=rep, artifacts_dir=run_dir)
    block = _Block()
    block.feed((rep / "index.html").read_text())
    # right below the verdict header, before the first table
    assert block.order[:2] == ["header", "versions"] and block.order.index("h2") > 1
    text = " ".join("".join(block.text).split())
    for fact in ("harness0.1.0", "helmv4.3.2", "kindv0.33.0", "kubectlv1.37.2", "Kubernetesv1.37.2",
                 "edgestraefik-nginx, traefik-gateway", "image sourceauto (pull here)",
                 f"contract realtimesha256 {'ab' * 32} (charts/realtime/harness-contract.yaml)", "shard1/2",
                 "traefik:v3.7.12traefikpulled by the nodes", "kind nodepulled by digest"):
        assert fact in text, fact
    doc = json.loads((rep / "gate.json").read_text())
    assert doc["info"]["versions"]["kind"] == "v0.33.0" and doc["info"]["harness_version"] == "0.1.0"
    assert doc["info"]["images"][1] == {"image": "traefik:v3.7.12", "use": "traefik", "source": "pulled by the nodes"}
    assert doc["info"]["contracts"][0]["sha256"] == "ab" * 32 and doc["info"]["shard"] == "1/2"
    md = (rep / "summary.md").read_text().splitlines()
    assert md[4] == ("harness 0.1.0 · helm v4.3.2 · kind v0.33.0 · kubectl v1.37.2 · Kubernetes v1.37.2 · edges "
                     "traefik-nginx, traefik-gateway · image source auto (pull here) · contract realtime sha256 "
                     f"`{'ab' * 6}` · shard 1/2")


def test_a_report_without_provenance_has_no_versions_block(tmp_path):
    html = report.render_html([], info(3), report_dir=tmp_path)
    assert 'id="versions"' not in html
    assert not any(ln.startswith("harness ") for ln in report.render_markdown([], info(3)).splitlines())


def test_the_run_gantt_chart_is_embedded_and_named_only_for_a_fresh_timings_record(run_dir, tmp_path):
    rep = tmp_path / "report"
    report.write_report(report.load_results(run_dir), info(1), report_dir=rep, artifacts_dir=run_dir)
    html, md = (rep / "index.html").read_text(), (rep / "summary.md").read_text()
    assert "Where the time went" in html and 'alt="run-gantt.png"' in html
    assert "Where the time went (one bar per test and step): `report/run-gantt.png`" in md
    # a timings.json older than the run is not this run's: no chart, and the previous one removed
    written = report.write_report(report.load_results(run_dir), info(1), report_dir=rep, artifacts_dir=run_dir,
                                  since=(run_dir / "timings.json").stat().st_mtime + 60)
    assert "gantt" not in written and not (rep / "run-gantt.png").exists()
    assert "Where the time went" not in (rep / "index.html").read_text()
    assert "run-gantt.png" not in (rep / "summary.md").read_text()
