"""tests/unit/conftest.py's guard: a unit test that starts a program fails, pointing to tests/integration."""
from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import pytest


def test_subprocess_run_is_refused_with_the_way_out():
    with pytest.raises(AssertionError, match=r"belongs in tests/integration: this test started \['true'\]"):
        subprocess.run(["true"], check=False)


def test_asyncio_subprocesses_and_os_system_are_refused():
    with pytest.raises(AssertionError, match="tests/integration"):
        asyncio.run(asyncio.create_subprocess_exec(sys.executable, "-c", "pass"))
    with pytest.raises(AssertionError, match="tests/integration"):
        os.system("true")
