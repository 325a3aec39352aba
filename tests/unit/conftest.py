"""Unit tests are pure: no subprocess (helm, go build, docker, a pytest subprocess), no network beyond
127.0.0.1 servers the test starts in-process. The guard below keeps that true; tests that need a
program belong in tests/integration."""
from __future__ import annotations

import pytest

# --- the unit folder stays pure: no subprocesses (helm, go build, pytester's runpytest_subprocess) ---

_MOVE_HINT = ("unit tests start no subprocess (tests/unit must stay fast and pure); a test that runs "
              "helm, go build, a pytest subprocess or any other program belongs in tests/integration")


class _NoSubprocess:
    """Stands in for subprocess.Popen (which subprocess.run/check_output and asyncio use too)."""

    def __init__(self, args, *rest, **kwargs):
        raise AssertionError(f"{_MOVE_HINT}: this test started {args!r}")


def _refuse(name: str):
    def refuse(*args, **kwargs):
        raise AssertionError(f"{_MOVE_HINT}: this test called os.{name}{args[:1]!r}")
    return refuse


@pytest.fixture(scope="session", autouse=True)
def _matplotlib_font_cache() -> None:
    """matplotlib builds its font cache (~/.cache/matplotlib) the first time it is imported on a machine,
    and building it runs `fc-list`: on a fresh machine the Gantt tests failed on that. Load it once
    here, before the guard, so the unit tests themselves still start nothing."""
    try:
        import matplotlib.font_manager  # noqa: F401
    except ImportError:  # the tests that draw charts skip without matplotlib
        pass


@pytest.fixture(autouse=True)
def _no_subprocess(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail any unit test that starts a process: subprocess.Popen (the root of subprocess.run,
    check_output and asyncio's subprocesses), os.system and the os spawn/exec family."""
    import os
    import subprocess

    monkeypatch.setattr(subprocess, "Popen", _NoSubprocess)
    for name in ("system", "posix_spawn", "posix_spawnp", "execv", "execve", "execvp", "execvpe"):
        if hasattr(os, name):
            monkeypatch.setattr(os, name, _refuse(name))
