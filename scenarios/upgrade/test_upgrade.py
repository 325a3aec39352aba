"""upgrade, collected from this repository (`pytest scenarios/upgrade`, `make e2e`): the test module ships in
the package as harness/scenarios/upgrade/test_upgrade.py (`pytest --pyargs harness.scenarios.upgrade`); pytest
collects its SCENARIO, tests and fixtures from this module's namespace."""
from harness.scenarios.upgrade.test_upgrade import *  # noqa: F403 - the scenario module, re-exported for collection here
