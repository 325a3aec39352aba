"""Evidence from a failed test, collected before anything is deleted (like chart-testing's cleanup
printing events, pod descriptions and logs, and kuttl's collectors running only on failure).

Layout under ``<artifacts>/<test-id-safe>/``::

    summary.txt            one screen: pods (phase, ready, restarts, waiting reasons, node),
                           Deployments, StatefulSets, PDBs, Services, EndpointSlices, Ingresses, nodes
    events.txt             namespace events, oldest first
    resources/<kind>.yaml  full objects (pods, deployments, statefulsets, replicasets, jobs, pdbs,
                           services, endpointslices, ingresses, configmaps; Secrets are never dumped)
    logs/<pod>/<container>.log            current container log
    logs/<pod>/<container>.previous.log   the previous (crashed) instance, when there is one
    helm/<release>/{history.json,values.yaml,manifest.yaml}
    nodes.txt              node conditions
    errors.txt             what could not be collected, and why (collection never raises)

Nothing secret is written (harness/core/redact.py): the release's Secrets keep their keys and lose
their data, values whose key names a secret (or that the contract lists in ``sensitiveValues``) are
replaced, and every such secret, raw or base64, is replaced wherever it appears (logs, events,
objects, helm history). The secrets are learned first, from the namespace's Secrets (Helm's storage
Secrets decoded: each revision's manifest, user values and chart defaults) and from ``helm get``;
every file goes through :func:`harness.core.artifacts.write_text`, and the test's directory is
scrubbed at the end (evidence the scenario wrote there before the failure).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import traceback
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client

from harness.core.artifacts import scrub_tree, write_text
from harness.core.redact import Redactor, redactor_for
from harness.k8s.client import REQUEST_TIMEOUT
from harness.k8s.release_store import (
    ReleaseReadError,
    decode_release,
    unwrap_secret_data,
)

LOG_LIMIT_BYTES = 5 * 1024 * 1024
MAX_DIR_NAME = 120


def safe_name(nodeid: str) -> str:
    """A directory name for a pytest node id: ``scenarios/test_upgrade.py::test_x[realtime]`` ->
    ``scenarios_test_upgrade.py__test_x-realtime``.

    ``::`` becomes ``__``, other characters outside ``[A-Za-z0-9._-]`` become ``_`` (``[...]`` ->
    ``-...``); names over 120 characters are cut and get an 8-character hash so they stay unique.
    """
    s = nodeid.replace("::", "__")
    s = re.sub(r"\[(.*)\]$", r"-\1", s)
    s = re.sub(r"[^A-Za-z0-9._-]+", "_", s).strip("._-")
    s = re.sub(r"\.{2,}", ".", s)
    if len(s) > MAX_DIR_NAME:
        s = s[: MAX_DIR_NAME - 9] + "-" + hashlib.sha1(nodeid.encode()).hexdigest()[:8]
    return s or "test"


def artifact_dir(artifacts_root: Path | str, nodeid: str) -> Path:
    """``<artifacts_root>/<safe_name(nodeid)>`` (not created)."""
    return Path(artifacts_root) / safe_name(nodeid)


def _ts(value: Any) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    return dt.datetime.min.replace(tzinfo=dt.UTC)


def event_time(ev: Any) -> dt.datetime:
    """When an event last happened: lastTimestamp, else eventTime, else firstTimestamp, else creation
    (https://kubernetes.io/docs/reference/kubernetes-api/cluster-resources/event-v1/)."""
    for v in (getattr(ev, "last_timestamp", None), getattr(ev, "event_time", None),
              getattr(ev, "first_timestamp", None), getattr(ev.metadata, "creation_timestamp", None)):
        if v is not None:
            return _ts(v)
    return _ts(None)


def format_events(events: Iterable[Any]) -> str:
    """Events sorted by time (oldest first), one per line:
    ``<time> <type> <Kind>/<name> <reason> (xN): <message>``."""
    lines = []
    for ev in sorted(events, key=event_time):
        obj = ev.involved_object
        when = event_time(ev)
        stamp = when.strftime("%H:%M:%S") if when.year > 1 else "--:--:--"
        count = f" (x{ev.count})" if getattr(ev, "count", None) and ev.count > 1 else ""
        msg = (ev.message or "").strip().replace("\n", " ")
        lines.append(f"{stamp} {ev.type or '':7} {obj.kind}/{obj.name} {ev.reason or ''}{count}: {msg}")
    return "\n".join(lines) + ("\n" if lines else "(no events)\n")


def _table(headers: list[str], rows: list[list[str]]) -> str:
    if not rows:
        return "(none)\n"
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    out = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))]
    out += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(out) + "\n"


