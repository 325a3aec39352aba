"""``python -m harness config --helm PATH``: a bad helm path is one line, exit 2 (the option itself:
tests/unit/test_helm_option.py)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_cli_reports_a_bad_helm_with_exit_2(tmp_path):
    res = subprocess.run([sys.executable, "-m", "harness", "config", "--helm", str(tmp_path / "nope")],
                         capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert res.returncode == 2
    assert f"helm (option): {tmp_path / 'nope'} does not exist" in res.stderr
    assert "Traceback" not in res.stderr
