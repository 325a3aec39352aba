"""db_outage, collected from this repository (`pytest scenarios/db_outage`, `make e2e`): the test module ships in
the package as harness/scenarios/db_outage/test_db_outage.py (`pytest --pyargs harness.scenarios.db_outage`); pytest
collects its SCENARIO, tests and fixtures from this module's namespace."""
from harness.scenarios.db_outage.test_db_outage import *  # noqa: F403 - the scenario module, re-exported for collection here
