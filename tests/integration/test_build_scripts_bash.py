"""Runs bash over the project's scripts (a subprocess: integration, not unit). Split from test_build_scripts.py."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = sorted([*ROOT.glob("images/*.sh"), ROOT / "images/build/kubernetes/new-wrapper.sh", ROOT / "ci/provision-host.sh"])


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_bash_syntax(script):
    out = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
