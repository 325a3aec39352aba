"""The nightly workflow (.github/workflows/nightly.yml) checked by actionlint (with shellcheck when present)."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


WORKFLOW = ROOT / ".github" / "workflows" / "nightly.yml"


def _actionlint() -> str | None:
    """actionlint on PATH, else where `go install github.com/rhysd/actionlint/cmd/actionlint@latest` puts it."""
    found = shutil.which("actionlint")
    if found:
        return found
    gopath = os.environ.get("GOPATH") or str(Path.home() / "go")
    for d in [os.environ.get("GOBIN", ""), *(str(Path(p) / "bin") for p in gopath.split(os.pathsep))]:
        if d and (Path(d) / "actionlint").is_file():
            return str(Path(d) / "actionlint")
    return None


def test_actionlint_accepts_the_workflow():
    binary = _actionlint()
    if binary is None:
        pytest.skip("actionlint not installed: go install github.com/rhysd/actionlint/cmd/actionlint@latest")
    r = subprocess.run([binary, "-color=false", str(WORKFLOW)], capture_output=True, text=True, cwd=ROOT,
                       timeout=120, check=False)
    assert r.returncode == 0, r.stdout + r.stderr
