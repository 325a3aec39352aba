"""Readers of a release's rendered manifest: workload images, probe bounds, the ingress's read timeout and TLS."""
from __future__ import annotations

from collections.abc import Iterable, Mapping
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
