"""The pinned versions of the cluster toolchain, read from harness/data/versions.env (the one place they
live; shipped in the package, and ``images/versions.env`` in the repository is a symlink to it for the
build scripts).

versions.env holds ``KEY=value`` lines and, per supported Kubernetes minor version, one table row
``K8S_<major>_<minor>="<version> key=value ..."`` (kind, etcd, coredns, pause, containerd, runc;
optional commit), and ``NODE_PULL_<major>_<minor>`` lines: the kindest/node image to pull. images/lib.sh's ``k8s_pins`` reads the same rows for the image builds.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path

from harness.core.errors import UsageError
from harness.core.packaged import package_path

VERSIONS_FILE = package_path("data", "versions.env")

_ROW_KEY = re.compile(r"^K8S_(\d+)_(\d+)$")
_VERSION = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)$")
_ROW_FIELDS = ("kind", "etcd", "coredns", "pause", "containerd", "runc")


@dataclass(frozen=True)
class KubernetesPins:
    """One row of the per-Kubernetes-version table in versions.env.

    Attributes:
        version: ``vX.Y.Z``.
        kind: the kind release the node image is built for and the cluster is created with.
        etcd, coredns, pause: kubeadm's image tags for this version (its cmd/kubeadm/app/constants).
        containerd, runc: ``debian`` (Debian's packages) or the ``vX.Y.Z`` built from their Go modules.
        commit: upstream's git commit of the tag ("" when not pinned).
        digest: unused (kept so older rows still parse); see ``pull``.
        pull: the upstream node image machines that pull use for this minor version, e.g.
            ``kindest/node:v1.37.0@sha256:...`` ("" when none is published). kind publishes its own
            patch releases, which need not be the one built here.
    """

    version: str
    kind: str
    etcd: str
    coredns: str
    pause: str
    containerd: str
    runc: str
    commit: str = ""
    digest: str = ""
    pull: str = ""

    @property
    def minor(self) -> str:
        """``"1.37"`` for ``v1.37.2``."""
        return ".".join(self.version.lstrip("v").split(".")[:2])

    @property
    def pause_image(self) -> str:
        """The pause image kubeadm expects and the node's containerd pins as its sandbox image."""
        return f"registry.k8s.io/pause:{self.pause}"


def parse_versions(text: str) -> dict[str, str]:
    """Return KEY -> value of versions.env ``text`` (comments and blank lines skipped, quotes removed)."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
                value = value[1:-1]
            out[key.strip()] = value
    return out


@cache
def pinned() -> dict[str, str]:
    """Return KEY -> value from harness/data/versions.env (comments and blank lines skipped, quotes removed)."""
    return parse_versions(VERSIONS_FILE.read_text())


def parse_row(key: str, value: str) -> KubernetesPins:
    """Parse one table row (``K8S_1_37``, ``"v1.37.2 kind=v0.33.0 etcd=3.7.0-0 ..."``).

    Raises:
        ValueError: the row's version does not match its key, a key is unknown or a field is missing.
    """
    m = _ROW_KEY.match(key)
    parts = value.split()
    if not m or not parts:
        raise ValueError(f"{key}: not a K8S_<major>_<minor> row")
    version = parts[0]
    vm = _VERSION.match(version)
    if not vm or not version.startswith("v") or (vm.group(1), vm.group(2)) != m.groups():
        raise ValueError(f"{key}: version {version!r} does not belong in this row")
    fields: dict[str, str] = {}
    for kv in parts[1:]:
        k, sep, v = kv.partition("=")
        if not sep or k not in (*_ROW_FIELDS, "commit", "digest"):
            raise ValueError(f"{key}: unknown entry {kv!r}")
        fields[k] = v
    missing = [f for f in _ROW_FIELDS if not fields.get(f)]
    if missing:
        raise ValueError(f"{key}: missing {', '.join(missing)}")
    return KubernetesPins(version=version, **fields)


def kubernetes_table(values: dict[str, str] | None = None) -> dict[str, KubernetesPins]:
    """Every supported Kubernetes version's pins, keyed by ``vX.Y.Z``, oldest first.

    Args:
        values: parsed versions.env (default: :func:`pinned`).
    """
    values = pinned() if values is None else values
    rows = [parse_row(k, v) for k, v in values.items() if _ROW_KEY.match(k)]
    rows = [replace(r, pull=values.get("NODE_PULL_" + r.minor.replace(".", "_"), "")) for r in rows]
    rows.sort(key=lambda r: tuple(int(x) for x in r.version.lstrip("v").split(".")))
    return {r.version: r for r in rows}


def supported_kubernetes(values: dict[str, str] | None = None) -> list[str]:
    """The supported Kubernetes versions (``vX.Y.Z``), oldest first."""
    return list(kubernetes_table(values))


def kubernetes_pins(version: str | None = None, values: dict[str, str] | None = None) -> KubernetesPins:
    """The pins of Kubernetes ``version`` (``vX.Y.Z`` or ``X.Y.Z``; default KUBERNETES_VERSION).

    Raises:
        UsageError: ``version`` has no row in versions.env; the message lists the supported ones.
    """
    values = pinned() if values is None else values
    want = version or values["KUBERNETES_VERSION"]
    want = want if want.startswith("v") else f"v{want}"
    table = kubernetes_table(values)
    if want not in table:
        raise UsageError(
            f"Kubernetes {want} is not supported; choose one of {', '.join(table)} (--kubernetes-version)"
        )
    return table[want]


def cache_dir() -> Path:
    """The build cache: $HARNESS_CACHE, else $XDG_CACHE_HOME/helm-e2e-harness, else ~/.cache/helm-e2e-harness."""
    if os.environ.get("HARNESS_CACHE"):
        return Path(os.environ["HARNESS_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "helm-e2e-harness"


def harness_version() -> str:
    """The installed harness's version (the package metadata of ``helm-e2e-harness``; ``pyproject.toml``'s
    ``version``), or ``unknown`` when the package is not installed (a bare checkout on ``sys.path``)."""
    # function-local: importlib.metadata reads the installed distributions, needed only for --version
    from importlib import metadata

    try:
        return metadata.version("helm-e2e-harness")
    except metadata.PackageNotFoundError:
        return "unknown"


def version_text(values: dict[str, str] | None = None) -> str:
    """What ``--version`` prints: the harness's version, then the pinned tool versions (versions.env).

    Two lines, e.g.::

        helm-e2e-harness 0.1.0
        pinned: helm v4.3.2 (helm3 v3.22.0), kind v0.33.0, kubectl v1.37.2, Kubernetes v1.37.2 (supported: v1.35.4, v1.36.3, v1.37.2)

    kubectl follows the Kubernetes version (images/build-tools.sh installs that version's kubectl).
    """
    v = pinned() if values is None else values
    row = kubernetes_pins(None, v)
    return (f"helm-e2e-harness {harness_version()}\n"
            f"pinned: helm {v['HELM_VERSION']} (helm3 {v['HELM3_VERSION']}), kind {row.kind}, kubectl {row.version}, "
            f"Kubernetes {row.version} (supported: {', '.join(supported_kubernetes(v))})")
