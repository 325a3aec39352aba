"""The upgrade scenario's pytest module (test_upgrade.py): `pytest --pyargs harness.scenarios.upgrade`."""
