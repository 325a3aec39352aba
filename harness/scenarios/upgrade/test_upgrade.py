"""upgrade: do users of the released chart keep being served while they upgrade to the candidate?

The procedure, its steps and its pass criteria: harness/scenario/upgrade.py. With ``--helm-from 3``
the positive test runs twice per target: ``same-helm``, and ``from-helm3`` (the released chart
installed by the pinned Helm 3, upgraded by the helm under test: a row of its own).
"""
from harness.plugin.results import check_verdict
from harness.plugin.shared_run import scenario_test
from harness.scenario.upgrade import run_upgrade

SCENARIO = "upgrade"


def test_upgrade(target, scenario_ctx, helm_from):
    ctx = scenario_ctx(target, helm_from=helm_from)
    check_verdict(scenario_test(run_upgrade, ctx), target, SCENARIO)
    # the harness's own promise: once `helm upgrade` returned, it observes without starting helm
    spawned = ctx.result.figures["helm_processes_after_upgrade_count"].value
    assert spawned == 0, f"the harness started {spawned} helm processes while it measured the rollout"


def test_upgrade_catches_broken(broken_target, scenario_ctx):
    check_verdict(scenario_test(run_upgrade, scenario_ctx(broken_target)), broken_target, SCENARIO)
