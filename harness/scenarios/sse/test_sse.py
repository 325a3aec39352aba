"""sse: do event streams through the ingress survive a quiet period longer than a proxy's read
timeout, and a rolling update of the pods serving them?

The procedure, its steps and its pass criteria: harness/scenario/sse.py. All selected charts hold
their streams in the same window (a shared run); each test still gets its own verdict.
"""
import pytest

from harness.plugin.results import check_verdict
from harness.plugin.shared_run import SharedRun, shared_test
from harness.scenario import sse

SCENARIO = "sse"


@pytest.fixture(scope="module")
def sse_run(request, scenario_env):
    run = SharedRun(request, scenario_env, SCENARIO, sse.prepare, sse.run_shared, release=sse.release)
    yield run
    run.finish()


def test_sse(request, target, sse_run):
    check_verdict(shared_test(request, sse_run, target), target, SCENARIO)


def test_sse_catches_broken(request, broken_target, sse_run):
    check_verdict(shared_test(request, sse_run, broken_target), broken_target, SCENARIO)
