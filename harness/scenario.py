"""What every scenario shares: its targets, its context, release operations, observations, the report.

* :class:`Target` — one chart under test in one values variant (``ci/<variant>-values.yaml``), or
  with one broken overlay (a negative control). :func:`targets_for` lists them per scenario from
  the contracts, at collection time.
* :class:`Settings` — the scenarios' own knobs (hold and outage durations, rates, budgets), read
  from ``HARNESS_SCENARIO_*`` environment variables (docs/scenarios.md lists them).
* :class:`ScenarioContext` — everything ``run_<scenario>(ctx)`` needs: the namespace, a bound
  Helm, the API client, the add-ons, and helpers to install the released or candidate chart, wait
  for rollouts, reach the ingress, probe it, read pods and write/read data.
* :class:`NamespaceWatch` — a background watch of a namespace's pods and Jobs, so a scenario can
  tell when a migration Job completed relative to when the first new pod became Ready (a hook Job
  is deleted by helm right after it succeeds; the watch still sees its last state).
* :data:`REPORT` — the session's scenario figures, printed beside the timings at the end and
  written to ``<artifacts>/scenarios.json``.
"""
from __future__ import annotations

import json
import os
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

import yaml

from . import diagnostics, namespaces, progress, timings
from .contract import Broken, ChartUnderTest
from .drain import api_status
from .errors import HarnessError, WaitFailed
from .kube import REQUEST_TIMEOUT
from .verdicts import DataFacts, PodsFacts, Verdict
from .wait import wait_for

POSTRENDER = Path(__file__).resolve().parent / "postrender.py"
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet")


# --------------------------------------------------------------------------- settings


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name, "")
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise HarnessError(f"{name}={raw!r} is not a number") from None
    if value < 0:
        raise HarnessError(f"{name}={raw!r} must not be negative")
    return value


@dataclass(frozen=True)
class Settings:
    """The scenarios' knobs; each is ``HARNESS_SCENARIO_<NAME>`` in the environment (upper case).

    Attributes:
        probe_rate: prober requests per second. probe_concurrency: requests in flight at most.
        sse_streams: streams per chart. sse_hold: seconds the streams are held before the rollout
            (>= 120: events 90 s apart must be seen to be missed). sse_margin: a stream must carry
            a byte at least every ``proxy read timeout - margin`` seconds. sse_reconnect_bound:
            longest acceptable reconnect during the rollout.
        drain_budget: seconds for one drain. drain_blocked_after: seconds of refusals by a PDB that
            can never allow before the drain gives up early.
        outage_min: shortest database outage. outage_margin: added to the liveness budget when
            computing the outage length and to the readiness bound. recovery_margin: added to the
            readiness period for the recovery bound.
        rollback_fail_timeout: helm ``--timeout`` of the upgrade that must fail (its new pods never
            become Ready, so helm waits this long).
        settle: seconds the prober keeps running after a rollout finished.
    """

    probe_rate: float = 20.0
    probe_concurrency: int = 16
    sse_streams: int = 3
    sse_hold: float = 120.0
    sse_margin: float = 5.0
    sse_reconnect_bound: float = 10.0
    drain_budget: float = 120.0
    drain_blocked_after: float = 15.0
    outage_min: float = 25.0
    outage_margin: float = 5.0
    recovery_margin: float = 10.0
    rollback_fail_timeout: float = 40.0
    settle: float = 3.0

    @classmethod
    def from_env(cls) -> Settings:
        kwargs: dict[str, Any] = {}
        for f in cls.__dataclass_fields__.values():
            name = "HARNESS_SCENARIO_" + f.name.upper()
            default = f.default
            v = _env_float(name, float(default))  # type: ignore[arg-type]
            kwargs[f.name] = int(v) if isinstance(default, int) and not isinstance(default, bool) else v
        return cls(**kwargs)


# --------------------------------------------------------------------------- targets


@dataclass(frozen=True)
class Target:
    """One chart in one configuration.

    Attributes:
        chart: the ChartUnderTest. variant: ``default`` / ``tls`` / ... (from ``ci/<variant>-values.yaml``).
        values: the variant's values files. broken: the broken overlay of a negative control.
    """

    chart: ChartUnderTest
    variant: str
    values: tuple[Path, ...] = ()
    broken: Broken | None = None

    @property
    def id(self) -> str:
        base = f"{self.chart.name}-{self.variant}"
        return f"{self.chart.name}-broken-{self.broken.name}" if self.broken else base

    @property
    def contract(self) -> Any:
        return self.chart.contract

    def __str__(self) -> str:
        return self.id


def variants(chart: ChartUnderTest) -> list[tuple[str, tuple[Path, ...]]]:
    """``[(name, values files)]``: one per ``ci/*-values.yaml`` of a local chart directory (name
    without ``-values``), else ``[("default", ())]``."""
    if chart.ref.kind == "dir":
        files = sorted((Path(chart.ref.ref) / "ci").glob("*-values.yaml"))
        if files:
            return [(f.name[: -len("-values.yaml")], (f,)) for f in files]
    return [("default", ())]


