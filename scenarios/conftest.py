"""The scenarios' fixtures and hooks live in the harness's pytest plugin (harness/plugin/scenarios.py),
loaded with it; nothing is defined here."""
