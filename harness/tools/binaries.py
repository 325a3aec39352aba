"""Where the pinned kind, helm, helm3 and kubectl binaries are: the project-local tool directory first.

The tool directory of a Kubernetes version holds that version's row's kind, the default helm
(HELM_VERSION), Helm 3 as ``helm3`` (HELM3_VERSION) and that version's kubectl: the version skew
policy (https://kubernetes.io/releases/version-skew-policy/#kubectl) supports kubectl only within one
minor version of the API server, so kubectl follows the cluster. images/build-tools.sh fills it.
"""
from __future__ import annotations

import shutil
from pathlib import Path

from harness.core.errors import EnvironmentNotReady
from harness.core.pins import cache_dir, kubernetes_pins, pinned

PROJECT_TOOLS = Path(__file__).resolve().parents[2] / ".tools" / "bin"
TOOLS = ("kind", "helm", "helm3", "kubectl")


def tools_key(kubernetes_version: str | None = None) -> str:
    """The tool directory's name for ``kubernetes_version`` (default KUBERNETES_VERSION).

    Same as images/lib.sh's ``tools_key``: ``kind-<row's kind>-helm-<HELM_VERSION>-helm3-<HELM3_VERSION>-kubectl-<version>``.

    Raises:
        UsageError: the version has no row in images/versions.env.
    """
    v = pinned()
    row = kubernetes_pins(kubernetes_version)
    return f"kind-{row.kind}-helm-{v['HELM_VERSION']}-helm3-{v['HELM3_VERSION']}-kubectl-{row.version}"


def tools_dir(kubernetes_version: str | None = None) -> Path:
    """The directory `images/build-tools.sh [VERSION]` fills, keyed by the pinned versions."""
    return cache_dir() / "tools" / tools_key(kubernetes_version)


def tool_path(name: str, kubernetes_version: str | None = None) -> str:
    """Return the path of the pinned ``name`` (kind, helm, helm3 or kubectl).

    For the default Kubernetes version: .tools/bin, then the versioned cache directory, then PATH.
    For another version: only that version's cache directory (a kubectl or kind on PATH is of
    unknown version, and the wrong one breaks the skew policy or kubeadm's config API).

    Args:
        name: the tool.
        kubernetes_version: ``vX.Y.Z`` of the cluster the tool is for (None: KUBERNETES_VERSION).

    Raises:
        EnvironmentNotReady: the tool is nowhere; the message names the command that installs it.
        UsageError: the Kubernetes version is not supported.
    """
    default = kubernetes_version in (None, "", pinned()["KUBERNETES_VERSION"])
    dirs = (PROJECT_TOOLS, tools_dir()) if default else (tools_dir(kubernetes_version),)
    for d in dirs:
        p = d / name
        if p.exists():
            return str(p)
    found = shutil.which(name) if default else None
    if found:
        return found
    how = "make setup" if default else f"images/build-tools.sh {kubernetes_pins(kubernetes_version).version}"
    raise EnvironmentNotReady(f"{name} not found; run `{how}` to install the pinned tools")