def targets_for(scenario: str, charts: Iterable[ChartUnderTest], *, negative: bool) -> list[Target]:
    """The positive targets (every variant of every chart whose contract lists ``scenario``) or the
    negative ones (each broken overlay for ``scenario``, on the default variant, as lint-charts.sh
    renders them). Charts without a contract get no scenarios (the contract says where to probe)."""
    out: list[Target] = []
    for chart in charts:
        c = chart.contract
        if c is None or not c.supports(scenario):
            continue
        vs = variants(chart)
        if not negative:
            out += [Target(chart, name, files) for name, files in vs]
            continue
        default = next((v for v in vs if v[0] == "default"), vs[0])
        out += [Target(chart, default[0], default[1], b) for b in c.broken_for(scenario)]
    return out


# --------------------------------------------------------------------------- report


@dataclass
class ReportRow:
    nodeid: str
    scenario: str
    target: str
    control: str
    outcome: str
    seconds: float
    reason: str
    figures: dict[str, Any] = field(default_factory=dict)


class ScenarioReport:
    """The session's scenario results (thread-safe)."""

    def __init__(self) -> None:
        self.rows: list[ReportRow] = []
        self._lock = threading.Lock()

    def reset(self) -> None:
        with self._lock:
            self.rows.clear()

    def add(self, row: ReportRow) -> None:
        with self._lock:
            self.rows.append(row)

    def table(self) -> str:
        """One line per scenario test: scenario, target, control, outcome, seconds, headline figures, reason."""
        with self._lock:
            rows = list(self.rows)
        if not rows:
            return "(no scenarios ran)"
        head = ["scenario", "target", "control", "outcome", "seconds", "figures", "reason"]
        keys = ("failed_requests", "requests", "longest_failure_seconds", "drain_seconds", "eviction_refusals_429",
                "hold_longest_silence_s", "rollout_max_reconnect_s", "slowest_not_ready_s", "ready_after_recovery_s",
                "restarts")
        lines = []
        for r in rows:
            figs = ", ".join(f"{k}={r.figures[k]}" for k in keys if r.figures.get(k) not in (None, ""))
            lines.append([r.scenario, r.target, r.control, r.outcome, f"{r.seconds:.0f}", figs, r.reason[:160]])
        widths = [max(len(head[i]), *(len(x[i]) for x in lines)) for i in range(5)]
        out = ["  ".join(h.ljust(w) for h, w in zip(head[:5], widths, strict=True)) + "  figures / reason"]
        for x in lines:
            out.append("  ".join(v.ljust(w) for v, w in zip(x[:5], widths, strict=True)) + f"  {x[5]}")
            out.append(" " * (sum(widths) + 10) + f"  {x[6]}")
        return "\n".join(out)

    def to_json(self) -> dict[str, Any]:
        with self._lock:
            return {"scenarios": [r.__dict__ for r in self.rows]}

    def write_json(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_json(), indent=2, default=str) + "\n")
        return path


REPORT = ScenarioReport()


# --------------------------------------------------------------------------- watching a namespace


@dataclass
class PodState:
    name: str
    uid: str
    images: tuple[str, ...]
    owner_kind: str
    first_seen: float
    ready_at: float | None = None            # observed wall time it first became Ready
    not_ready_at: float | None = None        # observed wall time it last turned NotReady
    ready_transition: float | None = None    # the API's Ready lastTransitionTime (epoch seconds)
    deleted_at: float | None = None
    job: str = ""


@dataclass
class JobState:
    name: str
    uid: str
    hook: str
    created: float                           # creationTimestamp (epoch)
    first_seen: float
    completed_at: float | None = None        # observed wall time it was first seen Complete
    completion_time: float | None = None     # status.completionTime (epoch)
    failed: bool = False
    deleted_at: float | None = None

    @property
    def outcome(self) -> str:
        return "failed" if self.failed else ("succeeded" if self.completed_at or self.completion_time else "unknown")


def _epoch(value: Any) -> float | None:
    return value.timestamp() if value is not None else None


