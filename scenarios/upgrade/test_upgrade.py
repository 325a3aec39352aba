"""upgrade: do users of the released chart keep being served while they upgrade to the candidate?

The procedure, its steps and its pass criteria: harness/scenario/upgrade.py.
"""
from harness.plugin.results import check_verdict
from harness.plugin.shared_run import scenario_test
from harness.scenario.upgrade import run_upgrade

SCENARIO = "upgrade"


def test_upgrade(target, scenario_ctx):
    check_verdict(scenario_test(run_upgrade, scenario_ctx(target)), target, SCENARIO)


def test_upgrade_catches_broken(broken_target, scenario_ctx):
    check_verdict(scenario_test(run_upgrade, scenario_ctx(broken_target)), broken_target, SCENARIO)
