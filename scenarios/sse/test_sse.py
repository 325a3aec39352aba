"""sse, collected from this repository (`pytest scenarios/sse`, `make e2e`): the test module ships in
the package as harness/scenarios/sse/test_sse.py (`pytest --pyargs harness.scenarios.sse`); pytest
collects its SCENARIO, tests and fixtures from this module's namespace."""
from harness.scenarios.sse.test_sse import *  # noqa: F403 - the scenario module, re-exported for collection here
