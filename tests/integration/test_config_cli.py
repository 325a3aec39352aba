"""`python -m harness config` as a command: exit codes."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_cli_config_command_exit_codes(tmp_path):
    ok = subprocess.run([sys.executable, "-m", "harness", "config", "--rootdir", str(tmp_path), "--cluster-name",
                         "abc", "--format", "json"], capture_output=True, text=True, cwd=ROOT)
    assert ok.returncode == 0, ok.stderr
    assert '"cluster-name": "abc"' in ok.stdout
    bad = subprocess.run([sys.executable, "-m", "harness", "config", "--rootdir", str(tmp_path)],
                         capture_output=True, text=True, cwd=ROOT,
                         env={**__import__("os").environ, "HARNESS_KEEP_CLUSTER": "maybe"})
    assert bad.returncode == 2
    assert bad.stderr.strip() == ("harness: error: keep-cluster (env HARNESS_KEEP_CLUSTER): 'maybe' is not one of "
                                  "never, on-failure, always")
