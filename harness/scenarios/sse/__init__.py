"""The sse scenario's pytest module (test_sse.py): `pytest --pyargs harness.scenarios.sse`."""