def pod_rows(pods: Iterable[Any]) -> list[list[str]]:
    """Summary rows: name, phase, ready containers, restarts, waiting/terminated reasons, node."""
    rows = []
    for p in pods:
        st = p.status
        css = (st.container_statuses or []) if st else []
        ics = (st.init_container_statuses or []) if st else []
        ready = sum(1 for c in css if c.ready)
        restarts = sum(int(c.restart_count or 0) for c in [*css, *ics])
        reasons = []
        for c in [*ics, *css]:
            state = c.state
            if state and state.waiting and state.waiting.reason:
                reasons.append(f"{c.name}:{state.waiting.reason}")
            elif state and state.terminated and state.terminated.reason not in (None, "Completed"):
                reasons.append(f"{c.name}:{state.terminated.reason}")
            last = c.last_state.terminated if c.last_state else None
            if last and last.reason:
                reasons.append(f"{c.name}:last={last.reason}({last.exit_code})")
        phase = (st.phase if st else None) or "?"
        if p.metadata.deletion_timestamp is not None:
            phase += ",Terminating"
        rows.append([p.metadata.name, phase, f"{ready}/{len(css)}", str(restarts), " ".join(reasons) or "-",
                     (p.spec.node_name if p.spec else None) or "-"])
    return rows


def summary_text(*, pods: list[Any] = (), deployments: list[Any] = (), statefulsets: list[Any] = (),  # type: ignore[assignment]
                 pdbs: list[Any] = (), services: list[Any] = (), slices: list[Any] = (),  # type: ignore[assignment]
                 ingresses: list[Any] = (), nodes: list[Any] = ()) -> str:  # type: ignore[assignment]
    """A describe-like summary of the namespace (see the module docstring)."""
    parts = ["## Pods\n" + _table(["NAME", "PHASE", "READY", "RESTARTS", "REASONS", "NODE"], pod_rows(pods))]
    rows = []
    for d in deployments:
        s = d.status
        conds = ",".join(f"{c.type}={c.status}({c.reason})" for c in (s.conditions or [])) if s else ""
        rows.append([d.metadata.name, f"{d.spec.replicas}", f"{(s.updated_replicas if s else 0) or 0}",
                     f"{(s.available_replicas if s else 0) or 0}", f"{(s.unavailable_replicas if s else 0) or 0}",
                     f"{(s.observed_generation if s else 0) or 0}/{d.metadata.generation}", conds or "-"])
    parts.append("## Deployments\n" + _table(
        ["NAME", "WANT", "UPDATED", "AVAILABLE", "UNAVAILABLE", "OBSERVED/GEN", "CONDITIONS"], rows))
    rows = [[s.metadata.name, f"{s.spec.replicas}", f"{(s.status.ready_replicas if s.status else 0) or 0}",
             f"{(s.status.current_revision if s.status else '') or '-'}",
             f"{(s.status.update_revision if s.status else '') or '-'}"] for s in statefulsets]
    parts.append("## StatefulSets\n" + _table(["NAME", "WANT", "READY", "CURRENT-REV", "UPDATE-REV"], rows))
    rows = []
    for b in pdbs:
        s = b.status
        rows.append([b.metadata.name, str(b.spec.min_available if b.spec.min_available is not None else "-"),
                     str(b.spec.max_unavailable if b.spec.max_unavailable is not None else "-"),
                     str((s.disruptions_allowed if s else 0) or 0), str((s.current_healthy if s else 0) or 0),
                     str((s.desired_healthy if s else 0) or 0), str((s.expected_pods if s else 0) or 0)])
    parts.append("## PodDisruptionBudgets\n" + _table(
        ["NAME", "MIN-AVAILABLE", "MAX-UNAVAILABLE", "ALLOWED", "HEALTHY", "DESIRED", "EXPECTED"], rows))
    rows = [[s.metadata.name, s.spec.type or "-", s.spec.cluster_ip or "-",
             ",".join(f"{p.port}/{p.protocol}" for p in (s.spec.ports or [])) or "-",
             _selector_text(s.spec.selector)] for s in services]
    parts.append("## Services\n" + _table(["NAME", "TYPE", "CLUSTER-IP", "PORTS", "SELECTOR"], rows))
    rows = []
    for sl in slices:
        eps = sl.endpoints or []
        ready = [a for e in eps if (e.conditions is None or e.conditions.ready in (None, True)) for a in e.addresses]
        not_ready = [a for e in eps if (e.conditions is not None and e.conditions.ready is False) for a in e.addresses]
        svc = (sl.metadata.labels or {}).get("kubernetes.io/service-name", "-")
        rows.append([sl.metadata.name, svc, ",".join(ready) or "-", ",".join(not_ready) or "-"])
    parts.append("## EndpointSlices\n" + _table(["NAME", "SERVICE", "READY", "NOT-READY"], rows))
    rows = []
    for ing in ingresses:
        hosts = ",".join(r.host or "*" for r in (ing.spec.rules or [])) or "*"
        lb = ing.status.load_balancer.ingress if ing.status and ing.status.load_balancer else None
        rows.append([ing.metadata.name, ing.spec.ingress_class_name or "-", hosts,
                     ",".join((i.ip or i.hostname or "") for i in (lb or [])) or "-"])
    parts.append("## Ingresses\n" + _table(["NAME", "CLASS", "HOSTS", "ADDRESS"], rows))
    parts.append("## Nodes\n" + node_conditions_text(nodes))
    return "\n".join(parts)


