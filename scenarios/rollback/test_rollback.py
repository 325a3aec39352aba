"""rollback, collected from this repository (`pytest scenarios/rollback`, `make e2e`): the test module ships in
the package as harness/scenarios/rollback/test_rollback.py (`pytest --pyargs harness.scenarios.rollback`); pytest
collects its SCENARIO, tests and fixtures from this module's namespace."""
from harness.scenarios.rollback.test_rollback import *  # noqa: F403 - the scenario module, re-exported for collection here
