"""The pytest layer: options, fixtures and hooks that call the harness library.

Registered through the ``pytest11`` entry point ``harness = "harness.plugin"``; the modules listed
below are loaded with it (pytest honours ``pytest_plugins`` in a registered plugin module).
"""
pytest_plugins = ["harness.plugin.session", "harness.plugin.results", "harness.plugin.scenarios",
                  "harness.plugin.registry", "harness.plugin.parallel"]