def _selector_text(sel: dict[str, str] | None) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted((sel or {}).items())) or "-"


def node_conditions_text(nodes: Iterable[Any]) -> str:
    """One line per node and condition: ``node  Type=Status  reason: message``; unschedulable noted."""
    lines = []
    for n in nodes:
        flag = " (cordoned)" if n.spec and n.spec.unschedulable else ""
        for c in (n.status.conditions if n.status else None) or []:
            lines.append(f"{n.metadata.name}{flag}  {c.type}={c.status}  {c.reason or ''}: {(c.message or '').strip()}")
    return "\n".join(lines) + "\n" if lines else "(none)\n"


HELM_STORAGE_TYPE = "helm.sh/release.v1"


def release_secrets_redactor(secrets: Iterable[Any], sensitive_paths: Sequence[str] = ()) -> Redactor:
    """The :class:`harness.core.redact.Redactor` of a namespace from its Secrets (``V1Secret``
    objects or dicts with ``type`` and ``data``; ``data`` base64 as the API serves it).

    A Helm storage Secret (type ``helm.sh/release.v1``) is decoded
    (:func:`harness.k8s.release_store.decode_release`): the Secrets in its manifest and hooks, and
    the secret leaves of its user values (``config``) and the chart's defaults
    (``chart.values``). Every other Secret gives its data. An undecodable storage Secret is skipped
    (helm's own Secret never reaches an artifact).
    """
    manifests: list[str] = []
    values: list[Any] = []
    objects: list[Any] = []
    for s in secrets:
        kind = s.get("type") if isinstance(s, Mapping) else getattr(s, "type", None)
        data = (s.get("data") if isinstance(s, Mapping) else getattr(s, "data", None)) or {}
        if kind == HELM_STORAGE_TYPE:
            try:
                rel = decode_release(unwrap_secret_data(data.get("release", "")))
            except ReleaseReadError:
                continue
            manifests.append(str(rel.get("manifest") or ""))
            manifests.extend(str(h.get("manifest") or "") for h in rel.get("hooks") or [] if isinstance(h, Mapping))
            values.append(rel.get("config") or {})
            values.append((rel.get("chart") or {}).get("values") or {})
        else:
            objects.append({"kind": "Secret", "data": dict(data)})
    return redactor_for(manifests=manifests, objects=objects, values=values, sensitive_paths=sensitive_paths)


