"""drain: can an operator drain a node running the chart's replicas while users are served?

The procedure, its steps and its pass criteria: harness/scenario/drain.py.
"""
from harness.plugin.results import check_verdict
from harness.plugin.shared_run import scenario_test
from harness.scenario.drain import run_drain

SCENARIO = "drain"
# taken exclusively under pytest-xdist: a worker node, cordoned and drained (drains wait for each other;
# docs/parallel.md)
EXCLUSIVE = ("node",)


def test_drain(target, scenario_ctx):
    check_verdict(scenario_test(run_drain, scenario_ctx(target)), target, SCENARIO)


def test_drain_catches_broken(broken_target, scenario_ctx):
    check_verdict(scenario_test(run_drain, scenario_ctx(broken_target)), broken_target, SCENARIO)
