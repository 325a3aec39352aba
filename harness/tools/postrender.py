#!/usr/bin/env python3
"""The helm post-renderer of the scenarios: small, chart-agnostic edits of the rendered manifests.

Helm runs it as ``<python> postrender.py OP [OP...]`` with the rendered manifests on stdin and
applies what it prints (https://helm.sh/docs/topics/advanced/#post-rendering). Operations:

``host:<from>=<to>``
    Every Ingress rule and TLS entry, and every HTTPRoute ``spec.hostnames`` entry, for host ``<from>``
    serves ``<to>`` instead. The scenarios give
    each release its own host (``<release>.<contract host>``), so two releases of one chart -- in a
    shared run, or a release whose namespace is still being deleted -- never share an ingress
    route. Nothing else changes.

``never-ready``
    Every container of every Deployment/StatefulSet/DaemonSet gets a readiness probe that can never
    pass (an exec of a command no image has), and the pod template an annotation saying so (which
    also guarantees a new revision of the pods). Hooks and other objects are untouched, so the
    candidate's pre-upgrade migration runs as it would; then the new pods never become Ready and
    ``helm upgrade --wait`` fails: the situation ``helm rollback`` is for (the rollback scenario).

Standalone: only PyYAML, no harness imports (helm starts it in its own process).
"""
from __future__ import annotations

import sys
from collections.abc import Callable

import yaml

WORKLOADS = ("Deployment", "StatefulSet", "DaemonSet")
ANNOTATION = "helm-e2e-harness/fault"
NEVER = ["/helm-e2e-harness-never-ready"]


def never_ready(doc: dict) -> dict:
    if doc.get("kind") not in WORKLOADS:
        return doc
    tmpl = doc.setdefault("spec", {}).setdefault("template", {})
    meta = tmpl.setdefault("metadata", {})
    if meta.get("annotations") is None:
        meta["annotations"] = {}
    meta["annotations"][ANNOTATION] = "never-ready"
    for c in tmpl.setdefault("spec", {}).get("containers") or []:
        c["readinessProbe"] = {"exec": {"command": NEVER}, "periodSeconds": 2, "failureThreshold": 1,
                               "timeoutSeconds": 1}
    return doc


def rename_host(old: str, new: str) -> Callable[[dict], dict]:
    def op(doc: dict) -> dict:
        if doc.get("kind") == "HTTPRoute":  # Gateway API: spec.hostnames
            spec = doc.get("spec") or {}
            if spec.get("hostnames"):
                spec["hostnames"] = [new if h == old else h for h in spec["hostnames"]]
            return doc
        if doc.get("kind") != "Ingress":
            return doc
        spec = doc.get("spec") or {}
        for rule in spec.get("rules") or []:
            if rule.get("host") == old:
                rule["host"] = new
        for tls in spec.get("tls") or []:
            tls["hosts"] = [new if h == old else h for h in tls.get("hosts") or []]
        return doc

    return op


def parse(ops: list[str]) -> list[Callable[[dict], dict]]:
    out: list[Callable[[dict], dict]] = []
    for op in ops:
        if op == "never-ready":
            out.append(never_ready)
        elif op.startswith("host:") and "=" in op:
            old, new = op[len("host:"):].split("=", 1)
            out.append(rename_host(old, new))
        else:
            raise ValueError(f"unknown operation {op!r} (known: never-ready, host:<from>=<to>)")
    return out


def main(argv: list[str]) -> int:
    try:
        ops = parse(argv[1:])
    except ValueError as exc:
        print(f"{argv[0]}: {exc}", file=sys.stderr)
        return 2
    if not ops:
        print(f"usage: {argv[0]} OP [OP...] < manifests > manifests (OP: never-ready | host:<from>=<to>)",
              file=sys.stderr)
        return 2
    docs = []
    for d in yaml.safe_load_all(sys.stdin):
        if isinstance(d, dict):
            for op in ops:
                d = op(d)
        if d is not None:
            docs.append(d)
    yaml.safe_dump_all(docs, sys.stdout, sort_keys=False)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
