"""What a rendered chart offers the scenarios, read from its manifests: the pure half of
``python -m harness init`` (harness/gate/init.py renders; this module reads and proposes).

:func:`survey` reads one rendering (``helm template`` output split into objects): the hosts and
parentRefs of its Ingresses and HTTPRoutes, the images (:func:`harness.scenario.chart_checks.manifest_images`),
the workloads with their replicas and readiness/liveness probes, the PodDisruptionBudgets and the
workloads they cover, the Helm hooks (``helm.sh/hook``: a pre-upgrade Job is a migration), the
Services and the database settings containers get (``DATABASE_URL``, ``PG*``, ``*_DSN``...).
:func:`values_hints` reads the chart's ``values.yaml`` for what manifests do not show (the values
keys that name a database Secret, an Ingress switch, stream settings). :func:`propose` turns
both into one :class:`Proposal` per scenario: whether it applies, and why, or what to fill in.

Kubernetes semantics relied on: a PodDisruptionBudget covers the pods its ``selector`` matches
(https://kubernetes.io/docs/tasks/run-application/configure-pdb/); a Deployment without
``spec.replicas`` runs 1 pod unless a HorizontalPodAutoscaler scales it (``minReplicas``, default 1;
https://kubernetes.io/docs/tasks/run-application/horizontal-pod-autoscale/); Helm runs a resource
annotated ``helm.sh/hook: pre-upgrade`` before an upgrade's resources
(https://helm.sh/docs/topics/charts_hooks/).
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from harness.scenario.chart_checks import (
    SERVING_KINDS,
    ingress_class,
    is_test_hook,
    manifest_images,
)

STREAM_PATH = re.compile(r"(^|/)(events?|stream|streams|sse|subscribe|notifications?|live)(/|$)", re.I)
"""A route path that names an event stream (``/events``, ``/api/stream``)."""
DB_ENV = re.compile(r"^(DATABASE_URL|DATABASE_URI|DB_URL|DB_DSN|DB_HOST|PG[A-Z]+|POSTGRES(QL)?_[A-Z_]+|.*_DSN|"
                    r".*DATABASE.*)$")
"""Container environment names that carry a database setting (libpq's ``PG*`` variables:
https://www.postgresql.org/docs/current/libpq-envars.html)."""
_DB_KEY = re.compile(r"^(database|db|postgres|postgresql|pg|sql)$", re.I)
_STREAM_KEY = re.compile(r"(sse|stream|heartbeat|eventsource)", re.I)
BUFFERING_OFF = "nginx.ingress.kubernetes.io/proxy-buffering"
_VALUES_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


@dataclass(frozen=True)
class Route:
    """One Ingress or HTTPRoute. ``hosts``: its rules' hosts / hostnames; ``paths``: the paths it
    routes; ``ingress_class``: an Ingress's class (None: none set; an HTTPRoute: None);
    ``parent_refs``: an HTTPRoute's ``namespace/name[/sectionName]``; ``buffering_off``: the
    ingress-nginx annotation ``proxy-buffering: off`` (what a stream needs)."""

    kind: str
    name: str
    hosts: tuple[str, ...]
    paths: tuple[str, ...]
    ingress_class: str | None = None
    parent_refs: tuple[str, ...] = ()
    buffering_off: bool = False


@dataclass(frozen=True)
class ProbeInfo:
    """A container's readiness or liveness probe: ``handler`` (httpGet, tcpSocket, exec, grpc) and,
    for httpGet, its ``path``."""

    workload: str
    container: str
    kind: str
    handler: str
    path: str | None = None


@dataclass(frozen=True)
class Workload:
    """A Deployment/StatefulSet/DaemonSet: ``replicas`` as rendered (None: unset), ``min_replicas``
    the fewest pods it runs (an HPA's ``minReplicas`` when one targets it; a DaemonSet: None,
    one per node), ``labels`` of its pod template."""

    kind: str
    name: str
    replicas: int | None
    min_replicas: int | None
    labels: Mapping[str, str] = field(default_factory=dict)

    @property
    def ref(self) -> str:
        return f"{self.kind} {self.name}"


@dataclass(frozen=True)
class Pdb:
    """A PodDisruptionBudget: ``min_available`` / ``max_unavailable`` as written, and the workloads
    (``Kind name``) whose pod template its selector matches."""

    name: str
    min_available: Any
    max_unavailable: Any
    covers: tuple[str, ...]

    def describe(self) -> str:
        rule = (f"minAvailable {self.min_available}" if self.min_available is not None
                else f"maxUnavailable {self.max_unavailable}")
        return f"PodDisruptionBudget {self.name} ({rule})"


@dataclass(frozen=True)
class Hook:
    """A Helm hook resource: ``hooks`` from ``helm.sh/hook`` (``pre-upgrade``...)."""

    kind: str
    name: str
    hooks: tuple[str, ...]

    @property
    def migration(self) -> bool:
        """A Job that runs before an upgrade: the usual shape of a schema migration."""
        return self.kind == "Job" and "pre-upgrade" in self.hooks


@dataclass(frozen=True)
class ServiceInfo:
    name: str
    type: str
    ports: tuple[str, ...]


@dataclass(frozen=True)
class DbSetting:
    """A database setting a container gets: env ``name`` in ``where`` (``Deployment x container y``),
    from Secret ``secret`` key ``key`` when it is a ``secretKeyRef``."""

    where: str
    name: str
    secret: str | None = None
    key: str | None = None


@dataclass(frozen=True)
class Survey:
    """Everything :func:`survey` found in one rendering."""

    routes: tuple[Route, ...] = ()
    images: tuple[str, ...] = ()
    workloads: tuple[Workload, ...] = ()
    probes: tuple[ProbeInfo, ...] = ()
    pdbs: tuple[Pdb, ...] = ()
    hooks: tuple[Hook, ...] = ()
    services: tuple[ServiceInfo, ...] = ()
    database: tuple[DbSetting, ...] = ()


def _meta(o: Mapping[str, Any]) -> Mapping[str, Any]:
    return o.get("metadata") or {}


def _spec(o: Mapping[str, Any]) -> Mapping[str, Any]:
    return o.get("spec") or {}


def _template(o: Mapping[str, Any]) -> Mapping[str, Any]:
    spec = _spec(o)
    if o.get("kind") == "CronJob":
        spec = (spec.get("jobTemplate") or {}).get("spec") or {}
    return spec.get("template") or {}


def _hooks(o: Mapping[str, Any]) -> tuple[str, ...]:
    raw = str((_meta(o).get("annotations") or {}).get("helm.sh/hook", ""))
    return tuple(h.strip() for h in raw.split(",") if h.strip())


def routes(objs: Iterable[Mapping[str, Any]]) -> list[Route]:
    """The Ingresses and HTTPRoutes of a rendering (hosts, paths, class, parentRefs)."""
    out: list[Route] = []
    for o in objs:
        spec = _spec(o)
        name = str(_meta(o).get("name", "?"))
        if o.get("kind") == "Ingress":
            rules = spec.get("rules") or []
            hosts = tuple(str(r["host"]) for r in rules if r.get("host"))
            paths = tuple(str(p.get("path") or "/") for r in rules for p in ((r.get("http") or {}).get("paths") or []))
            ann = _meta(o).get("annotations") or {}
            out.append(Route("Ingress", name, hosts, paths, ingress_class(o),
                             buffering_off=str(ann.get(BUFFERING_OFF, "")).lower() == "off"))
        elif o.get("kind") == "HTTPRoute":
            refs = []
            for r in spec.get("parentRefs") or []:
                ref = f"{r.get('namespace', '')}/{r.get('name', '')}".lstrip("/")
                refs.append(ref + (f"/{r['sectionName']}" if r.get("sectionName") else ""))
            paths = tuple(str((m.get("path") or {}).get("value") or "/") for rule in spec.get("rules") or []
                          for m in rule.get("matches") or [{}])
            out.append(Route("HTTPRoute", name, tuple(str(h) for h in spec.get("hostnames") or []), paths,
                             parent_refs=tuple(refs)))
    return out


def workloads(objs: Sequence[Mapping[str, Any]]) -> list[Workload]:
    """The serving workloads with their replicas; an HPA's ``minReplicas`` (default 1) is the
    fewest pods of the workload it scales."""
    hpa_min: dict[tuple[str, str], int] = {}
    for o in objs:
        if o.get("kind") == "HorizontalPodAutoscaler":
            ref = _spec(o).get("scaleTargetRef") or {}
            hpa_min[(str(ref.get("kind")), str(ref.get("name")))] = int(_spec(o).get("minReplicas") or 1)
    out: list[Workload] = []
    for o in objs:
        if o.get("kind") not in SERVING_KINDS or _hooks(o):
            continue
        name = str(_meta(o).get("name", "?"))
        raw = _spec(o).get("replicas")
        replicas = raw if isinstance(raw, int) and not isinstance(raw, bool) else None
        if o.get("kind") == "DaemonSet":
            least = None
        elif (str(o.get("kind")), name) in hpa_min:
            least = hpa_min[(str(o.get("kind")), name)]
        else:
            least = 1 if replicas is None else replicas
        labels = {str(k): str(v) for k, v in ((_template(o).get("metadata") or {}).get("labels") or {}).items()}
        out.append(Workload(str(o.get("kind")), name, replicas, least, labels))
    return out


def probes(objs: Iterable[Mapping[str, Any]]) -> list[ProbeInfo]:
    """Every readiness and liveness probe of the serving workloads' containers."""
    out: list[ProbeInfo] = []
    for o in objs:
        if o.get("kind") not in SERVING_KINDS:
            continue
        for c in (_template(o).get("spec") or {}).get("containers") or []:
            for kind in ("readiness", "liveness"):
                p = c.get(f"{kind}Probe")
                if not isinstance(p, Mapping):
                    continue
                handler = next((h for h in ("httpGet", "tcpSocket", "exec", "grpc") if p.get(h) is not None), "none")
                path = (p.get("httpGet") or {}).get("path") if handler == "httpGet" else None
                out.append(ProbeInfo(f"{o.get('kind')} {_meta(o).get('name')}", str(c.get("name")), kind, handler,
                                     str(path) if path else None))
    return out


def pdbs(objs: Sequence[Mapping[str, Any]], loads: Sequence[Workload]) -> list[Pdb]:
    """The PodDisruptionBudgets and the workloads whose pod labels their ``matchLabels`` select
    (``matchExpressions`` are not evaluated: such a PDB covers what its labels alone select)."""
    out: list[Pdb] = []
    for o in objs:
        if o.get("kind") != "PodDisruptionBudget":
            continue
        sel = (_spec(o).get("selector") or {}).get("matchLabels") or {}
        covers = tuple(w.ref for w in loads if sel and all(w.labels.get(str(k)) == str(v) for k, v in sel.items()))
        out.append(Pdb(str(_meta(o).get("name", "?")), _spec(o).get("minAvailable"), _spec(o).get("maxUnavailable"),
                       covers))
    return out


def hooks(objs: Iterable[Mapping[str, Any]]) -> list[Hook]:
    """Resources annotated ``helm.sh/hook``, chart tests (``helm test``) left out."""
    return [Hook(str(o.get("kind")), str(_meta(o).get("name", "?")), _hooks(o)) for o in objs
            if _hooks(o) and not is_test_hook(o)]


def services(objs: Iterable[Mapping[str, Any]]) -> list[ServiceInfo]:
    out = []
    for o in objs:
        if o.get("kind") == "Service":
            ports = tuple(str(p.get("port")) for p in _spec(o).get("ports") or [])
            out.append(ServiceInfo(str(_meta(o).get("name", "?")), str(_spec(o).get("type") or "ClusterIP"), ports))
    return out


def database_settings(objs: Iterable[Mapping[str, Any]]) -> list[DbSetting]:
    """Container env entries whose name is a database setting (:data:`DB_ENV`), hooks included (a
    migration Job reads the database too), with the Secret and key of a ``secretKeyRef``."""
    out: list[DbSetting] = []
    for o in objs:
        if o.get("kind") not in (*SERVING_KINDS, "Job", "CronJob") or is_test_hook(o):
            continue
        spec = _template(o).get("spec") or {}
        for c in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]:
            for e in c.get("env") or []:
                name = str(e.get("name", ""))
                if not DB_ENV.match(name):
                    continue
                ref = (e.get("valueFrom") or {}).get("secretKeyRef") or {}
                out.append(DbSetting(f"{o.get('kind')} {_meta(o).get('name')} container {c.get('name')}", name,
                                     str(ref["name"]) if ref.get("name") else None,
                                     str(ref["key"]) if ref.get("key") else None))
    return out


