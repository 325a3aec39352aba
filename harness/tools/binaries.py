"""Where the pinned kind, helm, helm3 and kubectl binaries are: the project-local tool directory first.

The tool directory of a Kubernetes version holds that version's row's kind, the default helm
(HELM_VERSION), Helm 3 as ``helm3`` (HELM3_VERSION) and that version's kubectl: the version skew
policy (https://kubernetes.io/releases/version-skew-policy/#kubectl) supports kubectl only within one
minor version of the API server, so kubectl follows the cluster. images/build-tools.sh fills it.

Building the tools is repository-only (``images/build-tools.sh``, ``make setup``). An installed
package (a wheel, no checkout) looks in the harness cache and then on PATH, and a missing tool is
one line naming the pinned version to put on PATH (or ``--helm PATH`` for helm).
"""
from __future__ import annotations

import shutil
from pathlib import Path

from harness.core.errors import EnvironmentNotReady
from harness.core.packaged import checkout_root
from harness.core.pins import cache_dir, kubernetes_pins, pinned

_CHECKOUT = checkout_root()
PROJECT_TOOLS = _CHECKOUT / ".tools" / "bin" if _CHECKOUT else None
"""The checkout's ``.tools/bin`` (``make setup`` links it), or None for an installed package."""
TOOLS = ("kind", "helm", "helm3", "kubectl")


def tools_key(kubernetes_version: str | None = None) -> str:
    """The tool directory's name for ``kubernetes_version`` (default KUBERNETES_VERSION).

    Same as images/lib.sh's ``tools_key``: ``kind-<row's kind>-helm-<HELM_VERSION>-helm3-<HELM3_VERSION>-kubectl-<version>``.

    Raises:
        UsageError: the version has no row in harness/data/versions.env.
    """
    v = pinned()
    row = kubernetes_pins(kubernetes_version)
    return f"kind-{row.kind}-helm-{v['HELM_VERSION']}-helm3-{v['HELM3_VERSION']}-kubectl-{row.version}"


def tools_dir(kubernetes_version: str | None = None) -> Path:
    """The directory `images/build-tools.sh [VERSION]` fills, keyed by the pinned versions."""
    return cache_dir() / "tools" / tools_key(kubernetes_version)


def tool_path(name: str, kubernetes_version: str | None = None) -> str:
    """Return the path of the pinned ``name`` (kind, helm, helm3 or kubectl).

    For the default Kubernetes version: .tools/bin (in a checkout), then the versioned cache
    directory, then PATH.
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
    for d in filter(None, dirs):
        p = d / name
        if p.exists():
            return str(p)
    found = shutil.which(name) if default else None
    if found:
        return found
    raise EnvironmentNotReady(missing_tool_message(name, kubernetes_version, checkout=PROJECT_TOOLS is not None))


def missing_tool_message(name: str, kubernetes_version: str | None = None, *, checkout: bool) -> str:
    """The one line for a tool found nowhere: in a checkout, the command that builds it; in an
    installed package (no build scripts), the pinned version to put on PATH or in the cache."""
    row = kubernetes_pins(kubernetes_version)
    default = kubernetes_version in (None, "", pinned()["KUBERNETES_VERSION"])
    if checkout:
        how = "make setup" if default else f"images/build-tools.sh {row.version}"
        return f"{name} not found; run `{how}` to install the pinned tools"
    v = pinned()
    want = {"kind": row.kind, "helm": v["HELM_VERSION"], "helm3": v["HELM3_VERSION"], "kubectl": row.version}[name]
    where = "on PATH or " if default else ""
    return (f"{name} not found; put {name} {want} {where}in {tools_dir(kubernetes_version)} (the installed "
            "package does not build tools; a checkout of the harness repository does: `make setup`)")