class NamespaceWatch:
    """Watch pods and Jobs of one namespace in background threads and keep their history.

    Each watch runs in ``timeout_seconds`` slices and resumes from its resourceVersion until
    :meth:`stop`; a 410 (expired) re-lists. Bounded by ``max_duration``.
    """

    def __init__(self, api: Any, namespace: str, *, max_duration: float = 900.0):
        self.api = api
        self.namespace = namespace
        self.max_duration = max_duration
        self.pods: dict[str, PodState] = {}
        self.jobs: dict[str, JobState] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.errors: list[str] = []

    def start(self) -> NamespaceWatch:
        from kubernetes import client

        core = client.CoreV1Api(self.api)
        batch = client.BatchV1Api(self.api)
        for kind, fn in (("pods", core.list_namespaced_pod), ("jobs", batch.list_namespaced_job)):
            t = threading.Thread(target=self._loop, args=(kind, fn), name=f"watch-{kind}-{self.namespace}",
                                 daemon=True)
            t.start()
            self._threads.append(t)
        return self

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(10)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _loop(self, kind: str, list_fn: Callable[..., Any]) -> None:
        from kubernetes import watch

        deadline = time.monotonic() + self.max_duration
        rv: str | None = None
        while not self._stop.is_set() and time.monotonic() < deadline:
            try:
                if rv is None:
                    listed = list_fn(self.namespace, _request_timeout=REQUEST_TIMEOUT)
                    for obj in listed.items:
                        self._observe(kind, "ADDED", obj)
                    rv = listed.metadata.resource_version
                w = watch.Watch()
                for ev in w.stream(list_fn, self.namespace, resource_version=rv, timeout_seconds=5):
                    if ev["type"] == "ERROR":
                        rv = None
                        break
                    obj = ev["object"]
                    rv = obj.metadata.resource_version
                    self._observe(kind, ev["type"], obj)
                    if self._stop.is_set():
                        break
                w.stop()
            except Exception as exc:  # noqa: BLE001 - keep watching; the problem is noted
                if api_status(exc) == 410:
                    rv = None
                    continue
                self.errors.append(f"{kind}: {type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}")
                rv = None
                self._stop.wait(1.0)

    def _observe(self, kind: str, etype: str, obj: Any) -> None:
        now = time.time()
        with self._lock:
            if kind == "pods":
                self._observe_pod(etype, obj, now)
            else:
                self._observe_job(etype, obj, now)

    def _observe_pod(self, etype: str, pod: Any, now: float) -> None:
        md = pod.metadata
        st = self.pods.get(md.name)
        if st is None or st.uid != md.uid:
            owner = (md.owner_references or [None])[0]
            st = PodState(md.name, md.uid, tuple(c.image for c in pod.spec.containers), owner.kind if owner else "",
                          now, job=(md.labels or {}).get("job-name", ""))
            self.pods[md.name] = st
        if etype == "DELETED":
            st.deleted_at = st.deleted_at or now
            return
        ready = False
        for c in (pod.status.conditions or []) if pod.status else []:
            if c.type == "Ready":
                ready = c.status == "True"
                if ready:
                    st.ready_transition = _epoch(c.last_transition_time)
        if md.deletion_timestamp is not None:
            st.deleted_at = st.deleted_at or now
        if ready and st.ready_at is None:
            st.ready_at = now
        if not ready and st.ready_at is not None:
            st.not_ready_at = now

    def _observe_job(self, etype: str, job: Any, now: float) -> None:
        md = job.metadata
        st = self.jobs.get(md.uid)
        if st is None:
            st = JobState(md.name, md.uid, (md.annotations or {}).get("helm.sh/hook", ""),
                          _epoch(md.creation_timestamp) or now, now)
            self.jobs[md.uid] = st
        s = job.status
        if s is not None:
            for c in s.conditions or []:
                if c.type == "Complete" and c.status == "True" and st.completed_at is None:
                    st.completed_at = now
                if c.type == "Failed" and c.status == "True":
                    st.failed = True
            if s.completion_time is not None:
                st.completion_time = _epoch(s.completion_time)
                st.completed_at = st.completed_at or now
        if etype == "DELETED":
            st.deleted_at = now

    def snapshot(self) -> tuple[dict[str, PodState], dict[str, JobState]]:
        with self._lock:
            return ({k: PodState(**v.__dict__) for k, v in self.pods.items()},
                    {k: JobState(**v.__dict__) for k, v in self.jobs.items()})


# --------------------------------------------------------------------------- manifests


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


# --------------------------------------------------------------------------- the context


@dataclass
class Env:
    """The session-wide pieces a scenario needs (built once by scenarios/conftest.py)."""

    cfg: Any
    api: Any
    cluster: Any
    kubectl: Any
    addons: Any
    settings: Settings
    helm_home: Path