def survey(objs: Sequence[Mapping[str, Any]]) -> Survey:
    """Everything the scenarios care about in one rendering (see the module docstring)."""
    loads = workloads(objs)
    return Survey(routes=tuple(routes(objs)), images=tuple(sorted(manifest_images(objs))), workloads=tuple(loads),
                  probes=tuple(probes(objs)), pdbs=tuple(pdbs(objs, loads)), hooks=tuple(hooks(objs)),
                  services=tuple(services(objs)), database=tuple(database_settings(objs)))


# --------------------------------------------------------------------------- values.yaml


@dataclass(frozen=True)
class ValuesHints:
    """What the chart's values.yaml says that manifests do not.

    Attributes:
        db_secret, db_secret_key: values paths receiving the database Secret's name and its key
            (``database.existingSecret``, ``database.existingSecretKey``); None when not found.
        db_secret_key_default: the default of ``db_secret_key`` (the key inside the Secret).
        db_keys: other values paths under a database-named key (``database.host``).
        stream_keys: values paths that mention streams (``sse.heartbeatSeconds``).
        ingress_enabled, ingress_class: the values paths of an Ingress switch and class, when present.
        pdb_enabled: the values path of a PodDisruptionBudget switch, when present.
    """

    db_secret: str | None = None
    db_secret_key: str | None = None
    db_secret_key_default: str | None = None
    db_keys: tuple[str, ...] = ()
    stream_keys: tuple[str, ...] = ()
    ingress_enabled: str | None = None
    ingress_class: str | None = None
    pdb_enabled: str | None = None


