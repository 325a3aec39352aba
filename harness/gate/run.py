"""Running the scenarios: the pytest command line for a plan, the pytest subprocess, and the
status file its ``-p harness.gate.plugin`` half leaves for the gate."""
from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from harness.core.packaged import package_path
from harness.gate.plan import ROOT, Plan

SCENARIOS_DIR = ROOT / "scenarios" if ROOT else package_path("scenarios")
"""The scenario folders pytest runs: the checkout's ``scenarios/`` (whose modules re-export the
package's, so test ids stay ``scenarios/<name>/...``), else the installed package's ``harness/scenarios/``."""


def build_pytest_argv(plan: Plan, *, status: Path, started: float, scenarios_dir: Path | None = None) -> list[str]:
    """The pytest command line for ``plan`` (the selected scenario folders, this module as a plugin)."""
    scenarios_dir = scenarios_dir or SCENARIOS_DIR  # read at call time (tests point it elsewhere)
    paths = [str(scenarios_dir / s) for s in plan.scenarios if (scenarios_dir / s).is_dir()] or [str(scenarios_dir)]
    argv = [sys.executable, "-m", "pytest", *paths, "-p", "harness.gate.plugin", f"--gate-status={status}",
            f"--gate-started={started:.3f}", f"--gate-scenarios={','.join(plan.scenarios)}", "-q", "-rfEs",
            "--harness-no-chart-check"]  # the preflight ran the chart check already (harness/gate/preflight.py)
    if plan.controls:
        argv.append("--gate-controls")
    if plan.shard is not None:
        argv.append(f"--gate-shard={plan.shard}")
    return argv + plan.forwarded + plan.pytest_args


def run_pytest(argv: Sequence[str], *, cwd: Path | None = None, status: Path) -> tuple[int, dict[str, Any]]:
    """Run pytest, its output going straight to this terminal; returns (exit code, the plugin's status).

    Ctrl-C reaches pytest too (same process group): it is given 60 s to finish its teardown."""
    proc = subprocess.Popen(list(argv), cwd=cwd)
    try:
        rc = proc.wait()
    except KeyboardInterrupt:
        try:
            rc = proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            rc = proc.wait()
        st = read_status(status)
        st.setdefault("exit", {"kind": "KeyboardInterrupt", "returncode": rc, "message": "interrupted"})
        return rc, st
    return rc, read_status(status)


def read_status(path: Path) -> dict[str, Any]:
    """The plugin's status document ({} when it left none or it is unreadable)."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
