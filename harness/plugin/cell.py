"""The matrix cell a session's scenario tests run in: Kubernetes version, helm version, edge."""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from harness.scenario.result import Cell
from harness.tools.helm import helm_version

EDGES = (("traefik", "traefik-nginx"), ("ingress-nginx", "ingress-nginx"))
"""Add-on -> the edge it puts in front of the charts' Ingresses (class ``nginx``): Traefik serving
ingress-nginx's Ingresses (docs/addons.md), or the upstream ingress-nginx controller. First match wins."""


def edge_for(addons: Iterable[str]) -> str:
    """The edge serving the Ingresses for these add-ons ("" when none of them is an ingress controller)."""
    names = set(addons)
    return next((edge for addon, edge in EDGES if addon in names), "")


def matrix_cell(cfg: Any, helm_binary: str) -> Cell:
    """The session's cell: ``cfg.kubernetes_version`` (the cluster's configured version), the version
    of the helm binary in use (:func:`harness.tools.helm.helm_version`, cached per binary) and the
    edge of ``cfg.addons``.

    Raises:
        EnvironmentNotReady: the helm binary is not helm v3 (already checked when it was first used).
    """
    return Cell(kubernetes_version=str(cfg.kubernetes_version or ""), helm_version=helm_version(helm_binary),
                edge=edge_for(cfg.addons))
