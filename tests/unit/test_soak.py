"""ci/soak.py's aggregation (pure): unexpected results across runs, pass and fail."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from harness.scenario.result import ScenarioResult

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("soak", ROOT / "ci/soak.py")
soak = importlib.util.module_from_spec(_spec)
sys.modules["soak"] = soak
_spec.loader.exec_module(soak)


def rec(test_id: str, outcome: str, *, control: str | None = None, reason: str = "", expected: str | None = None,
        scenario: str = "upgrade") -> ScenarioResult:
    return ScenarioResult(scenario=scenario, chart="ha-service", variant="default", control=control, outcome=outcome,
                          reason=reason, test_id=test_id, expected_reason=expected)


GOOD = (rec("up-pos", "PASS"), rec("up-neg", "FAIL", control="slow", reason="availability 80% < 99%",
                                   expected="availability"))


def run(i: int, results, rc: int = 0, seconds: float = 600.0):
    return soak.SoakRun(i, seconds, rc, None if results is None else tuple(results))


def test_five_clean_runs_have_no_unexpected_result():
    s = soak.aggregate([run(i, GOOD) for i in range(1, 6)])
    assert s.unexpected == 0 and [t.statuses for t in s.tests] == [["PASS"] * 5, ["PASS"] * 5]
    assert s.by_scenario() == {"upgrade": 0}
    md = soak.render_markdown(s, command="make soak N=5")
    assert "**Unexpected results: 0**" in md and "| 3 | 600 s | 0 | 2 |" in md


def test_a_failed_positive_and_a_passed_control_are_unexpected():
    bad = (rec("up-pos", "FAIL", reason="availability 97%"), rec("up-neg", "PASS", control="slow"))
    s = soak.aggregate([run(1, GOOD), run(2, bad, rc=1)])
    assert s.unexpected == 2
    pos, neg = s.tests
    assert pos.statuses == ["PASS", "FAIL"] and pos.unexpected == ["run 2: FAIL: availability 97%"]
    assert neg.statuses == ["PASS", "FAIL"] and neg.unexpected == ["run 2: negative control not caught"]
    md = soak.render_markdown(s, command="make soak N=2")
    assert "## Unexpected results" in md and "run 2: negative control not caught" in md


def test_a_control_caught_for_another_reason_and_an_error_are_unexpected():
    other = (rec("up-pos", "ERROR", reason="step 'install released' failed"),
             rec("up-neg", "FAIL", control="slow", reason="timeout", expected="availability"))
    s = soak.aggregate([run(1, other)])
    assert s.unexpected == 2 and [t.statuses for t in s.tests] == [["ERROR"], ["FAIL"]]


def test_skips_are_not_unexpected_but_missing_tests_and_runs_without_records_are():
    s = soak.aggregate([run(1, GOOD), run(2, [rec("up-pos", "SKIP")]), run(3, None, rc=3)])
    pos, neg, lost = s.tests
    assert pos.statuses == ["PASS", "SKIP", "missing"] and pos.failures == 0
    assert neg.unexpected == ["run 2: missing"]
    assert lost.key == "(run 3: no scenarios.json)" and lost.failures == 1
    assert s.unexpected == 2
    assert soak.to_json(s)["unexpected"] == 2


def test_records_are_matched_by_test_id_else_by_target():
    a = rec("", "PASS")
    assert soak.record_key(a) == "upgrade ha-service-default"
    assert soak.record_key(rec("scenarios/upgrade/test_upgrade.py::x", "PASS")) == "scenarios/upgrade/test_upgrade.py::x"