def _flatten(values: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """``(a.b.c, value)`` for every leaf, keeping only paths a contract can name (keys of letters,
    digits, ``_`` and ``-``: harness/core/contract.py's values paths)."""
    out: list[tuple[str, Any]] = []
    for k, v in values.items():
        if not _VALUES_KEY.match(str(k)):
            continue
        path = f"{prefix}{k}"
        if isinstance(v, Mapping) and v:
            out += _flatten(v, path + ".")
        else:
            out.append((path, v))
    return out


def values_hints(values: Mapping[str, Any]) -> ValuesHints:
    """Read :class:`ValuesHints` from a chart's default values (a parsed values.yaml)."""
    flat = _flatten(values)
    db_keys = [p for p, _ in flat if any(_DB_KEY.match(part) for part in p.split(".")[:-1])]
    secret = next((p for p in db_keys if p.rsplit(".", 1)[-1].lower() in ("existingsecret", "secretname")), None)
    key = None
    if secret is not None:
        parent = secret.rsplit(".", 1)[0]
        key = next((p for p in db_keys if p.rsplit(".", 1)[0] == parent
                    and p.rsplit(".", 1)[-1].lower() in ("existingsecretkey", "secretkey", "existingsecretdsnkey")), None)
    key_default = next((v for p, v in flat if p == key), None) if key else None
    top = {p: v for p, v in flat}
    ingress_enabled = next((p for p in ("ingress.enabled",) if p in top and isinstance(top[p], bool)), None)
    ingress_class = next((p for p in ("ingress.className", "ingress.ingressClassName", "ingress.class") if p in top), None)
    pdb_enabled = next((p for p in ("podDisruptionBudget.enabled", "pdb.enabled", "podDisruptionBudget.create")
                        if p in top and isinstance(top[p], bool)), None)
    return ValuesHints(
        db_secret=secret, db_secret_key=key,
        db_secret_key_default=str(key_default) if isinstance(key_default, str) and key_default else None,
        db_keys=tuple(p for p in db_keys if p not in (secret, key)),
        stream_keys=tuple(p for p, _ in flat if _STREAM_KEY.search(p)),
        ingress_enabled=ingress_enabled, ingress_class=ingress_class, pdb_enabled=pdb_enabled)


# --------------------------------------------------------------------------- proposals


@dataclass(frozen=True)
class Proposal:
    """One scenario: ``applies`` (written into ``scenarios``) and ``why`` (its comment; a scenario
    that does not apply says what to fill in, starting ``fill in:``, or why it does not apply)."""

    scenario: str
    applies: bool
    why: str


def _where(labels: Sequence[str], all_labels: Sequence[str]) -> str:
    if list(labels) == list(all_labels) or len(all_labels) == 1:
        return ""
    return f" (variant{'s' if len(labels) > 1 else ''} {', '.join(labels)})"


def drain_ready(s: Survey) -> tuple[bool, str]:
    """``(True, why)`` when a PodDisruptionBudget covers a workload that runs more than one pod;
    else ``(False, what is missing)``."""
    if not s.workloads:
        return False, "no Deployment, StatefulSet or DaemonSet rendered"
    if not s.pdbs:
        return False, "no PodDisruptionBudget rendered"
    loads = {w.ref: w for w in s.workloads}
    for p in s.pdbs:
        for ref in p.covers:
            w = loads[ref]
            if w.min_replicas is None or w.min_replicas > 1:
                n = "one per node" if w.min_replicas is None else f"at least {w.min_replicas} replicas"
                return True, f"{p.describe()} covers {ref} ({n})"
    covered = [ref for p in s.pdbs for ref in p.covers]
    if not covered:
        return False, f"{', '.join(p.describe() for p in s.pdbs)} selects no workload's pods"
    return False, f"{', '.join(covered)} runs 1 replica: a drain evicting it is an outage (set replicas > 1)"


def stream_path(surveys: Mapping[str, Survey]) -> str | None:
    """A route path that names a stream (:data:`STREAM_PATH`), or None."""
    for s in surveys.values():
        for r in s.routes:
            for p in r.paths:
                if STREAM_PATH.search(p):
                    return p
    return None


def propose(surveys: Mapping[str, Survey], hints: ValuesHints, *, released: str | None) -> list[Proposal]:
    """One :class:`Proposal` per scenario (contract order: upgrade, rollback, drain, sse, db_outage).

    Args:
        surveys: ``{variant label: Survey}`` of every candidate rendering (``ci/*-values.yaml`` variants).
        hints: :func:`values_hints` of the chart's values.yaml.
        released: ``"<chart> <version>"`` of the released chart found to upgrade from, or None.

    Rules: upgrade and rollback need a released version and a workload; drain a
    PodDisruptionBudget over a workload of more than one pod, in every variant; sse a stream path
    (a route path like ``/events``; stream hints alone say "fill in"); db_outage the values paths
    that name the database Secret and its key (a database env alone says "fill in").
    """
    labels = list(surveys)
    any_load = any(s.workloads for s in surveys.values())
    migration = sorted({f"{h.kind} {h.name}" for s in surveys.values() for h in s.hooks if h.migration})
    out: list[Proposal] = []

    if not any_load:
        out += [Proposal(n, False, "the chart renders no Deployment, StatefulSet or DaemonSet to upgrade")
                for n in ("upgrade", "rollback")]
    elif released is None:
        fill = "fill in: released (chart, version, repository) — the version users run today; none found"
        out += [Proposal("upgrade", False, fill), Proposal("rollback", False, fill)]
    else:
        hook = f"; the pre-upgrade hook {', '.join(migration)} runs in it" if migration else ""
        out.append(Proposal("upgrade", True, f"upgrades released {released} to this chart{hook}"))
        out.append(Proposal("rollback", True, "a failed upgrade to this chart rolled back to "
                            f"{released}" + (f", across the pre-upgrade hook {', '.join(migration)}" if migration else "")))

    drains = {label: drain_ready(s) for label, s in surveys.items()}
    bad = [label for label, (ok, _) in drains.items() if not ok]
    if not bad:
        out.append(Proposal("drain", True, next(iter(drains.values()))[1] + _where(labels, labels)))
    else:
        why = drains[bad[0]][1]
        switch = (f"; values {hints.pdb_enabled} turns one on" if hints.pdb_enabled and "no PodDisruptionBudget" in why
                  else "")
        out.append(Proposal("drain", False, f"needs a PodDisruptionBudget and more than 1 replica: {why}{switch}"
                            + _where(bad, labels)))

    path = stream_path(surveys)
    buffering = sorted({f"Ingress {r.name}" for s in surveys.values() for r in s.routes if r.buffering_off})
    clues = ([f"{', '.join(buffering)} turns proxy buffering off"] if buffering else []) + (
        [f"values {', '.join(hints.stream_keys[:3])}"] if hints.stream_keys else [])
    if path:
        out.append(Proposal("sse", True, f"route path {path} names a stream (sse.path)"))
    elif clues:
        out.append(Proposal("sse", False, f"fill in: sse.path, the stream's path — {'; '.join(clues)}, but the "
                            "chart does not say which path streams"))
    else:
        out.append(Proposal("sse", False, "no sign of an event stream (no proxy-buffering off, no stream values); "
                            "add sse.path if the application streams"))

    db = [d for s in surveys.values() for d in s.database]
    names = sorted({d.name for d in db})
    if hints.db_secret and hints.db_secret_key:
        seen = f" (env {', '.join(names)})" if names else ""
        out.append(Proposal("db_outage", True, f"values {hints.db_secret} / {hints.db_secret_key} name the database "
                            f"Secret{seen}; the harness's PostgreSQL fills them"))
    elif db or hints.db_keys:
        where = f"env {', '.join(names)}" if names else f"values {', '.join(hints.db_keys[:3])}"
        out.append(Proposal("db_outage", False, f"fill in: postgres.secretValue and postgres.secretKeyValue, the "
                            f"values paths that name a Secret holding the database DSN — the chart has {where}, "
                            "but no values key for that Secret was found"))
    else:
        out.append(Proposal("db_outage", False, "no database setting found (no DATABASE_URL/PG*/*_DSN env, no "
                            "database values)"))
    return out
