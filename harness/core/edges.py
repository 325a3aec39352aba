"""The edges a run can probe through, and what selecting the Gateway edge does to a chart's values.

An *edge* is what routes the probes from 127.0.0.1 to the chart's pods (the result record's
``Cell.edge``). The Traefik add-on is both edges here (docs/addons.md, "Gateway API edge"):

* ``traefik-nginx``: Traefik's Kubernetes Ingress NGINX provider serves the chart's Ingress (class
  ``nginx``). The default.
* ``traefik-gateway``: the same Traefik's Kubernetes Gateway provider serves the chart's HTTPRoute
  attached to the Gateway the add-on creates (:data:`ADDON_GATEWAY`), on the same entrypoint and so
  the same 127.0.0.1 port as the Ingress.
* ``ingress-nginx``: the retired upstream controller (the ``ingress-nginx`` add-on in place of
  ``traefik``) serves the chart's Ingress, for comparing a chart against what it ran on before;
  only where images are pulled (:data:`PULL_ONLY`, :func:`unavailable_reason`).

Selecting ``traefik-gateway`` (configuration key ``edge``) turns every contract's probe to
``via: httproute`` and adds ``--set`` pairs turning the chart's Ingress off and enabling its HTTPRoute
with that Gateway as its parentRef (:func:`gateway_sets`), in the values layout the bundled charts and many public charts use
(``httpRoute.enabled``, ``httpRoute.parentRefs``, ``httpRoute.hostnames``). A chart with another
layout sets its route in the contract's ``values``/``set`` and selects ``probe.via: httproute``
itself; the chart check then says in one line when no HTTPRoute with the probe host renders, or
when its parentRef names no Gateway the harness provides.

Pure: no I/O.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

TRAEFIK_NGINX = "traefik-nginx"
TRAEFIK_GATEWAY = "traefik-gateway"
INGRESS_NGINX = "ingress-nginx"
EDGES = (TRAEFIK_NGINX, TRAEFIK_GATEWAY, INGRESS_NGINX)
"""Values of the configuration key ``edge``."""

EDGE_ADDON = {TRAEFIK_NGINX: "traefik", TRAEFIK_GATEWAY: "traefik", INGRESS_NGINX: "ingress-nginx"}
"""The add-on that serves each edge (harness/env/addons/catalog.py)."""

PULL_ONLY = {
    INGRESS_NGINX: ("its controller image (nginx with Lua modules, built by the retired project's own "
                    "toolchain) cannot be built from Go modules and Debian packages, and this machine "
                    "pulls no images; it runs where image-source is pull (docs/addons.md)"),
}
"""Edges whose images exist only in registries, and why they cannot be built here. Envoy Gateway is
not an edge of this version: its data plane (Envoy, C++ built with Bazel) cannot be built here
either, and an add-on no run here could exercise would reach users untested (docs/addons.md)."""


def unavailable_reason(edge: str, image_source: str) -> str | None:
    """Why ``edge`` cannot run where the nodes get images from ``image_source``, or None when it can.

    Args:
        edge: one of :data:`EDGES`.
        image_source: the effective source, ``local`` or ``pull``
            (:func:`harness.env.cluster.effective_image_source`).

    Returns:
        ``"edge ingress-nginx cannot run on this machine: ..."`` for a :data:`PULL_ONLY` edge under
        ``local``; None otherwise.
    """
    why = PULL_ONLY.get(edge)
    if why is None or image_source == "pull":
        return None
    return f"edge {edge} cannot run on this machine: {why}"

GATEWAY_GROUP = "gateway.networking.k8s.io"


@dataclass(frozen=True)
class GatewayRef:
    """A Gateway the harness provides: what an HTTPRoute's ``parentRefs`` entry names.

    Attributes:
        name: the Gateway's name. namespace: its namespace. section: its listener's name (an
            HTTPRoute may name it in ``sectionName``; any other section attaches to nothing).
    """

    name: str
    namespace: str
    section: str = ""

    def describe(self) -> str:
        return f"Gateway {self.namespace}/{self.name}" + (f" (listener {self.section})" if self.section else "")


ADDON_GATEWAY = GatewayRef("harness", "harness-traefik", "web")
"""The Gateway of the Traefik add-on's chart (values ``gateway.name``, ``gateway.listener.name``,
the release namespace ``harness-traefik``; a unit test keeps them in step)."""


def gateway_sets(host: str, gateway: GatewayRef = ADDON_GATEWAY) -> tuple[str, ...]:
    """``--set`` pairs enabling a chart's HTTPRoute attached to ``gateway`` for ``host``.

    Args:
        host: the contract's probe host (the harness renames it per release after rendering).
        gateway: the Gateway to attach to.

    Returns:
        ``ingress.enabled=false`` (the chart is served through its HTTPRoute only, as after a move to
        Gateway API), ``httpRoute.enabled=true``, the one parentRef (group, kind, name, namespace, sectionName)
        and the one hostname, as helm ``--set`` pairs (https://helm.sh/docs/intro/using_helm/,
        "The Format and Limitations of --set": ``a[0].b=c`` sets a list element's key).
    """
    ref = "httpRoute.parentRefs[0]"
    # the Ingress off: with spec.tls, Traefik's NGINX provider would redirect the host's plain HTTP to
    # HTTPS on the very entrypoint the Gateway's listener shares (measured: HTTP 308 on every probe)
    out = ["ingress.enabled=false", "httpRoute.enabled=true",
           f"{ref}.group={GATEWAY_GROUP}", f"{ref}.kind=Gateway",
           f"{ref}.name={gateway.name}", f"{ref}.namespace={gateway.namespace}"]
    if gateway.section:
        out.append(f"{ref}.sectionName={gateway.section}")
    out.append(f"httpRoute.hostnames[0]={host}")
    return tuple(out)


def parent_ref_problems(route: Mapping[str, Any], route_namespace: str | None,
                        gateways: Sequence[GatewayRef] = (ADDON_GATEWAY,)) -> list[str]:
    """Whether an HTTPRoute attaches to a Gateway the harness provides.

    Gateway API (``HTTPRoute.spec.parentRefs``, ``ParentReference``): ``group`` defaults to
    ``gateway.networking.k8s.io``, ``kind`` to ``Gateway``, ``namespace`` to the route's own;
    ``sectionName`` unset means every listener; ``port`` unset means every port.

    Args:
        route: one rendered HTTPRoute object.
        route_namespace: the namespace it is installed into (its ``metadata.namespace`` wins);
            None: unknown (a rendering with no namespace), then a parentRef without a namespace
            cannot name the harness's Gateway, which lives in its own namespace.
        gateways: the Gateways the harness provides.

    Returns:
        ``[]`` when some parentRef names one of ``gateways``; else one line saying what the route
        names instead (or that it names none).
    """
    meta = route.get("metadata") or {}
    name = meta.get("name", "?")
    ns = meta.get("namespace") or route_namespace
    refs = (route.get("spec") or {}).get("parentRefs") or []
    seen = []
    for ref in refs:
        if not isinstance(ref, Mapping):
            continue
        group = ref.get("group", GATEWAY_GROUP) or GATEWAY_GROUP
        kind = ref.get("kind", "Gateway") or "Gateway"
        ref_ns = ref.get("namespace") or ns
        section = ref.get("sectionName")
        seen.append(f"{kind} {ref_ns or '<release namespace>'}/{ref.get('name')}"
                    + (f" section {section}" if section else ""))
        if group != GATEWAY_GROUP or kind != "Gateway":
            continue
        for g in gateways:
            if ref.get("name") == g.name and ref_ns == g.namespace and (not section or section == g.section
                                                                        or not g.section):
                return []
    provided = " or ".join(g.describe() for g in gateways)
    if not seen:
        return [f"HTTPRoute {name} has no parentRefs; attach it to {provided} with the contract's values/set"]
    return [f"HTTPRoute {name} attaches to {', '.join(seen)}, which the harness does not provide; "
            f"the harness's Gateway is {provided}: point the route's parentRef at it with the contract's values/set"]