class ScenarioContext:
    """One scenario run against one target in one namespace; see the module docstring.

    Args:
        scenario: ``upgrade`` ... target: the :class:`Target`. namespace: created for it.
        env: :class:`Env`. helm: a :class:`harness.helm.Helm` bound to the namespace.
        artifacts: directory for CSV/PNG/JSON evidence (created on first write).
        record: ``(name, value) -> None`` (JUnit property); figures are also kept in :attr:`figures`.
    """

    def __init__(self, scenario: str, target: Target, namespace: str, env: Env, helm: Any, artifacts: Path,
                 record: Callable[[str, Any], None] | None = None):
        from .helm import release_name
        from .namespaces import random_suffix

        self.scenario = scenario
        self.target = target
        self.namespace = namespace
        self.env = env
        self.helm = helm
        self.artifacts = artifacts
        self._record = record
        self.figures: dict[str, Any] = {}
        self.release = release_name(target.chart.release_prefix, random_suffix(5))
        self.settings = env.settings
        self._db_ready = False
        self._base: tuple[str, Any, Any] | None = None

    # -- bookkeeping

    @property
    def cfg(self) -> Any:
        return self.env.cfg

    @property
    def api(self) -> Any:
        return self.env.api

    @property
    def contract(self) -> Any:
        return self.target.contract

    def record(self, name: str, value: Any) -> None:
        self.figures[name] = value
        if self._record is not None:
            self._record(name, value)

    def record_all(self, figures: Mapping[str, Any]) -> None:
        for k, v in figures.items():
            self.record(k, v)

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        """A named step: a timings phase (printed at the end) and progress lines."""
        with timings.phase(f"{self.scenario} {self.target.id}: {name}"):
            yield

    def say(self, message: str) -> None:
        progress.say(f"{self.scenario} {self.target.id}: {message}")

    # -- values and charts

    @property
    def candidate(self) -> Any:
        return self.target.chart.ref

    @property
    def candidate_version(self) -> str | None:
        """The candidate's appVersion (Chart.yaml of a chart directory), else None."""
        ref = self.candidate
        if ref.kind == "dir":
            meta = yaml.safe_load((Path(ref.ref) / "Chart.yaml").read_text()) or {}
            v = meta.get("appVersion")
            return str(v) if v is not None else None
        return None

    def values(self, *, candidate: bool) -> list[Path]:
        """Configured values, the variant's values, and (candidate only) the broken overlay."""
        out = [*self.target.chart.values, *self.target.values]
        if candidate and self.target.broken is not None:
            out.append(self.target.broken.values)
        return out

    def sets(self) -> list[str]:
        return [*self.target.chart.sets, *self._db_sets()]

    def _db_sets(self) -> list[str]:
        pg = self.contract.postgres if self.contract else None
        if pg is None:
            return []
        self.ensure_database()
        return [f"{pg.secret_value}={self._db_secret}", f"{pg.secret_key_value}={pg.secret_key}"]

    def ensure_database(self) -> None:
        """A database for this namespace on the postgres add-on, and the Secret the chart reads."""
        if self._db_ready:
            return
        pg = self.contract.postgres
        server = self.postgres
        server.create_database(self.namespace)
        self._db_secret = "postgres"
        if pg.secret_key != "dsn":  # the add-on's Secret has key "dsn"; give the chart its own key
            import base64

            self._db_secret = "harness-db"
            dsn = server.databases[self.namespace].dsn
            self.env.addons.kubectl.apply([{
                "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                "metadata": {"name": self._db_secret, "namespace": self.namespace},
                "data": {pg.secret_key: base64.b64encode(dsn.encode()).decode()}}])
        self._db_ready = True

    @property
    def postgres(self) -> Any:
        """The postgres add-on's server (harness.addons.postgres.PostgresServer)."""
        return self.env.addons.addon_state("postgres")

    # -- release operations

    @property
    def cert_manager_ca(self) -> Path | None:
        """The cert-manager add-on's CA certificate, when the add-on is installed in this session."""
        state = getattr(self.env.addons, "state", {}) or {}
        ca = state.get("cert-manager")
        return Path(ca) if ca else None

    def require_reachable_ingress(self, chart: Any, values: Sequence[Path]) -> None:
        """Skip (with the reason) when the rendered Ingress has TLS but no cert-manager add-on runs:
        nothing would write its Secret, so the ingress controller serves the host only with its
        default certificate, which no client can verify, and redirects plain HTTP to HTTPS
        (docs/addons.md): no availability could be measured the way users reach it."""
        if self.cert_manager_ca is not None:
            return
        try:
            objs = manifest_objects(self.helm.template(self.release, chart, namespace=self.namespace,
                                                       values=values, sets=self.sets()))
        except HarnessError:
            return  # the install itself will report a rendering problem
        if ingress_has_tls(objs):
            import pytest

            pytest.skip(f"{self.target.id}: the Ingress has spec.tls but the cert-manager add-on is not installed; "
                        "nothing writes the TLS Secret, so the ingress controller serves the host only with its "
                        "default (unverifiable) certificate and redirects HTTP to it "
                        "(add cert-manager to addons to run this variant)")

    @property
    def host(self) -> str:
        """This release's own ingress host, ``<release>.<contract host>`` (see :meth:`postrender`)."""
        return f"{self.release}.{self.contract.ingress.host}"

    def postrender(self, *ops: str) -> list[str]:
        """helm flags running harness/postrender.py on the rendered manifests: always the host
        rename (contract host -> :attr:`host`, so releases of one chart never share a route, not
        even with a release whose namespace is still being deleted), plus ``ops``."""
        import sys

        args = ["--post-renderer", sys.executable, "--post-renderer-args", str(POSTRENDER)]
        for op in (f"host:{self.contract.ingress.host}={self.host}", *ops):
            args += ["--post-renderer-args", op]
        return args

    def install_released(self) -> Any:
        """``helm install`` the contract's released chart with the variant's values (not the overlay)."""
        rel = self.contract.released
        if rel is None:
            raise HarnessError(f"{self.target.chart.name}: the contract has no released chart")
        self.require_reachable_ingress(rel.ref, self.values(candidate=False))
        with self.step(f"install released {rel.chart} {rel.version or ''}".strip()):
            return self.helm.install(self.release, rel.ref, values=self.values(candidate=False), sets=self.sets(),
                                     wait=True, timeout=self.cfg.timeouts.install, extra=self.postrender())

    def install_candidate(self) -> Any:
        """``helm install`` the candidate with the variant's values and, for a negative control, its overlay."""
        self.require_reachable_ingress(self.candidate, self.values(candidate=True))
        with self.step("install candidate"):
            return self.helm.install(self.release, self.candidate, values=self.values(candidate=True),
                                     sets=self.sets(), wait=True, timeout=self.cfg.timeouts.install,
                                     extra=self.postrender())

    def upgrade_to_candidate(self, *, timeout: float | None = None, ops: Sequence[str] = ()) -> Any:
        """``helm upgrade --wait`` to the candidate (post-render ``ops`` besides the host rename)."""
        return self.helm.upgrade(self.release, self.candidate, values=self.values(candidate=True), sets=self.sets(),
                                 wait=True, timeout=timeout or self.cfg.timeouts.upgrade,
                                 extra=self.postrender(*ops))

    def manifest(self, revision: int | None = None) -> list[dict[str, Any]]:
        return manifest_objects(self.helm.get_manifest(self.release, revision=revision))

    # -- workloads and pods

    def workloads(self, objs: list[dict[str, Any]] | None = None) -> list[tuple[str, str]]:
        """``[(kind, name)]`` of the release's Deployments/StatefulSets/DaemonSets."""
        objs = objs if objs is not None else self.manifest()
        return [(o["kind"], o["metadata"]["name"]) for o in objs if o.get("kind") in WORKLOAD_KINDS]

    def wait_rolled_out(self, *, timeout: float | None = None) -> None:
        from . import conditions
        from .wait import all_of

        conds = []
        for kind, name in self.workloads():
            if kind == "Deployment":
                conds.append(conditions.deployment_rolled_out(self.api, self.namespace, name))
            elif kind == "StatefulSet":
                conds.append(conditions.statefulset_rolled_out(self.api, self.namespace, name))
        if conds:
            wait_for(all_of(*conds), timeout=timeout or self.cfg.timeouts.rollout, interval=1.0)

    def selectors(self) -> list[str]:
        from kubernetes import client

        apps = client.AppsV1Api(self.api)
        out = []
        for kind, name in self.workloads():
            read = {"Deployment": apps.read_namespaced_deployment, "StatefulSet": apps.read_namespaced_stateful_set,
                    "DaemonSet": apps.read_namespaced_daemon_set}[kind]
            obj = read(name, self.namespace, _request_timeout=REQUEST_TIMEOUT)
            ml = obj.spec.selector.match_labels or {}
            out.append(",".join(f"{k}={v}" for k, v in sorted(ml.items())))
        return out

    def pods(self, *, include_terminating: bool = False) -> list[Any]:
        """The workloads' pods (not Jobs')."""
        from kubernetes import client

        core = client.CoreV1Api(self.api)
        seen: dict[str, Any] = {}
        for sel in self.selectors():
            for p in core.list_namespaced_pod(self.namespace, label_selector=sel,
                                              _request_timeout=REQUEST_TIMEOUT).items:
                if include_terminating or p.metadata.deletion_timestamp is None:
                    seen[p.metadata.name] = p
        return list(seen.values())

    def desired_replicas(self) -> int:
        from kubernetes import client

        apps = client.AppsV1Api(self.api)
        n = 0
        for kind, name in self.workloads():
            if kind == "Deployment":
                n += apps.read_namespaced_deployment(name, self.namespace,
                                                     _request_timeout=REQUEST_TIMEOUT).spec.replicas or 0
            elif kind == "StatefulSet":
                n += apps.read_namespaced_stateful_set(name, self.namespace,
                                                       _request_timeout=REQUEST_TIMEOUT).spec.replicas or 0
        return n

    def pods_facts(self, versions: Sequence[str] = ()) -> PodsFacts:
        from .conditions import pod_is_ready

        pods = self.pods()
        return PodsFacts({p.metadata.name: [c.image for c in p.spec.containers] for p in pods},
                         sum(1 for p in pods if pod_is_ready(p)), self.desired_replicas(), list(versions))

    def wait_no_terminating(self, timeout: float = 90.0) -> None:
        """Until no workload pod is terminating (old pods of a rollout finished their shutdown)."""
        def check() -> tuple[bool, str]:
            term = [p.metadata.name for p in self.pods(include_terminating=True) if p.metadata.deletion_timestamp]
            return not term, f"terminating: {', '.join(term) or 'none'}"

        wait_for(check, timeout=timeout, interval=1.0, what=f"old pods of {self.release} to finish terminating")

    def restart_counts(self) -> dict[str, int]:
        from .conditions import restart_counts

        return restart_counts(self.pods(include_terminating=True))

    # -- the ingress

    def ingress_base(self) -> tuple[str, Any, Any]:
        """``(base_url, verify, session_factory)`` to reach the chart's Ingress from the host.

        HTTPS through 127.0.0.1:<https port> (SNI = the contract's host, verified against the
        cert-manager add-on's CA) when the rendered Ingress has TLS and that CA exists; otherwise
        plain HTTP through 127.0.0.1:<http port>.
        """
        if self._base is not None:
            return self._base
        from .prober import https_session_factory

        addons = self.env.addons
        http_port = getattr(addons, "http_port", 18080)
        https_port = getattr(addons, "https_port", 18443)
        ca = self.cert_manager_ca
        try:
            tls = ingress_has_tls(self.manifest())
        except HarnessError:
            tls = False
        if tls and ca is not None and ca.is_file():
            self._base = (f"https://127.0.0.1:{https_port}", str(ca), https_session_factory(self.host))
        else:
            self._base = (f"http://127.0.0.1:{http_port}", True, None)
        self.record("ingress_url", self._base[0])
        return self._base

    def http(self, method: str, path: str, *, json_body: Any = None, timeout: float = 10.0) -> Any:
        """One request through the ingress with the contract's Host header (no redirects followed)."""
        import requests

        base, verify, factory = self.ingress_base()
        s = factory() if factory else requests.Session()
        s.trust_env = False
        try:
            return s.request(method, base + path, headers={"Host": self.host}, json=json_body,
                             timeout=timeout, verify=verify, allow_redirects=False)
        finally:
            s.close()

    def wait_serving(self, path: str | None = None, *, timeout: float | None = None, want: int = 200) -> None:
        """Until ``path`` (default: the probe path) answers ``want`` through the ingress: an
        Ingress reaches the controller a moment after helm returns."""
        import requests

        path = path or self.contract.ingress.probe_path

        def check() -> tuple[bool, str]:
            try:
                r = self.http("GET", path, timeout=10)
            except requests.RequestException as exc:
                return False, type(exc).__name__
            if r.status_code in (301, 302, 307, 308):
                raise WaitFailed(f"the ingress redirects {path} to {r.headers.get('Location')} (HTTP "
                                 f"{r.status_code}); serve HTTP, or install the cert-manager add-on so the harness "
                                 "can verify HTTPS")
            return r.status_code == want, f"HTTP {r.status_code}"

        wait_for(check, timeout=timeout or self.cfg.timeouts.wait, interval=0.5,
                 what=f"{self.host}{path} to answer {want} through the ingress",
                 transient=lambda exc: False)

    def prober(self, path: str | None = None, **kw: Any) -> Any:
        from .prober import Prober

        base, verify, factory = self.ingress_base()
        s = self.settings
        opts = {"host": self.host, "rate": s.probe_rate, "concurrency": s.probe_concurrency,
                    "max_duration": 1800, "verify": verify, "session_factory": factory, "name": f"probe-{self.target.id}"}
        opts.update(kw)
        return Prober(base, path or self.contract.ingress.probe_path, **opts)

    def sse_group(self, count: int | None = None, **kw: Any) -> Any:
        from .sse import SseGroup

        base, verify, factory = self.ingress_base()
        opts = {"host": self.host, "verify": verify, "session_factory": factory, "max_duration": 1800,
                    "read_timeout": 900}
        opts.update(kw)
        return SseGroup(count or self.settings.sse_streams, base + self.contract.sse.path, **opts)

    # -- data through the ingress

    def write_items(self, n: int = 2, *, timeout: float = 30.0) -> dict[str, str]:
        """POST ``n`` items through the ingress (retried within ``timeout``); ``{id: value}``."""
        import requests

        out: dict[str, str] = {}
        deadline = time.monotonic() + timeout
        while len(out) < n and time.monotonic() < deadline:
            value = f"{self.scenario}-{secrets.token_hex(6)}"
            try:
                r = self.http("POST", "/items", json_body={"value": value})
                if r.status_code == 201:
                    out[str(r.json()["id"])] = value
                    continue
            except (requests.RequestException, ValueError, KeyError):
                pass
            time.sleep(1.0)
        return out

    def read_items(self, written: Mapping[str, str]) -> dict[str, tuple[int | None, str | None]]:
        import requests

        out: dict[str, tuple[int | None, str | None]] = {}
        for k in written:
            try:
                r = self.http("GET", f"/items/{k}")
                value = r.json().get("value") if r.status_code == 200 else None
                out[k] = (r.status_code, value)
            except (requests.RequestException, ValueError):
                out[k] = (None, None)
        return out

    def data_facts(self, written: Mapping[str, str], *, write_after: bool = True) -> DataFacts:
        read = self.read_items(written)
        status = None
        if write_after:
            try:
                status = self.http("POST", "/items", json_body={"value": "after"}).status_code
            except Exception:  # noqa: BLE001 - a failed write is reported as its status (None)
                status = None
        return DataFacts(dict(written), read, status)

    # -- evidence

    def save_probe(self, result: Any, name: str = "probe", title: str = "") -> None:
        from . import plots

        result.write_csv(self.artifacts / f"{name}.csv")
        plots.probe_timeline(result, self.artifacts / f"{name}.png", title=title)

    def save_streams(self, results: Sequence[Any], name: str = "sse", title: str = "") -> None:
        from . import plots

        self.artifacts.mkdir(parents=True, exist_ok=True)
        (self.artifacts / f"{name}.json").write_text(json.dumps([r.to_json() for r in results], default=str))
        plots.sse_timeline(results, self.artifacts / f"{name}.png", title=title)

    def finish(self, verdict: Verdict) -> Verdict:
        """Record the verdict's figures and write ``verdict.json`` into the artifacts directory."""
        self.record_all(verdict.figures)
        self.record("verdict", "PASS" if verdict.passed else "FAIL")
        self.record("reason", verdict.reason)
        self.artifacts.mkdir(parents=True, exist_ok=True)
        (self.artifacts / "verdict.json").write_text(json.dumps(
            {"passed": verdict.passed, "reason": verdict.reason, "failed": list(verdict.failed),
             "figures": self.figures}, indent=2, default=str) + "\n")
        return verdict


