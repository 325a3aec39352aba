"""Where the pinned kind, helm and kubectl binaries are: the project-local tool directory first."""
from __future__ import annotations

import shutil
from pathlib import Path

from harness.core.errors import EnvironmentNotReady
from harness.core.pins import cache_dir, pinned

PROJECT_TOOLS = Path(__file__).resolve().parents[2] / ".tools" / "bin"


def tools_dir() -> Path:
    """The directory `make setup` (images/build-tools.sh) fills, keyed by the pinned versions."""
    v = pinned()
    return cache_dir() / "tools" / (
        f"kind-{v['KIND_VERSION']}-helm-{v['HELM_VERSION']}-kubectl-{v['KUBERNETES_VERSION']}"
    )


def tool_path(name: str) -> str:
    """Return the path of the pinned ``name`` (kind, helm or kubectl).

    Looks in .tools/bin, then the versioned cache directory, then PATH.

    Raises:
        EnvironmentNotReady: the tool is nowhere; run `make setup`.
    """
    for d in (PROJECT_TOOLS, tools_dir()):
        p = d / name
        if p.exists():
            return str(p)
    found = shutil.which(name)
    if found:
        return found
    raise EnvironmentNotReady(f"{name} not found; run `make setup` to install the pinned tools")
