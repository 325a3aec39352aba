"""Readers of a release's rendered manifest: workload images, probe bounds, the ingress's read
timeout and TLS, and the stream deadlines an edge may apply (nginx annotations, HTTPRoute timeouts)."""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import yaml

WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet")

def manifest_objects(text: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(text) if isinstance(d, dict)]


def workload_images(objs: Iterable[Mapping[str, Any]]) -> set[str]:
    """Images of the workloads' containers (init containers included) in rendered manifests."""
    out: set[str] = set()
    for o in objs:
        if o.get("kind") in WORKLOAD_KINDS:
            spec = ((o.get("spec") or {}).get("template") or {}).get("spec") or {}
            for c in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]:
                if c.get("image"):
                    out.add(str(c["image"]))
    return out


def probe_bounds(objs: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, float]]:
    """Per workload container, the rendered readiness/liveness probe numbers (Kubernetes defaults
    for unset fields): ``{"<kind>/<name>/<container>": {"readiness_period": 2, ...}}``."""
    out: dict[str, dict[str, float]] = {}
    for o in objs:
        if o.get("kind") not in WORKLOAD_KINDS:
            continue
        spec = ((o.get("spec") or {}).get("template") or {}).get("spec") or {}
        for c in spec.get("containers") or []:
            d: dict[str, float] = {}
            for probe in ("readiness", "liveness"):
                p = c.get(f"{probe}Probe")
                if not p:
                    continue
                d[f"{probe}_period"] = float(p.get("periodSeconds", 10))
                d[f"{probe}_failure"] = float(p.get("failureThreshold", 3))
                d[f"{probe}_timeout"] = float(p.get("timeoutSeconds", 1))
                d[f"{probe}_success"] = float(p.get("successThreshold", 1))
                d[f"{probe}_initial"] = float(p.get("initialDelaySeconds", 0))
            out[f"{o['kind']}/{o['metadata']['name']}/{c.get('name')}"] = d
    return out


def ingress_read_timeout(objs: Iterable[Mapping[str, Any]], default: float = 60.0) -> float:
    """The smallest ``nginx.ingress.kubernetes.io/proxy-read-timeout`` of the rendered Ingresses
    (ingress-nginx's default 60 s when unset): how long an nginx ingress lets a response be silent."""
    values = []
    for o in objs:
        if o.get("kind") == "Ingress":
            ann = (o.get("metadata") or {}).get("annotations") or {}
            raw = ann.get("nginx.ingress.kubernetes.io/proxy-read-timeout")
            try:
                values.append(float(raw) if raw is not None else default)
            except ValueError:
                values.append(default)
    return min(values) if values else default


def ingress_has_tls(objs: Iterable[Mapping[str, Any]]) -> bool:
    return any(o.get("kind") == "Ingress" and (o.get("spec") or {}).get("tls") for o in objs)


# --------------------------------------------------------------------------- stream deadlines

NGINX = "nginx.ingress.kubernetes.io/"

_GEP2257 = re.compile(r"([0-9]{1,5}(h|m|s|ms)){1,4}")
_GEP2257_PART = re.compile(r"([0-9]{1,5})(ms|h|m|s)")
_UNIT_SECONDS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}


def gateway_duration(text: str) -> float:
    """Seconds of a Gateway API Duration (GEP-2257, the format of HTTPRoute ``timeouts``): one to
    four ``<1-5 digits><h|m|s|ms>`` components, summed (``"1h30m"`` 5400.0, ``"500ms"`` 0.5,
    ``"10s30m1h"`` 5410.0; repeated units add up). The regular expression is the API's own
    (``^([0-9]{1,5}(h|m|s|ms)){1,4}$``, sigs.k8s.io/gateway-api apis/v1 ``Duration``).

    Raises:
        ValueError: not a GEP-2257 Duration (``"1"``, ``"1d"``, ``"1.5h"``, ``"-15m"``, ``""``, five
            components, six digits).
    """
    if not isinstance(text, str) or not _GEP2257.fullmatch(text):
        raise ValueError(f"{text!r} is not a Gateway API duration (GEP-2257: e.g. 30s, 1m, 500ms, 1h30m)")
    return sum(int(n) * _UNIT_SECONDS[u] for n, u in _GEP2257_PART.findall(text))