# --------------------------------------------------------------------------- pytest glue
# (used by scenarios/conftest.py and the scenario modules; pytest is imported lazily)


def _control(target: Target) -> str:
    return f"broken:{target.broken.name}" if target.broken else "positive"


def report_row(item: Any, scenario: str, target: Target, verdict: Verdict | None, seconds: float,
               figures: dict[str, Any], error: str | None = None) -> None:
    """Add one test's result to :data:`REPORT`."""
    if verdict is None and error and error.startswith("skipped"):
        outcome, reason = "SKIP", error
    elif verdict is None:
        outcome, reason = "ERROR", error or "the scenario did not reach a verdict"
    else:
        outcome, reason = ("PASS" if verdict.passed else "FAIL"), verdict.reason
    REPORT.add(ReportRow(item.nodeid, scenario, target.id, _control(target), outcome, round(seconds, 1), reason,
                         dict(figures)))


def check_verdict(verdict: Verdict, target: Target, scenario: str) -> None:
    """The assertion every scenario test ends with: a positive target must pass; a negative control
    must fail, and for one of the scenario's own criteria (the expected-failure pattern)."""
    import re

    from harness.verdicts import EXPECTED_FAILURE

    if target.broken is None:
        assert verdict.passed, verdict.reason
        return
    assert not verdict.passed, (f"negative control {target.broken.name} PASSED {scenario}, so the scenario does not "
                                f"catch what it claims ({target.broken.reason}): {verdict.reason}")
    pattern = EXPECTED_FAILURE[scenario]
    assert re.search(pattern, verdict.reason), (
        f"negative control {target.broken.name} failed {scenario}, but not for the expected reason "
        f"(/{pattern}/; contract: {target.broken.reason}): {verdict.reason}")


