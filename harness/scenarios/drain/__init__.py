"""The drain scenario's pytest module (test_drain.py): `pytest --pyargs harness.scenarios.drain`."""
