"""The rollback scenario's pytest module (test_rollback.py): `pytest --pyargs harness.scenarios.rollback`."""
