"""drain, collected from this repository (`pytest scenarios/drain`, `make e2e`): the test module ships in
the package as harness/scenarios/drain/test_drain.py (`pytest --pyargs harness.scenarios.drain`); pytest
collects its SCENARIO, tests and fixtures from this module's namespace."""
from harness.scenarios.drain.test_drain import *  # noqa: F403 - the scenario module, re-exported for collection here
