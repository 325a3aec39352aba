"""The context a scenario procedure runs in: the namespace, a bound Helm, the API client, the add-ons,
and helpers to install the released or candidate chart, wait for rollouts, reach the ingress, probe
it, read pods and write/read data."""
from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import requests
import yaml

from harness.core import progress
from harness.core.artifacts import write_text
from harness.core.edges import TRAEFIK_GATEWAY, TRAEFIK_NGINX
from harness.core.errors import HarnessError, ScenarioSkipped, WaitFailed
from harness.core.redact import Redactor, objects_secrets
from harness.env.addons import gateway_tls
from harness.k8s import conditions
from harness.k8s.namespaces import random_suffix
from harness.k8s.wait import all_of, wait_for
from harness.k8s.watch import NamespaceWatch
from harness.measure import plots
from harness.measure.prober import Prober, https_session_factory
from harness.measure.sse import SseGroup
from harness.scenario import datacheck
from harness.scenario.datacheck import Written
from harness.scenario.manifests import ingress_has_tls, manifest_objects
from harness.scenario.observer import ReleaseObserver
from harness.scenario.result import (
    Cell,
    CheckResult,
    Outcome,
    ScenarioResult,
    figures_from,
)
from harness.scenario.settings import Settings
from harness.scenario.steps import Attempt, Steps
from harness.scenario.targets import Target, set_pairs, values_files
from harness.scenario.verdicts import EXPECTED_FAILURE, DataFacts, PodsFacts, Verdict
from harness.tools.helm import release_name

POSTRENDER = Path(__file__).resolve().parents[1] / "tools" / "postrender.py"

# Figures the context records for the JUnit properties and verdict.json that the result record
# carries as fields of its own (outcome, reason), not as figures.
_NOT_FIGURES = ("verdict", "reason")


@dataclass
class Env:
    """The session-wide pieces a scenario needs (built once by the ``scenario_env`` fixture in
    harness/plugin/scenarios.py).

    ``cell`` is the matrix cell the session runs in (Kubernetes version, helm version, edge); it
    goes into every result record.
    """

    cfg: Any
    api: Any
    cluster: Any
    kubectl: Any
    addons: Any
    settings: Settings
    helm_home: Path
    cell: Cell = Cell()


@dataclass(frozen=True)
class Checkpoint:
    """How many steps and artifacts a context had recorded at one moment (see :meth:`ScenarioContext.checkpoint`)."""

    steps: int = 0
    artifacts: int = 0


def _no_version(headers: Any, body: bytes) -> None:
    """The prober's version source for a contract without ``versionFrom``: nothing."""
    return None


def result_record(scenario: str, target: Target, outcome: Outcome, reason: str, *, cell: Cell = Cell(),
                  key: Any = None, **fields: Any) -> ScenarioResult:
    """A :class:`ScenarioResult` for ``target`` (chart, variant, control and, for a control, the
    expected failure pattern filled in); ``fields`` are the record's other fields (checks, steps...)."""
    return ScenarioResult(
        scenario=scenario, chart=target.chart.name, variant=target.variant,
        control=target.broken.name if target.broken is not None else None, outcome=outcome, reason=reason,
        cell=cell, key=None if key is None else str(key),
        expected_reason=EXPECTED_FAILURE.get(scenario) if target.broken is not None else None, **fields)


def across_helms(cell: Cell, released_helm: Any, helm: Any) -> Cell:
    """``cell`` with its helm version ``<released>→<upgraded>`` (``v3.22.0→v4.3.2``) when the released
    chart is installed by another helm than the one under test; ``cell`` itself otherwise.

    Args:
        released_helm, helm: :class:`harness.tools.helm.Helm` objects (their ``version``, ``vX.Y.Z``).
    """
    if released_helm is helm:
        return cell
    before = getattr(released_helm, "version", "") or "?"
    after = cell.helm_version or getattr(helm, "version", "") or "?"
    return replace(cell, helm_version=f"{before}→{after}")