def namespace_redactor(api: Any, namespace: str, sensitive_paths: Sequence[str] = ()) -> Redactor:
    """:func:`release_secrets_redactor` of the namespace's Secrets (one API list call, no helm process).

    Raises:
        kubernetes.client.ApiException: the Secrets cannot be listed (RBAC, API server down).
    """
    items = client.CoreV1Api(api).list_namespaced_secret(namespace, _request_timeout=REQUEST_TIMEOUT).items
    return release_secrets_redactor(items, sensitive_paths)


class _Collector:
    def __init__(self, dest: Path, redactor: Redactor):
        self.dest = dest
        self.errors: list[str] = []
        self.redactor = redactor

    def attempt(self, what: str, fn: Callable[[], Any], default: Any = None) -> Any:
        try:
            return fn()
        except Exception as exc:  # noqa: BLE001 - diagnostics are best effort, every gap is recorded
            first = (str(exc).strip().splitlines() or [""])[0]
            self.errors.append(f"{what}: {type(exc).__name__}: {first[:300]}")
            return default

    def write(self, rel: str, text: str) -> None:
        """The one place diagnostics write: through the redactor (harness/core/artifacts.py)."""
        write_text(self.dest / rel, text, self.redactor)


def collect(api: Any, namespace: str, dest: Path | str, *, helm: Any | None = None,
            log_limit_bytes: int = LOG_LIMIT_BYTES, redactor: Redactor | None = None,
            sensitive_values: Sequence[str] = ()) -> Path:
    """Collect the evidence of one namespace into ``dest`` (see the module docstring for the layout).

    Args:
        api: ``kubernetes.client.ApiClient`` for the cluster.
        namespace: the test's namespace.
        dest: directory to write (created).
        helm: a :class:`harness.tools.helm.Helm` bound to the cluster, for release history/values/manifest.
        log_limit_bytes: per container log (``limitBytes``).
        redactor: the namespace's secrets, when the caller already has them
            (:func:`namespace_redactor`); None: learned here. Either way the secrets of
            ``helm get values --all`` and ``helm get manifest`` are added.
        sensitive_values: the contract's ``sensitiveValues`` paths (used when ``redactor`` is None).

    Returns:
        ``dest``. Never raises for an unreachable cluster or a missing object: every gap is listed
        in ``errors.txt`` instead. When the namespace's Secrets cannot be read, the helm-derived
        secrets are still hidden and the gap is listed.
    """

    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    listed_paths = Redactor(sensitive_paths=tuple(sensitive_values))
    c = _Collector(dest, listed_paths)
    if redactor is None:
        redactor = c.attempt("list secrets (for redaction)",
                             lambda: namespace_redactor(api, namespace, sensitive_values), Redactor())
    redactor = redactor.merged(listed_paths)
    core = client.CoreV1Api(api)
    apps = client.AppsV1Api(api)
    batch = client.BatchV1Api(api)
    policy = client.PolicyV1Api(api)
    net = client.NetworkingV1Api(api)
    disc = client.DiscoveryV1Api(api)
    kw = {"_request_timeout": REQUEST_TIMEOUT}

    # The releases first: their values and manifests say what is secret before anything is written.
    released: list[tuple[str, Any, Any, Any]] = []
    if helm is not None:
        for rel in c.attempt("helm list", lambda: helm.list(namespace=namespace), []):
            r = rel.get("name", "")
            hist = c.attempt(f"helm history {r}", lambda r=r: helm.history(r, namespace=namespace))
            vals = c.attempt(f"helm get values {r}", lambda r=r: helm.get_values(r, namespace=namespace, all=True))
            man = c.attempt(f"helm get manifest {r}", lambda r=r: helm.get_manifest(r, namespace=namespace))
            released.append((r, hist, vals, man))
    c.redactor = redactor.merged(redactor_for(
        manifests=[m for *_, m in released if isinstance(m, str)],
        values=[v for _, _, v, _ in released if v is not None], sensitive_paths=redactor.sensitive_paths))

    def items(what: str, fn: Callable[..., Any]) -> list[Any]:
        return c.attempt(f"list {what}", lambda: fn(namespace, **kw).items, [])

    events = items("events", core.list_namespaced_event)
    c.write("events.txt", format_events(events))
    listed = {
        "pods": items("pods", core.list_namespaced_pod),
        "deployments": items("deployments", apps.list_namespaced_deployment),
        "statefulsets": items("statefulsets", apps.list_namespaced_stateful_set),
        "replicasets": items("replicasets", apps.list_namespaced_replica_set),
        "jobs": items("jobs", batch.list_namespaced_job),
        "poddisruptionbudgets": items("poddisruptionbudgets", policy.list_namespaced_pod_disruption_budget),
        "services": items("services", core.list_namespaced_service),
        "endpointslices": items("endpointslices", disc.list_namespaced_endpoint_slice),
        "ingresses": items("ingresses", net.list_namespaced_ingress),
        "configmaps": items("configmaps", core.list_namespaced_config_map),
    }
    nodes = c.attempt("list nodes", lambda: core.list_node(**kw).items, [])
    for kind, objs in listed.items():
        if objs:
            docs = c.redactor.objects([api.sanitize_for_serialization(o) for o in objs])
            c.write(f"resources/{kind}.yaml", yaml.safe_dump_all(docs, sort_keys=False))
    c.write("summary.txt", summary_text(
        pods=listed["pods"], deployments=listed["deployments"], statefulsets=listed["statefulsets"],
        pdbs=listed["poddisruptionbudgets"], services=listed["services"], slices=listed["endpointslices"],
        ingresses=listed["ingresses"], nodes=nodes))
    c.write("nodes.txt", node_conditions_text(nodes))

    for pod in listed["pods"]:
        st = pod.status
        statuses = [*((st.init_container_statuses or []) if st else []), *((st.container_statuses or []) if st else [])]
        for cs in statuses:
            name = pod.metadata.name
            text = c.attempt(f"log {name}/{cs.name}", lambda n=name, cn=cs.name: core.read_namespaced_pod_log(
                n, namespace, container=cn, limit_bytes=log_limit_bytes, **kw))
            if text is not None:
                c.write(f"logs/{name}/{cs.name}.log", text)
            if int(cs.restart_count or 0) > 0:
                prev = c.attempt(f"previous log {name}/{cs.name}",
                                 lambda n=name, cn=cs.name: core.read_namespaced_pod_log(
                                     n, namespace, container=cn, previous=True, limit_bytes=log_limit_bytes, **kw))
                if prev is not None:
                    c.write(f"logs/{name}/{cs.name}.previous.log", prev)

    for r, hist, vals, man in released:
        if hist is not None:
            c.write(f"helm/{r}/history.json", json.dumps(c.redactor.deep(hist), indent=2) + "\n")
        if vals is not None:
            c.write(f"helm/{r}/values.yaml", yaml.safe_dump(c.redactor.values(vals), sort_keys=False))
        if man is not None:
            c.write(f"helm/{r}/manifest.yaml", c.redactor.manifest(man))

    if c.errors:
        c.write("errors.txt", "\n".join(c.errors) + "\n")
    # evidence the scenario wrote into this directory before the secrets were known
    c.attempt("scrub earlier evidence", lambda: scrub_tree(dest, c.redactor))
    return dest


def collect_with_redactor(api: Any, namespace: str, dest: Path | str, *, sensitive_values: Sequence[str] = (),
                          **kwargs: Any) -> tuple[Path | None, str | None, Redactor]:
    """:func:`collect_safely`, also returning the namespace's :class:`Redactor` (empty when the
    Secrets cannot be read) so the caller can keep secrets out of what it writes later
    (``scenarios.json``, exported kind logs)."""
    try:
        redactor = namespace_redactor(api, namespace, sensitive_values)
    except Exception:  # noqa: BLE001 - collect lists the gap in errors.txt when it retries
        redactor = None
    path, error = collect_safely(api, namespace, dest, redactor=redactor, sensitive_values=sensitive_values, **kwargs)
    return path, error, redactor or Redactor(sensitive_paths=tuple(sensitive_values))


def collect_safely(*args: Any, **kwargs: Any) -> tuple[Path | None, str | None]:
    """:func:`collect`, but an unexpected bug becomes ``(None, traceback text)`` instead of raising
    (a failing collector must not hide the test's own failure)."""
    try:
        return collect(*args, **kwargs), None
    except Exception:  # noqa: BLE001
        return None, traceback.format_exc()
