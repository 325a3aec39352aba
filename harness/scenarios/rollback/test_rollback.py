"""rollback: when an upgrade to the candidate goes wrong, does ``helm rollback`` bring the released

The procedure, its steps and its pass criteria: harness/scenario/rollback.py.
"""
from harness.plugin.results import check_verdict
from harness.plugin.shared_run import scenario_test
from harness.scenario.rollback import run_rollback

SCENARIO = "rollback"


def test_rollback(target, scenario_ctx):
    check_verdict(scenario_test(run_rollback, scenario_ctx(target)), target, SCENARIO)


def test_rollback_catches_broken(broken_target, scenario_ctx):
    check_verdict(scenario_test(run_rollback, scenario_ctx(broken_target)), broken_target, SCENARIO)
