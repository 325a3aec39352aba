"""The matrix cell a session's scenario tests run in: Kubernetes version, helm version, edge."""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from harness.core.edges import TRAEFIK_GATEWAY
from harness.scenario.result import Cell
from harness.tools.helm import helm_version

EDGES = (("traefik", "traefik-nginx"), ("ingress-nginx", "ingress-nginx"))
"""Add-on -> the edge it puts in front of the charts' Ingresses (class ``nginx``): Traefik serving
ingress-nginx's Ingresses (docs/addons.md), or the upstream ingress-nginx controller. First match wins."""


def edge_for(addons: Iterable[str], edge: str | None = None) -> str:
    """The edge the probes go through for these add-ons ("" when none of them is an ingress
    controller): the configured ``edge`` ``traefik-gateway`` with the traefik add-on (its Gateway
    provider, harness/core/edges.py), else the edge serving the Ingresses."""
    names = set(addons)
    if edge == TRAEFIK_GATEWAY and "traefik" in names:
        return TRAEFIK_GATEWAY
    return next((e for addon, e in EDGES if addon in names), "")


def matrix_cell(cfg: Any, helm_binary: str) -> Cell:
    """The session's cell: ``cfg.kubernetes_version`` (the cluster's configured version), the version
    of the helm binary in use (:func:`harness.tools.helm.helm_version`, cached per binary) and the
    edge of ``cfg.addons`` and ``cfg.edge``.

    Raises:
        EnvironmentNotReady: the helm binary is not helm v3 (already checked when it was first used).
    """
    return Cell(kubernetes_version=str(cfg.kubernetes_version or ""), helm_version=helm_version(helm_binary),
                edge=edge_for(cfg.addons, getattr(cfg, "edge", None)))