# --------------------------------------------------------------------------- shared runs


class SharedRun:
    """Prepare every selected target of one scenario module in its own namespace, run the shared
    long phase once, and keep each target's verdicts for its tests.

    Args:
        request: the module-scoped fixture's request (its module's selected items are the targets).
        env: the session's Env.
        scenario: the module's SCENARIO.
        prepare: ``(ctx) -> state`` for one target (install, open streams...).
        run: ``(list of (ctx, state), key) -> {target id: Verdict}``: the shared phase for one key
            (``None``, or a fault name) over every target that needs it.
    """

    def __init__(self, request: Any, env: Env, scenario: str,
                 prepare: Callable[[ScenarioContext], Any],
                 run: Callable[[list[tuple[ScenarioContext, Any]], Any], dict[str, Verdict]]):
        self.request = request
        self.env = env
        self.scenario = scenario
        self.prepare_fn = prepare
        self.run_fn = run
        self.items = [i for i in request.session.items if getattr(i, "module", None) is request.module]
        self.ctxs: dict[str, ScenarioContext] = {}
        self.states: dict[str, Any] = {}
        self.prepare_errors: dict[str, str] = {}
        self.skips: dict[str, str] = {}
        self.verdicts: dict[tuple[str, Any], Verdict] = {}
        self.run_errors: dict[Any, str] = {}
        self.seconds: dict[Any, float] = {}
        self._lock = threading.Lock()
        self._prepared = False

    @staticmethod
    def _target(item: Any) -> Target | None:
        params = getattr(getattr(item, "callspec", None), "params", {})
        return params.get("target") or params.get("broken_target")

    @staticmethod
    def _key(item: Any) -> Any:
        return getattr(getattr(item, "callspec", None), "params", {}).get("fault")

    def targets(self) -> list[Target]:
        out: dict[str, Target] = {}
        for i in self.items:
            t = self._target(i)
            if t is not None:
                out.setdefault(t.id, t)
        return list(out.values())

    def _ctx(self, target: Target) -> ScenarioContext:
        from harness.helm import Helm

        env = self.env
        first = next(i for i in self.items if getattr(self._target(i), "id", None) == target.id)
        ns = namespaces.create_namespace(env.api, f"{self.scenario}-{target.id}", run_id=_run_id(self.request),
                                         test_id=first.nodeid)
        helm = Helm(env.cluster.kubeconfig, home=env.helm_home, namespace=ns,
                    kube_context=env.cluster.context or None, default_timeout=env.cfg.timeouts.install)
        art = diagnostics.artifact_dir(env.cfg.artifacts_dir, f"{self.request.module.__name__}::{target.id}")
        return ScenarioContext(self.scenario, target, ns, env, helm, art)

    def prepare(self) -> None:
        if self._prepared:
            return
        self._prepared = True
        for t in self.targets():
            import pytest

            try:
                ctx = self._ctx(t)
                self.ctxs[t.id] = ctx
                self.states[t.id] = self.prepare_fn(ctx)
            except pytest.skip.Exception as exc:
                self.skips[t.id] = str(exc.msg if hasattr(exc, "msg") else exc)
            except Exception as exc:  # noqa: BLE001 - one target's setup must not stop the others
                self.prepare_errors[t.id] = f"{type(exc).__name__}: {exc}"
                progress.say(f"{self.scenario} {t.id}: preparation failed: {exc}")

    def verdict(self, target: Target, key: Any = None) -> Verdict:
        """The target's verdict for ``key`` (running the shared phase for ``key`` on first use).

        Raises:
            HarnessError: the target could not be prepared, or the shared phase broke down.
        """
        with self._lock:
            self.prepare()
            if target.id in self.skips:
                import pytest

                pytest.skip(self.skips[target.id])
            if target.id in self.prepare_errors:
                raise HarnessError(f"{target.id}: preparation failed: {self.prepare_errors[target.id]}")
            if (target.id, key) not in self.verdicts and key not in self.run_errors:
                wanted = {self._target(i).id for i in self.items  # type: ignore[union-attr]
                          if self._target(i) is not None and self._key(i) == key}
                pairs = [(self.ctxs[tid], self.states[tid]) for tid in self.ctxs if tid in wanted and tid in self.states]
                start = time.monotonic()
                try:
                    for tid, v in self.run_fn(pairs, key).items():
                        self.verdicts[(tid, key)] = v
                except Exception as exc:  # noqa: BLE001 - the shared phase's error is reported per test
                    self.run_errors[key] = f"{type(exc).__name__}: {exc}"
                self.seconds[key] = time.monotonic() - start
            if key in self.run_errors and (target.id, key) not in self.verdicts:
                raise HarnessError(f"the shared {self.scenario} run{'' if key is None else ' ' + str(key)} failed: "
                                   f"{self.run_errors[key]}")
            return self.verdicts[(target.id, key)]

    def finish(self) -> None:
        """Diagnostics for targets with a failed test, then delete or keep their namespaces."""
        from harness.helm import Helm
        from harness.plugin import ARTIFACT_PROPERTY, STATE_KEY

        state = self.request.config.stash[STATE_KEY]
        cfg = self.env.cfg
        for tid, ctx in self.ctxs.items():
            for fin in getattr(ctx, "finalizers", []):
                try:
                    fin()
                except Exception as exc:  # noqa: BLE001 - cleanup must not hide the tests' results
                    state.notes.append(f"{self.scenario} {tid}: cleanup failed: {exc}")
            failed_items = [i for i in self.items if (self._target(i) is not None and self._target(i).id == tid)
                            and any(getattr(getattr(i, f"rep_{w}", None), "failed", False) for w in ("setup", "call"))]
            failed = bool(failed_items)
            if failed:
                dest = diagnostics.artifact_dir(cfg.artifacts_dir, failed_items[0].nodeid)
                helm = Helm(self.env.cluster.kubeconfig, home=self.env.helm_home,
                            kube_context=self.env.cluster.context or None)
                path, error = diagnostics.collect_safely(self.env.api, ctx.namespace, dest, helm=helm)
                if path is not None:
                    for i in failed_items:
                        i.user_properties.append((ARTIFACT_PROPERTY, str(path)))
                    state.artifacts.append((failed_items[0].nodeid, path))
                else:
                    state.notes.append(f"diagnostics for {tid} failed:\n{error}")
            if namespaces.should_keep(cfg.keep_cluster, failed) and failed:
                state.kept.append(f"namespace {ctx.namespace} ({self.scenario} {tid})")
                continue
            try:
                namespaces.delete_namespace(self.env.api, ctx.namespace, wait=False)
            except Exception as exc:  # noqa: BLE001 - cleanup must not hide the tests' results
                state.notes.append(f"deleting namespace {ctx.namespace} failed: {exc}")
            pg = self.env.addons.state.get("postgres") if hasattr(self.env.addons, "state") else None
            if pg is not None and ctx.namespace in getattr(pg, "databases", {}):
                try:
                    pg.drop_database(ctx.namespace)
                except Exception:  # noqa: BLE001, S110 - best effort: the namespace is gone anyway
                    pass


def _run_id(request: Any) -> str:
    from harness.plugin import STATE_KEY

    return request.config.stash[STATE_KEY].run_id


def shared_test(request: Any, run: SharedRun, target: Target, key: Any,
                record_property: Callable[[str, Any], None]) -> Verdict:
    """What a shared-run test does: get its verdict, record figures, report, return it."""
    import pytest

    start = time.monotonic()
    verdict: Verdict | None = None
    error = "the shared run failed (see the test's error)"
    try:
        verdict = run.verdict(target, key)
        return verdict
    except pytest.skip.Exception as exc:
        error = f"skipped: {getattr(exc, 'msg', exc)}"
        raise
    except Exception as exc:
        error = f"{type(exc).__name__}: {str(exc).splitlines()[0][:300] if str(exc) else ''}"
        raise
    finally:
        seconds = time.monotonic() - start
        figures = dict(verdict.figures) if verdict else {}
        figures["shared_run_seconds"] = round(run.seconds.get(key, 0.0), 1)
        for k, v in figures.items():
            record_property(k, v)
        record_property("scenario_seconds", round(seconds, 1))
        if verdict is not None:
            record_property("reason", verdict.reason)
        report_row(request.node, run.scenario, target, verdict, seconds, figures, None if verdict else error)
