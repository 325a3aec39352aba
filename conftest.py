"""Root conftest: load the harness plugin when the package is not installed (no pytest11 entry
point yet, e.g. a fresh checkout run with `python -m pytest`), and pytester for the plugin's own
tests in tests/integration. Loading it twice would fail, so the entry point is checked first."""
from importlib.metadata import entry_points


def _installed() -> bool:
    return any(ep.value == "harness.plugin" for ep in entry_points(group="pytest11"))


pytest_plugins = ["pytester"] + ([] if _installed() else ["harness.plugin"])
