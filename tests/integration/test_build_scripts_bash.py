"""Runs bash and shellcheck over the project's shell scripts (subprocesses: integration, not unit).

The list is tests/scripts.py's (images/, ci/, charts-under-test/, .ci/run); the early-exiting-reader
check over the same files is the pure tests/unit/test_build_scripts.py. shellcheck comes from
Debian's ``shellcheck`` package, which ci/provision-host.sh installs for .ci/run; elsewhere the test
is skipped with the reason printed. Settings (source following, the one disabled code) are in the
repository's .shellcheckrc.
"""
from __future__ import annotations

import shutil
import subprocess

import pytest
from scripts import ROOT, shell_scripts

SCRIPTS = shell_scripts()


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_bash_syntax(script):
    out = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr


def test_shellcheck_finds_nothing_at_warning_level():
    shellcheck = shutil.which("shellcheck")
    if shellcheck is None:
        pytest.skip("shellcheck is not installed (Debian: apt-get install shellcheck; ci/provision-host.sh "
                    "installs it for .ci/run)")
    # -x: follow `source` lines (.shellcheckrc: relative to the script); gcc format: file:line:col: ...
    out = subprocess.run([shellcheck, "-x", "-S", "warning", "-f", "gcc", *map(str, SCRIPTS)], cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    findings = out.stdout.replace(f"{ROOT}/", "").strip()
    assert out.returncode == 0 and not findings, findings or out.stderr


def test_shellcheck_reports_file_and_line(tmp_path):
    """The check can fail: a script with an unquoted, unassigned variable is reported with its line."""
    shellcheck = shutil.which("shellcheck")
    if shellcheck is None:
        pytest.skip("shellcheck is not installed (Debian: apt-get install shellcheck)")
    bad = tmp_path / "bad.sh"
    bad.write_text("#!/usr/bin/env bash\nset -euo pipefail\nprobe() { echo \"$@\"; }\nprobe\n"
                   "cd $undefined_dir\n")
    out = subprocess.run([shellcheck, "-S", "warning", "-f", "gcc", str(bad)], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode != 0
    assert f"{bad}:5:" in out.stdout
