"""harness/tools/exec.py counts the processes it starts, per tool, for "did anything spawn helm?" checks."""
from __future__ import annotations

import os
import shutil
import sys
import threading

import pytest

from harness.core.errors import EnvironmentNotReady
from harness.tools.exec import run, started, started_since


def test_counts_each_started_process_by_tool_basename():
    tool = os.path.basename(sys.executable)
    before = started()
    run([sys.executable, "-c", "pass"])
    run([sys.executable, "-c", "import sys; sys.exit(3)"], check=False)
    assert started_since(before) == {tool: 2}
    assert started()[tool] == before.get(tool, 0) + 2


def test_a_missing_executable_starts_nothing():
    before = started()
    with pytest.raises(EnvironmentNotReady):
        run(["/nonexistent/helm", "version"])
    assert started_since(before) == {}


def test_a_killed_process_was_started():
    sleep = shutil.which("sleep") or pytest.skip("no sleep(1) on PATH")
    before = started()
    with pytest.raises(Exception, match="killed after"):
        run([sleep, "5"], timeout=0.2)
    assert started_since(before) == {"sleep": 1}


def test_the_snapshot_is_a_copy_and_counting_is_thread_safe():
    tool = os.path.basename(sys.executable)
    before = started()
    snap = started()
    snap[tool] = -100  # changing a snapshot changes nothing
    threads = [threading.Thread(target=lambda: [run([sys.executable, "-c", "pass"]) for _ in range(3)])
               for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert started_since(before) == {tool: 12}