def nginx_seconds(text: str | None) -> int | None:
    """An ingress-nginx timeout annotation as the edges parse it: a whole number of seconds
    (ingress-nginx reads an int; Traefik's NGINX provider ``strconv.Atoi``, dropping anything
    else silently). None: unset or not a number (``"60s"``), so the edge's default applies."""
    if text is None or not re.fullmatch(r"[+-]?[0-9]+", str(text).strip()):
        return None
    return int(str(text).strip())


@dataclass(frozen=True)
class IngressStreamConfig:
    """One rendered Ingress's stream-relevant ingress-nginx annotations, as written (None: unset).

    Attributes:
        name: the Ingress's name; hosts: the hosts of its rules.
        read_timeout: ``proxy-read-timeout`` (seconds between two reads from the backend: idle).
        send_timeout: ``proxy-send-timeout`` (seconds between two writes to the backend).
        buffering: ``proxy-buffering`` (``"on"`` holds the response; anything else streams).
    """

    name: str
    hosts: tuple[str, ...] = ()
    read_timeout: str | None = None
    send_timeout: str | None = None
    buffering: str | None = None


@dataclass(frozen=True)
class RouteTimeouts:
    """One HTTPRoute rule's ``timeouts`` (Gateway API GEP-1742), as written (None: unset).

    Attributes:
        route: the HTTPRoute's name; rule: the rule's index in ``spec.rules``, or its ``name``.
        hostnames: the route's ``spec.hostnames``.
        request: ``timeouts.request``: a total deadline on the whole request and response.
        backend_request: ``timeouts.backendRequest``: a total deadline on each request to a backend.
    """

    route: str
    rule: str
    hostnames: tuple[str, ...] = ()
    request: str | None = None
    backend_request: str | None = None


@dataclass(frozen=True)
class StreamConfig:
    """What a release configures for its streams' edge: its Ingresses and HTTPRoute rules."""

    ingresses: tuple[IngressStreamConfig, ...] = ()
    routes: tuple[RouteTimeouts, ...] = ()

    def for_host(self, host: str | None) -> StreamConfig:
        """Only the Ingresses and routes serving ``host`` (all of them when none names it or no host is given)."""
        if not host:
            return self
        ing = tuple(i for i in self.ingresses if host in i.hosts)
        rts = tuple(r for r in self.routes if host in r.hostnames)
        return StreamConfig(ing or self.ingresses, rts or self.routes)


def stream_config(objs: Iterable[Mapping[str, Any]]) -> StreamConfig:
    """The stream deadlines and buffering a rendered release configures: per Ingress, the
    ``nginx.ingress.kubernetes.io/`` annotations ``proxy-read-timeout``, ``proxy-send-timeout`` and
    ``proxy-buffering`` (ingress-nginx's annotation reference); per HTTPRoute rule,
    ``spec.rules[].timeouts.request`` / ``.backendRequest`` (Gateway API ``HTTPRouteTimeouts``).
    Values are kept as written; :func:`nginx_seconds` and :func:`gateway_duration` parse them.
    """
    ingresses, routes = [], []
    for o in objs:
        md = o.get("metadata") or {}
        spec = o.get("spec") or {}
        if o.get("kind") == "Ingress":
            ann = md.get("annotations") or {}
            hosts = tuple(str(r["host"]) for r in spec.get("rules") or [] if isinstance(r, dict) and r.get("host"))

            def a(key: str, ann: Mapping[str, Any] = ann) -> str | None:
                v = ann.get(NGINX + key)
                return None if v is None else str(v)

            ingresses.append(IngressStreamConfig(str(md.get("name", "")), hosts, a("proxy-read-timeout"),
                                                 a("proxy-send-timeout"), a("proxy-buffering")))
        elif o.get("kind") == "HTTPRoute":
            hostnames = tuple(str(h) for h in spec.get("hostnames") or [])
            for i, rule in enumerate(spec.get("rules") or []):
                t = (rule or {}).get("timeouts") or {}
                req, back = t.get("request"), t.get("backendRequest")
                routes.append(RouteTimeouts(str(md.get("name", "")), str((rule or {}).get("name") or i), hostnames,
                                            None if req is None else str(req), None if back is None else str(back)))
    return StreamConfig(tuple(ingresses), tuple(routes))
