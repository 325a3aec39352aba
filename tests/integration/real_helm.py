"""Real helm binaries of each major for the tests that run helm (no cluster needed).

Candidates, first match of the wanted major wins: the paths in ``HARNESS_TEST_HELM_BINARIES``
(``os.pathsep``-separated), then the pinned tools ``helm`` (Helm 4) and ``helm3`` (Helm 3) that
`make setup` builds (harness.tools.binaries.tool_path). A major with no binary skips with the reason.
"""
from __future__ import annotations

import os

import pytest

from harness.core.errors import EnvironmentNotReady
from harness.tools.helm import helm_major, helm_version

ENV = "HARNESS_TEST_HELM_BINARIES"


def candidates() -> list[str]:
    from harness.tools.binaries import tool_path

    found = [p for p in os.environ.get(ENV, "").split(os.pathsep) if p]
    for name in ("helm", "helm3"):
        try:
            found.append(tool_path(name))
        except EnvironmentNotReady:
            pass
    return found


def helm_of_major(major: int) -> str:
    """The path of a helm binary of ``major`` (4 or 3); skips the test when there is none."""
    for path in candidates():
        try:
            if os.access(path, os.X_OK) and helm_major(helm_version(path)) == major:
                return path
        except (EnvironmentNotReady, OSError):
            continue
    pytest.skip(f"no helm v{major}.x binary: run `make setup` (builds helm and helm3) or list one in {ENV}")
