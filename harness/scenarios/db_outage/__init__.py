"""The db_outage scenario's pytest module (test_db_outage.py): `pytest --pyargs harness.scenarios.db_outage`."""