def edge_cell(cell: Cell, contract: Any) -> Cell:
    """``cell`` with the edge the contract's probe goes through: a Traefik cell probing through an
    HTTPRoute (``probe.via: httproute``) measures the Gateway edge, ``traefik-gateway``
    (harness/core/edges.py); anything else keeps its edge."""
    via = getattr(getattr(contract, "probe", None), "via", "ingress")
    if via == "httproute" and cell.edge == TRAEFIK_NGINX:
        return replace(cell, edge=TRAEFIK_GATEWAY)
    return cell


class ScenarioContext:
    """One scenario run against one target in one namespace; see the module docstring.

    Args:
        scenario: ``upgrade`` ... target: the :class:`Target`. namespace: created for it.
        env: :class:`Env`. helm: a :class:`harness.tools.helm.Helm` bound to the namespace.
        released_helm: the Helm :meth:`install_released` uses (same home and namespace; default
            ``helm``): the pinned Helm 3 for the upgrade across the Helm major (``--helm-from 3``).
        key: the record's key when the whole test is one parameter of the scenario (``from-helm3``).
        artifacts: directory for CSV/PNG/JSON evidence (created on first write).
        record: ``(name, value) -> None`` (JUnit property); figures are also kept in :attr:`figures`.

    Attributes:
        steps: the run's named steps (:class:`harness.scenario.steps.Steps`).
        artifact_paths: evidence files written so far (:meth:`artifact`, :meth:`save_probe`...).
        cell: the record's matrix cell: ``env.cell``, its helm version ``v3.22.0→v4.3.2`` when
            ``released_helm`` is another version (:func:`across_helms`).
        result: the :class:`ScenarioResult` once :meth:`finish` built it (None before).
        verdict: the verdict :meth:`finish` was given (None before).
    """

    def __init__(self, scenario: str, target: Target, namespace: str, env: Env, helm: Any, artifacts: Path,
                 record: Callable[[str, Any], None] | None = None, *, released_helm: Any = None,
                 key: str | None = None):

        self.scenario = scenario
        self.target = target
        self.namespace = namespace
        self.env = env
        self.helm = helm
        self.released_helm = released_helm if released_helm is not None else helm
        self.key = key
        self.cell = edge_cell(across_helms(env.cell, self.released_helm, helm), target.contract)
        self.artifacts = artifacts
        self._record = record
        self.figures: dict[str, Any] = {}
        self.release = release_name(target.chart.release_prefix, random_suffix(5))
        self.settings = env.settings
        self._db_ready = False
        self._base: tuple[str, Any, Any] | None = None
        self._gateway_listener: str | None = None  # the HTTPS listener the HTTPRoute attaches to (gateway TLS)
        # release reads from its storage Secrets, pods from a watch: no helm process, no pod lists per poll
        self.observer = ReleaseObserver(env.api, namespace, self.release)
        self.steps = Steps(f"{scenario} {target.id}")
        self.artifact_paths: list[Path] = []
        self.started = time.monotonic()
        self.prepared: Checkpoint | None = None
        self.result: ScenarioResult | None = None
        self.verdict: Verdict | None = None
        # the Secret data of the manifests read so far: evidence text never carries it
        self.redactor = Redactor()

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
        """A named step (:meth:`harness.scenario.steps.Steps.step`): timed, recorded, marked on the
        probe timelines, a timings phase with progress lines.

        Raises:
            harness.scenario.steps.StepFailed: the block raised; names the step, keeps the cause.
        """
        with self.steps.step(name):
            yield

    @contextmanager
    def attempt(self, name: str) -> Iterator[Attempt]:
        """A named step whose failure is a verdict input: the error is in the yielded
        :class:`harness.scenario.steps.Attempt` instead of raised."""
        with self.steps.attempt(name) as outcome:
            yield outcome

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

    @property
    def version_source(self) -> str | None:
        """Where the application reports its version (``json: version``), None when the contract
        declares no ``versionFrom`` (the version checks are then "not declared", never failed)."""
        vf = self.contract.version_from if self.contract else None
        return vf.describe() if vf is not None else None

    def expected_version(self, app_version: str | None) -> str | None:
        """The version answers of a chart with ``app_version`` report: ``app_version``, or for a
        ``regex`` source its group found in it (:meth:`harness.core.contract.VersionFrom.expected`)."""
        vf = self.contract.version_from if self.contract else None
        return vf.expected(app_version) if vf is not None else app_version

    def values(self, *, candidate: bool) -> list[Path]:
        """The values files of one install or upgrade, in helm's order (later files win):
        :func:`harness.scenario.targets.values_files`."""
        return values_files(self.target, candidate=candidate)

    def sets(self, *, candidate: bool = True) -> list[str]:
        """The ``--set`` pairs of one install or upgrade (:func:`harness.scenario.targets.set_pairs`),
        then the database wiring the harness gives a chart with a ``postgres`` contract."""
        listener = ([f"httpRoute.parentRefs[0].sectionName={self._gateway_listener}"]
                    if self._gateway_listener else [])
        return [*set_pairs(self.target, candidate=candidate), *listener, *self._db_sets()]

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

            self._db_secret = "harness-db"
            dsn = server.databases[self.namespace].dsn
            self.env.addons.kubectl.apply([{
                "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                "metadata": {"name": self._db_secret, "namespace": self.namespace},
                "data": {pg.secret_key: base64.b64encode(dsn.encode()).decode()}}])
        self._db_ready = True

    @property
    def postgres(self) -> Any:
        """The postgres add-on's server (harness.env.addons.postgres.PostgresServer)."""
        return self.env.addons.addon_state("postgres")

    # -- release operations

    @property
    def cert_manager_ca(self) -> Path | None:
        """The cert-manager add-on's CA certificate, when the add-on is installed in this session."""
        state = getattr(self.env.addons, "state", {}) or {}
        ca = state.get("cert-manager")
        return Path(ca) if ca else None

    def require_reachable_ingress(self, chart: Any, values: Sequence[Path], *, candidate: bool = True) -> None:
        """Raise :class:`ScenarioSkipped` (with the reason) when the rendered Ingress has TLS but no
        cert-manager add-on runs: nothing would write its Secret, so the ingress controller serves
        the host only with its default certificate, which no client can verify, and redirects plain
        HTTP to HTTPS (docs/addons.md): no availability could be measured the way users reach it.

        A contract whose probe goes through an HTTPRoute (``probe.via: httproute``) runs when the
        traefik add-on serves its Gateway (:attr:`gateway`: the ``edge`` is ``traefik-gateway``), over
        plain HTTP on the Gateway's listener whatever the Ingress's TLS; without the Gateway it is
        skipped, naming the option that installs it. A negative control bound to one edge
        (``broken[].edge``) is skipped through any other: its defect lives in that edge's object."""
        broken = self.target.broken
        if broken is not None and broken.edge and broken.edge != self.cell.edge:
            raise ScenarioSkipped(
                f"{self.target.id}: control {broken.name} runs through edge {broken.edge} only (its defect is in "
                f"the object that edge serves), this run goes through {self.cell.edge or 'no named edge'}; "
                f"run with --harness-edge {broken.edge}")
        if self.contract.probe.via == "httproute":
            if self.gateway is not None:
                self._attach_https_listener(chart, values, candidate=candidate)
                return
            raise ScenarioSkipped(
                f"{self.target.id}: the contract probes {self.contract.probe.host} through an HTTPRoute "
                "(probe.via: httproute) but no Gateway edge is installed; run with --harness-edge traefik-gateway "
                "(the traefik add-on then serves the Gateway harness-traefik/harness)")
        if self.cert_manager_ca is not None:
            return
        try:
            objs = manifest_objects(self.helm.template(self.release, chart, namespace=self.namespace,
                                                       values=values, sets=self.sets(candidate=candidate)))
        except HarnessError:
            return  # the install itself will report a rendering problem
        if ingress_has_tls(objs):
            raise ScenarioSkipped(
                f"{self.target.id}: the Ingress has spec.tls but the cert-manager add-on is not installed; "
                "nothing writes the TLS Secret, so the ingress controller serves the host only with its "
                "default (unverifiable) certificate and redirects HTTP to it "
                "(add cert-manager to addons to run this variant)")

    @property
    def gateway(self) -> Any:
        """The :class:`harness.core.edges.GatewayRef` the traefik add-on serves in this session, or None
        (no Gateway edge installed)."""
        state = getattr(self.env.addons, "state", {}) or {}
        return state.get(TRAEFIK_GATEWAY)

    def _attach_https_listener(self, chart: Any, values: Sequence[Path], *, candidate: bool) -> None:
        """Under the Gateway edge, a variant whose Ingress has TLS goes over HTTPS through the Gateway.

        The variant is rendered as it would be without the Gateway edge (``ingress.enabled=true``
        after every other pair, the layout :func:`harness.core.edges.gateway_sets` assumes); when its
        Ingress has ``spec.tls`` and the cert-manager add-on runs, the Gateway gets an HTTPS listener
        for the contract's host (:func:`harness.env.addons.gateway_tls.ensure_https_listener`), the
        release's HTTPRoute attaches to it (``sectionName``) and the probes go over HTTPS, verified
        against the add-on's CA. Otherwise the route stays on the HTTP listener."""
        if self._gateway_listener is not None or self.cert_manager_ca is None:
            return
        try:
            objs = manifest_objects(self.helm.template(
                self.release, chart, namespace=self.namespace, values=values,
                sets=[*self.sets(candidate=candidate), "ingress.enabled=true"]))
        except HarnessError:
            return  # the install itself will report a rendering problem
        if not ingress_has_tls(objs):
            return
        with self.step("gateway HTTPS listener"):
            self._gateway_listener = gateway_tls.ensure_https_listener(
                self.env.addons.kubectl, self.gateway, self.contract.ingress.host, timeout=self.cfg.timeouts.wait)
        self.record("gateway_listener", self._gateway_listener)

    @property
    def host(self) -> str:
        """This release's own ingress host, ``<release>.<contract host>`` (see :meth:`postrender`)."""
        return f"{self.release}.{self.contract.ingress.host}"

    def postrender(self, *ops: str) -> list[str]:
        """helm flags running harness/tools/postrender.py on the rendered manifests: always the host
        rename (contract host -> :attr:`host`, so releases of one chart never share a route, not
        even with a release whose namespace is still being deleted), plus ``ops``. The flags come
        from :meth:`harness.tools.helm.Helm.post_renderer`: Helm 4 names the harness's
        ``postrenderer/v1`` plugin (installed into the private helm home on first use), Helm 3
        passes the script's path."""
        return self.helm.post_renderer(f"host:{self.contract.ingress.host}={self.host}", *ops)

    def install_released(self) -> Any:
        """``helm install`` the contract's released chart with the variant's values (not the overlay),
        by :attr:`released_helm` (its own post-renderer flags: Helm 3 takes the script's path)."""
        rel = self.contract.released
        if rel is None:
            raise HarnessError(f"{self.target.chart.name}: the contract has no released chart")
        self.require_reachable_ingress(rel.ref, self.values(candidate=False), candidate=False)
        helm = self.released_helm
        by = f" with helm {helm.version}" if helm is not self.helm else ""
        with self.step(f"install released {rel.chart} {rel.version or ''}".strip() + by):
            return helm.install(self.release, rel.ref, values=self.values(candidate=False),
                                sets=self.sets(candidate=False),
                                wait=True, timeout=self.cfg.timeouts.install,
                                extra=helm.post_renderer(f"host:{self.contract.ingress.host}={self.host}"))

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
        """The rendered objects of ``revision`` (default latest), read from helm's storage Secret (no helm process)."""
        objs = self.observer.manifest(revision)
        self.redactor = self.redactor.with_secrets(objects_secrets(objs))
        return objs

    # -- workloads and pods

    def workloads(self, objs: list[dict[str, Any]] | None = None) -> list[tuple[str, str]]:
        """``[(kind, name)]`` of the release's Deployments/StatefulSets/DaemonSets."""
        return self.observer.workloads(objs)

    def wait_rolled_out(self, *, timeout: float | None = None) -> None:

        conds = []
        for kind, name in self.workloads():
            if kind == "Deployment":
                conds.append(conditions.deployment_rolled_out(self.api, self.namespace, name))
            elif kind == "StatefulSet":
                conds.append(conditions.statefulset_rolled_out(self.api, self.namespace, name))
        if conds:
            wait_for(all_of(*conds), timeout=timeout or self.cfg.timeouts.rollout, interval=1.0)

    def selectors(self) -> list[str]:
        """Each workload's rendered ``matchLabels`` as a label selector (cached per revision)."""
        return self.observer.selectors()

    def pods(self, *, include_terminating: bool = False) -> list[Any]:
        """The workloads' pods (not Jobs'), from a watch of the namespace (listed while it is not in sync)."""
        return self.observer.pods(include_terminating=include_terminating)

    def desired_replicas(self) -> int:
        return self.observer.desired_replicas()

    def pods_facts(self, versions: Sequence[str] = ()) -> PodsFacts:
        return self.observer.pods_facts(versions)

    def wait_no_terminating(self, timeout: float = 90.0) -> None:
        """Until no workload pod is terminating (old pods of a rollout finished their shutdown)."""
        def check() -> tuple[bool, str]:
            term = self.observer.terminating()
            return not term, f"terminating: {', '.join(term) or 'none'}"

        wait_for(check, timeout=timeout, interval=1.0, what=f"old pods of {self.release} to finish terminating")

    def restart_counts(self) -> dict[str, int]:
        return self.observer.restart_counts()

    # -- the ingress

    def ingress_base(self) -> tuple[str, Any, Any]:
        """``(base_url, verify, session_factory)`` to reach the chart's Ingress from the host.

        HTTPS through 127.0.0.1:<https port> (SNI = the contract's host, verified against the
        cert-manager add-on's CA) when the rendered Ingress has TLS and that CA exists; otherwise
        plain HTTP through 127.0.0.1:<http port>. Through an HTTPRoute (``probe.via: httproute``):
        plain HTTP through 127.0.0.1:<http port>, the Gateway's HTTP listener sharing the Ingresses'
        entrypoint (harness/env/addons/charts/traefik, values ``gateway.listener``); HTTPS through
        127.0.0.1:<https port> when the route attaches to the Gateway's HTTPS listener for a TLS
        variant (:meth:`_attach_https_listener`).
        """
        if self._base is not None:
            return self._base

        addons = self.env.addons
        http_port = getattr(addons, "http_port", 18080)
        https_port = getattr(addons, "https_port", 18443)
        ca = self.cert_manager_ca
        try:
            tls = (self._gateway_listener is not None
                   or (self.contract.probe.via != "httproute" and ingress_has_tls(self.manifest())))
        except HarnessError:
            tls = False
        if tls and ca is not None and ca.is_file():
            self._base = (f"https://127.0.0.1:{https_port}", str(ca), https_session_factory(self.host))
        else:
            self._base = (f"http://127.0.0.1:{http_port}", True, None)
        self.record("ingress_url", self._base[0])
        return self._base

    def http(self, method: str, path: str, *, json_body: Any = None, body: bytes | None = None,
             headers: Mapping[str, str] | None = None, timeout: float = 10.0) -> Any:
        """One request through the ingress with the contract's Host header (no redirects followed):
        ``json_body`` sent as JSON, or ``body`` as it is; ``headers`` besides Host (which they
        cannot replace)."""

        base, verify, factory = self.ingress_base()
        s = factory() if factory else requests.Session()
        s.trust_env = False
        try:
            return s.request(method, base + path, headers={**(headers or {}), "Host": self.host}, json=json_body,
                             data=body, timeout=timeout, verify=verify, allow_redirects=False)
        finally:
            s.close()

    def wait_serving(self, path: str | None = None, *, timeout: float | None = None, want: int = 200) -> None:
        """Until ``path`` answers ``want`` through the ingress: an Ingress reaches the controller a
        moment after helm returns. Default: the contract's ``readyPath`` (the host answers), then
        the probe path when it differs (what the prober will request answers too), each within
        ``timeout``."""
        if path is None:
            probe = self.contract.probe
            for p in dict.fromkeys((probe.ready_path or probe.probe_path, probe.probe_path)):
                self._wait_path(p, timeout=timeout, want=want)
            return
        self._wait_path(path, timeout=timeout, want=want)

    def _wait_path(self, path: str, *, timeout: float | None, want: int) -> None:

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

        base, verify, factory = self.ingress_base()
        s = self.settings
        vf = self.contract.version_from
        opts = {"host": self.host, "rate": s.probe_rate, "concurrency": s.probe_concurrency,
                "max_duration": 1800, "verify": verify, "session_factory": factory, "name": f"probe-{self.target.id}",
                # the declared source only: an application that does not say who it is is not guessed at
                "version_from": vf.extract if vf is not None else _no_version}
        opts.update(kw)
        return Prober(base, path or self.contract.ingress.probe_path, **opts)

    def watch_pods(self) -> NamespaceWatch | None:
        """A started :class:`harness.k8s.watch.NamespaceWatch` of the release's namespace (its pods'
        history draws one lane per pod under the probe timeline); None without a Kubernetes API
        (nothing to watch)."""
        if self.api is None:
            return None
        return NamespaceWatch(self.api, self.namespace).start()

    def sse_group(self, count: int | None = None, **kw: Any) -> Any:

        base, verify, factory = self.ingress_base()
        opts = {"host": self.host, "verify": verify, "session_factory": factory, "max_duration": 1800,
                    "read_timeout": 900}
        opts.update(kw)
        return SseGroup(count or self.settings.sse_streams, base + self.contract.sse.path, **opts)

    # -- data: the contract's declared checks (harness/scenario/datacheck.py)

    @property
    def data_declared(self) -> bool:
        """True when the contract declares a data check (``data.write`` and ``data.read``)."""
        check = self.contract.data if self.contract else None
        return check is not None and check.declared

    def write_data(self, n: int = 2, *, timeout: float = 30.0) -> Written | None:
        """Write ``n`` records with the contract's declared data check (``data.write``, retried
        within ``timeout`` seconds); records the figure ``items_written``. None when the contract
        declares no write and read: the verdict then reports "data integrity: not declared"."""
        if not self.data_declared:
            return None
        written = datacheck.write_records(self, self.contract.data, n=n, timeout=timeout)
        self.record("items_written", len(written.records))
        return written

    def data_facts(self, written: Written | None, *, write_after: bool = True) -> DataFacts | None:
        """After a disruption: read back what :meth:`write_data` wrote and write once more
        (:func:`harness.scenario.datacheck.data_facts`); None when nothing was declared."""
        return datacheck.data_facts(self, written, write_after=write_after)

    # -- evidence

    def artifact(self, name: str) -> Path:
        """The path of evidence file ``name`` in the artifacts directory (created), listed in the
        result record's artifacts."""
        self.artifacts.mkdir(parents=True, exist_ok=True)
        path = self.artifacts / name
        if path not in self.artifact_paths:
            self.artifact_paths.append(path)
        return path

    def write_artifact(self, name: str, text: str) -> Path:
        """Write evidence file ``name`` (:meth:`artifact`) through :func:`harness.core.artifacts.write_text`
        with the secrets of the manifests read so far (:attr:`redactor`); returns its path."""
        return write_text(self.artifact(name), text, self.redactor)

    def save_probe(self, result: Any, name: str = "probe", title: str = "", **plot: Any) -> None:
        """``<name>.csv`` (every request) and ``<name>.png`` (the timeline plot) of a probe run;
        ``plot``: more for :func:`harness.measure.plots.probe_timeline` (``served``, ``old_pods``)."""
        # matplotlib is heavy: loaded when a plot is drawn

        result.write_csv(self.artifact(f"{name}.csv"))
        if plots.probe_timeline(result, self.artifacts / f"{name}.png", title=title, **plot) is not None:
            self.artifact(f"{name}.png")

    def save_streams(self, results: Sequence[Any], name: str = "sse", title: str = "") -> None:
        """``<name>.json`` (every stream's records) and ``<name>.png`` (one row per stream)."""
        # matplotlib is heavy: loaded when a plot is drawn

        self.write_artifact(f"{name}.json", json.dumps([r.to_json() for r in results], default=str))
        if plots.sse_timeline(results, self.artifacts / f"{name}.png", title=title) is not None:
            self.artifact(f"{name}.png")

    # -- the result record

    def checkpoint(self) -> Checkpoint:
        """The steps and artifacts recorded so far: a shared run takes one after preparing
        (:attr:`prepared`) and one before each long phase, so each key's record lists the
        preparation and its own phase only."""
        return Checkpoint(len(self.steps.snapshot()), len(self.artifact_paths))

    def _since(self, since: Checkpoint | None) -> tuple[tuple[Any, ...], tuple[Path, ...]]:
        steps, paths = self.steps.snapshot(), tuple(self.artifact_paths)
        if since is None:
            return steps, paths
        keep = self.prepared or Checkpoint()
        return (steps[:keep.steps] + steps[max(since.steps, keep.steps):],
                paths[:keep.artifacts] + paths[max(since.artifacts, keep.artifacts):])

    def _relative(self, path: Path) -> str:
        base = getattr(self.cfg, "artifacts_dir", None)
        try:
            return str(path.relative_to(base)) if base is not None else str(path)
        except ValueError:
            return str(path)

    def close(self) -> None:
        """Stop what the context keeps running in the background (the observer's pod watch)."""
        self.observer.close()

    def finish(self, verdict: Verdict, *, key: Any = None, since: Checkpoint | None = None) -> ScenarioResult:
        """The scenario's result record from its verdict; also sets :attr:`result` and :attr:`verdict`.

        Records the verdict's figures (JUnit properties) and writes ``verdict.json`` (for a shared
        run's ``key``: ``verdict-<key>.json``) into the artifacts directory, as before the record.

        Args:
            verdict: the scenario's :class:`Verdict` (its checks become the record's checks).
            key: the scenario's own parameter (db_outage's fault), None for most scenarios.
            since: a :meth:`checkpoint`: only steps and artifacts after it (plus the preparation's,
                :attr:`prepared`) go into the record; None: all of them.

        Returns:
            The :class:`ScenarioResult`: outcome PASS/FAIL, the reason, one CheckResult per check,
            figures with units (recorded figures, then the verdict's), the steps, the artifacts,
            the cell, and for a negative control the failure pattern it must match.
        """
        self.record_all(verdict.figures)
        self.record("verdict", "PASS" if verdict.passed else "FAIL")
        self.record("reason", verdict.reason)
        key = self.key if key is None else key
        name = "verdict.json" if key is None else f"verdict-{key}.json"
        self.write_artifact(name, json.dumps(
            {"passed": verdict.passed, "reason": verdict.reason, "failed": list(verdict.failed),
             "figures": self.figures}, indent=2, default=str) + "\n")
        steps, paths = self._since(since)
        figures = {k: v for k, v in self.figures.items() if k not in _NOT_FIGURES}
        result = result_record(
            self.scenario, self.target, "PASS" if verdict.passed else "FAIL", verdict.reason, cell=self.cell,
            key=key, checks=tuple(CheckResult(c.name, c.ok, c.detail) for c in verdict.checks),
            figures=figures_from({**figures, **verdict.figures}), steps=steps,
            artifacts=tuple(self._relative(p) for p in paths), seconds=round(time.monotonic() - self.started, 1))
        self.verdict = verdict
        self.result = result
        return result

    def incomplete(self, outcome: Outcome, reason: str, *, key: Any = None,
                   since: Checkpoint | None = None) -> ScenarioResult:
        """The record of a run that reached no verdict (``ERROR``, or ``SKIP``): the steps so far
        (the failed one last), the figures and artifacts recorded, no checks."""
        steps, paths = self._since(since)
        return result_record(
            self.scenario, self.target, outcome, reason, cell=self.cell, key=self.key if key is None else key,
            figures=figures_from({k: v for k, v in self.figures.items() if k not in _NOT_FIGURES}), steps=steps,
            artifacts=tuple(self._relative(p) for p in paths), seconds=round(time.monotonic() - self.started, 1))
