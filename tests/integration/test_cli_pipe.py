"""`python -m harness config | head -1` is quiet: no BrokenPipeError traceback (harness/__main__.py)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_a_closed_pipe_ends_the_command_quietly(tmp_path):
    """The reader is gone before the first byte is written: every write fails with EPIPE (Python
    ignores SIGPIPE), deterministically, unlike `| head`, where it depends on timing."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        out = subprocess.run([sys.executable, "-m", "harness", "config", "--rootdir", str(tmp_path)],
                             stdout=write_end, stderr=subprocess.PIPE, text=True, cwd=ROOT, timeout=60)
    finally:
        os.close(write_end)
    assert out.stderr == ""
    assert out.returncode == 141


def test_piping_into_head_prints_the_first_line_and_nothing_else(tmp_path):
    script = f"set -o pipefail; {sys.executable} -m harness config --rootdir {tmp_path} | head -1"
    out = subprocess.run(["bash", "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert out.stdout == "# config file: (none)\n"
    assert out.stderr == ""
    assert out.returncode in (0, 141)  # 141 when head left before the harness flushed


def test_the_closed_pipe_handling_does_not_hide_a_usage_error(tmp_path):
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        out = subprocess.run([sys.executable, "-m", "harness", "config", "--rootdir", str(tmp_path)],
                             stdout=write_end, stderr=subprocess.PIPE, text=True, cwd=ROOT, timeout=60,
                             env={**os.environ, "HARNESS_KEEP_CLUSTER": "maybe"})
    finally:
        os.close(write_end)
    assert out.returncode == 2
    assert out.stderr.startswith("harness: error: keep-cluster (env HARNESS_KEEP_CLUSTER)")
