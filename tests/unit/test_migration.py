"""The migration diff between edges (harness/report/migration.py) and its place in the report."""
from __future__ import annotations

import json

from harness.report import migration
from harness.report.render import GateInfo, render_html, render_markdown, write_report
from harness.scenario.result import Cell, ScenarioResult, figures_from

NGINX = Cell("v1.37.2", "v4.3.2", "traefik-nginx")
GATEWAY = Cell("v1.37.2", "v4.3.2", "traefik-gateway")


def rec(scenario: str, cell: Cell, outcome: str = "PASS", figures: dict | None = None, *, control: str | None = None,
        reason: str = "PASS: fine") -> ScenarioResult:
    return ScenarioResult(scenario, "realtime", "realtime-default", control, outcome, reason, cell=cell,
                          figures=figures_from(figures or {}))


SSE = {"hold_cut_kinds": None, "hold_disconnects": 0, "held_responses": 0, "rollout_disconnects": 3,
       "rollout_max_reconnect_s": 2.1, "rollout_missed_ids": 0}


def test_one_edge_has_no_diff():
    assert migration.migration_diff([rec("sse", NGINX, figures=SSE)]) == []
    assert migration.markdown_section([rec("sse", NGINX, figures=SSE)]) == []


def test_same_behaviour_through_both_edges_is_one_line():
    results = [rec("sse", NGINX, figures=SSE), rec("sse", GATEWAY, figures={**SSE, "rollout_max_reconnect_s": 2.9})]
    assert migration.migration_diff(results) == []  # 0.8 s apart: within the slack
    text = "\n".join(migration.markdown_section(results))
    assert "traefik-nginx → traefik-gateway" in text and "No behaviour differs" in text and "1 tests" in text


def test_a_total_deadline_through_the_gateway_is_listed_with_both_values():
    gw = {**SSE, "hold_cut_kinds": "total deadline x3", "hold_disconnects": 3, "rollout_max_reconnect_s": 9.5}
    results = [rec("sse", NGINX, figures=SSE),
               rec("sse", GATEWAY, "FAIL", gw, reason="FAIL: stream cut at 30.0 s while receiving data: total deadline")]
    diffs = migration.migration_diff(results)
    whats = [d.what for d in diffs]
    assert whats == ["verdict", "stream cuts during the hold", "stream disconnects during the hold", "longest reconnect (s)"]
    verdict = dict(diffs[0].values)
    assert verdict["traefik-nginx"].startswith("PASS") and "total deadline" in verdict["traefik-gateway"]
    assert dict(diffs[1].values) == {"traefik-nginx": "–", "traefik-gateway": "total deadline x3"}
    assert dict(diffs[3].values) == {"traefik-nginx": "2.1", "traefik-gateway": "9.5"}
    md = "\n".join(migration.markdown_section(results))
    assert "4 behaviours differ in 1 of 1 tests" in md and "| sse realtime-default | verdict |" in md


def test_an_error_through_one_edge_is_its_verdict_only_and_names_the_chart():
    ok = ScenarioResult("upgrade", "ha-service", "tls", None, "PASS", "PASS: 488 requests", cell=NGINX,
                        figures=figures_from({"release_status": "deployed", "failed_requests": 0}))
    err = ScenarioResult("upgrade", "ha-service", "tls", None, "ERROR", "WaitFailed: HTTP 308", cell=GATEWAY)
    (d,) = migration.migration_diff([ok, err])
    assert d.test == "upgrade ha-service-tls" and d.what == "verdict"
    assert dict(d.values)["traefik-gateway"].startswith("ERROR: WaitFailed")


def test_counts_differ_at_all_and_status_codes_by_text():
    a = rec("upgrade", NGINX, figures={"failed_requests": 0, "failure_classes": ""})
    b = rec("upgrade", GATEWAY, figures={"failed_requests": 1, "failure_classes": "502 x1"})
    assert [d.what for d in migration.migration_diff([a, b])] == ["failed requests by class (status codes)",
                                                                  "failed requests"]


def test_controls_are_matched_to_their_own_runs_only():
    caught = "FAIL: stream cut at 60.0 s after 60.0 s of silence: idle timeout"
    results = [rec("sse", NGINX, "FAIL", control="no-heartbeat", reason=caught),
               rec("sse", GATEWAY, "PASS", control="no-heartbeat"),
               rec("sse", NGINX, figures=SSE)]  # the positive test ran through one edge only: not compared
    diffs = migration.migration_diff(results)
    assert len(diffs) == 1 and diffs[0].test == "sse realtime-default, control no-heartbeat"
    # gate status: the control caught through nginx (PASS), not caught through the gateway (FAIL)
    vals = dict(diffs[0].values)
    assert vals["traefik-nginx"].startswith("PASS") and vals["traefik-gateway"].startswith("FAIL")
    assert migration.compared_tests(results) == 1


def test_report_shows_the_diff_in_markdown_html_and_gate_json(tmp_path):
    results = [rec("upgrade", NGINX, figures={"failed_requests": 0}),
               rec("upgrade", GATEWAY, figures={"failed_requests": 4})]
    info = GateInfo(exit_code=0)
    assert "### Migration diff: traefik-nginx → traefik-gateway" in render_markdown(results, info)
    page = render_html(results, info, report_dir=tmp_path)
    assert "Migration diff: traefik-nginx → traefik-gateway" in page and "<td>failed requests</td>" in page
    write_report(results, info, report_dir=tmp_path / "r")
    doc = json.loads((tmp_path / "r" / "gate.json").read_text())
    assert doc["migration_diff"]["edges"] == ["traefik-nginx", "traefik-gateway"]
    assert doc["migration_diff"]["differences"] == [
        {"test": "upgrade realtime-default", "behaviour": "failed requests",
         "values": {"traefik-nginx": "0", "traefik-gateway": "4"}}]
