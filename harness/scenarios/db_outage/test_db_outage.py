"""db_outage: when PostgreSQL goes away, does the chart take its pods out of service -- without
restarting them -- and bring them back when the database returns?

The procedure, its steps and its pass criteria: harness/scenario/db_outage.py. The database is one
server for the whole cluster, so one outage per fault serves every selected chart (a shared run);
each (chart, fault) test gets its own verdict.
"""
import pytest

from harness.plugin.results import check_verdict
from harness.plugin.shared_run import SharedRun, shared_test
from harness.scenario import db_outage

SCENARIO = "db_outage"
# taken exclusively under pytest-xdist: the PostgreSQL server it stops (outages wait for each other;
# docs/parallel.md)
EXCLUSIVE = ("postgres",)
FAULTS = db_outage.FAULTS


@pytest.fixture(scope="module")
def outage_run(request, scenario_env):
    run = SharedRun(request, scenario_env, SCENARIO, db_outage.prepare, db_outage.run_outage)
    yield run
    run.finish()


def test_db_outage(request, target, fault, outage_run):
    check_verdict(shared_test(request, outage_run, target, fault), target, SCENARIO)


def test_db_outage_catches_broken(request, broken_target, fault, outage_run):
    check_verdict(shared_test(request, outage_run, broken_target, fault), broken_target, SCENARIO)
