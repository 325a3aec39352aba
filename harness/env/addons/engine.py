"""Platform add-ons: what a session installs into the cluster before the charts under test.

An add-on (:class:`Addon`) has a name, a chart source (:class:`ChartSource`: Helm repository, OCI
reference or a local directory) at a pinned version, values, the images it needs, a readiness check
and a smoke check. The built-in ones, one module each, are listed by name in
:mod:`harness.env.addons.catalog`:

================  ==================================================================================
``traefik``       ingress controller (the project's chart in ``charts/traefik`` here, image built here);
                  serves Ingresses of class ``nginx`` through Traefik's Kubernetes Ingress NGINX provider
``ingress-nginx`` the retired upstream controller, for users who can pull its images
``cert-manager``  its release's chart (vendored in ``charts/cert-manager``) plus ClusterIssuer
                  ``harness-ca``; images built here from its Go module, or pulled
``postgres``      PostgreSQL outside the cluster (testcontainers on the ``kind`` network), one
                  database and Secret per test namespace, fault controls
================  ==================================================================================

Installing is idempotent (:func:`harness.env.addons.catalog.install_addons`): an add-on already
installed at the same version with the same values is left alone. Independent add-ons install
concurrently (at most :data:`harness.env.addons.catalog.MAX_PARALLEL` at once); an add-on that needs
another one installed first names it in :attr:`Addon.after`. Every requested add-on is
checked first (:meth:`Addon.preflight`: unknown name, conflicting add-ons, unreachable chart source,
images missing on a machine that cannot pull, host port taken), so a bad request fails with one line before anything is installed.

Typical use (what the pytest plugin does; ``install_addons`` and ``teardown_addons`` are in the
catalog)::

    ctx = AddonContext.from_config(cfg, cluster)
    seconds = install_addons(cfg.addons, ctx)        # {"traefik": 21.3, "postgres": 4.2}
    pg = ctx.addon_state("postgres")                 # harness.env.addons.postgres.PostgresServer
    dsn = pg.create_database(namespace)              # and a Secret "postgres" (key dsn) in it
    ...
    teardown_addons(ctx, keep=False)
"""
from __future__ import annotations

import hashlib
import json
import logging
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

import yaml

from harness.core import progress, runs
from harness.core.errors import (
    CommandError,
    EnvironmentNotReady,
    HarnessError,
    UsageError,
)
from harness.core.imageref import UPSTREAM_REGISTRIES, parse_image
from harness.core.packaged import package_path
from harness.core.pins import cache_dir, pinned
from harness.core.values import ChartRef, merge_values
from harness.env import cluster as kind_cluster  # a module: tests replace its functions
from harness.env.imagecheck import require_images
from harness.k8s.namespaces import RUN_LABEL, new_run_id
from harness.tools import docker
from harness.tools.exec import run as _run
from harness.tools.helm import Helm, manifest_objects
from harness.tools.kubectl import Kubectl

log = logging.getLogger("harness.env.addons.engine")

ADDON_CHARTS = package_path("env", "addons", "charts")
"""The project's own add-on charts (``harness/env/addons/charts/<name>``), shipped in the package."""

MANAGED_LABELS = {"app.kubernetes.io/managed-by": "helm-e2e-harness"}
INGRESS_NODE_LABEL = "ingress-ready"

ImageSource = Literal["local", "pull"]
Action = Literal["install", "upgrade", "present"]


# --------------------------------------------------------------------------- chart sources


@dataclass(frozen=True)
class ChartSource:
    """Where an add-on's chart comes from.

    Attributes:
        kind: ``"repo"`` (a Helm repository URL), ``"oci"`` (``oci://registry/path/chart``) or
            ``"dir"`` (a chart directory in this project).
        location: the repository URL, the OCI reference, or the directory.
        chart: the chart's name (in the repository; for ``dir`` the Chart.yaml name).
        version: the pinned chart version (for ``dir``: the Chart.yaml version, checked by tests).
    """

    kind: Literal["repo", "oci", "dir"]
    location: str
    chart: str
    version: str

    def __post_init__(self) -> None:
        if self.kind not in ("repo", "oci", "dir"):
            raise UsageError(f"chart source kind must be repo, oci or dir, not {self.kind!r}")
        if self.kind == "oci" and not self.location.startswith("oci://"):
            raise UsageError(f"OCI chart source {self.location!r} must start with oci://")
        if self.kind == "repo" and not self.location.startswith(("https://", "http://")):
            raise UsageError(f"chart repository {self.location!r} must be an http(s) URL")
        if not self.version:
            raise UsageError(f"chart {self.chart}: a pinned version is required")

    def describe(self) -> str:
        if self.kind == "repo":
            return f"chart {self.chart} {self.version} from {self.location}"
        if self.kind == "oci":
            return f"chart {self.location}:{self.version}"
        return f"chart {self.chart} {self.version} in {self.location}"

    @property
    def repo_name(self) -> str:
        """The name the private helm home knows a ``repo`` source by (``harness-<hash of URL>``)."""
        return "harness-" + hashlib.sha1(self.location.encode()).hexdigest()[:8]


# --------------------------------------------------------------------------- context and results


@dataclass(frozen=True)
class AddonResult:
    """What :func:`ensure_addon` did for one add-on.

    Attributes:
        name: the add-on.
        action: ``"install"`` (new), ``"upgrade"`` (present at another version/values, or failed
            before) or ``"present"`` (already installed at this version: left alone).
        seconds: wall time of the whole step (images, install, readiness, smoke).
        version: the version now installed.
        smoke: True when the smoke check ran and passed, False when it was skipped.
    """

    name: str
    action: Action
    seconds: float
    version: str
    smoke: bool


@dataclass
class AddonContext:
    """Everything an add-on needs to install itself into one cluster.

    Attributes:
        cluster: harness.env.cluster.Cluster (``name`` "" for an external kubeconfig).
        image_source: ``auto``, ``local`` (every image must be in the local Docker store and is
            loaded into the nodes) or ``pull`` (the nodes pull the add-ons' upstream images from
            their registries, nothing is loaded; each image is asked of its registry before anything
            is installed, harness/env/imagecheck.py). ``auto`` means ``local`` when the cluster runs
            the locally built node image.
        registry_mirror: ``HOST:PORT`` the host's Docker pulls upstream images through (the
            configuration key ``registry-mirror``), or None; the pull-mode image check asks it too.
        artifacts_dir: where exported files go (the cert-manager CA certificate).
        timeout: seconds for one add-on's ``helm upgrade --install --wait``.
        wait_timeout: seconds for other readiness waits and the smoke check.
        http_port, https_port: host ports (127.0.0.1) that reach the ingress node's ports 80/443.
        run_id: labels what this session creates (PostgreSQL containers).
        settings: per add-on overrides, ``{"traefik": {"values": {...}}, "postgres": {"image": ...}}``.
        kubectl, helm: injectable (tests); default built from the cluster's kubeconfig.
        runner: process runner with harness.tools.exec.run's signature (tests pass a fake).
        results: filled by :func:`ensure_addon`, one :class:`AddonResult` per add-on (install_addons
            puts them in the requested order).
        state: live objects add-ons leave for the session (``state["postgres"]`` is the server).

    Add-ons may run :func:`ensure_addon` on several threads with one context: :meth:`get_helm`
    builds the shared Helm once, and loading images into the nodes is serialized (:attr:`load_lock`).
    """

    cluster: Any
    image_source: str = "auto"
    registry_mirror: str | None = None
    artifacts_dir: Path = field(default_factory=lambda: Path("artifacts").resolve())
    timeout: float = 300.0
    wait_timeout: float = 120.0
    http_port: int = 18080
    https_port: int = 18443
    run_id: str = ""
    settings: dict[str, dict[str, Any]] = field(default_factory=dict)
    kubectl: Kubectl | None = None
    helm: Any = None
    runner: Callable[..., Any] = _run
    results: list[AddonResult] = field(default_factory=list)
    state: dict[str, Any] = field(default_factory=dict)
    # One `kind load` at a time: concurrent imports of images sharing layers into one containerd can
    # fail with "ref ... locked: unavailable" (containerd/containerd#1545), and each load is disk-bound.
    load_lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False, compare=False)
    _helm_lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.run_id:

            self.run_id = new_run_id()
        if self.kubectl is None:
            self.kubectl = Kubectl(self.cluster.kubeconfig, self.cluster.context or None, runner=self.runner)

    @classmethod
    def from_config(cls, cfg: Any, cluster: Any, **overrides: Any) -> AddonContext:
        """Build the context from a HarnessConfig (fields it lacks keep their defaults).

        Reads ``image_source``, ``artifacts_dir``, ``timeouts.install``/``timeouts.wait``, ``edge``
        (``traefik-gateway``: ``settings["traefik"]["gateway"] = True``, the Traefik add-on's Gateway
        edge, harness/env/addons/traefik.py); and
        ``ingress_http_port``/``ingress_https_port``, ``postgres_image`` and ``addon_values`` (a
        mapping add-on name -> values overrides) when ``cfg`` has them. HarnessConfig has none of
        these four (they are not configuration keys); callers pass ``settings=``/``http_port=``
        overrides instead (docs/addons.md).
        """
        timeouts = getattr(cfg, "timeouts", None)
        settings: dict[str, dict[str, Any]] = {}
        for name, values in dict(getattr(cfg, "addon_values", None) or {}).items():
            settings.setdefault(name, {})["values"] = values
        if getattr(cfg, "postgres_image", None):
            settings.setdefault("postgres", {})["image"] = cfg.postgres_image
        if getattr(cfg, "edge", None) == "traefik-gateway":
            settings.setdefault("traefik", {})["gateway"] = True
        kwargs: dict[str, Any] = {
            "cluster": cluster,
            "image_source": getattr(cfg, "image_source", "auto") or "auto",
            "registry_mirror": getattr(cfg, "registry_mirror", None),
            "artifacts_dir": Path(getattr(cfg, "artifacts_dir", None) or "artifacts").resolve(),
            "timeout": float(getattr(timeouts, "install", 300.0)),
            "wait_timeout": float(getattr(timeouts, "wait", 120.0)),
            "http_port": int(getattr(cfg, "ingress_http_port", None) or 18080),
            "https_port": int(getattr(cfg, "ingress_https_port", None) or 18443),
            "settings": settings,
        }
        kwargs.update(overrides)
        return cls(**kwargs)

    # -- helpers shared by the add-ons

    def setting(self, addon: str, key: str, default: Any = None) -> Any:
        return self.settings.get(addon, {}).get(key, default)

    def addon_state(self, name: str) -> Any:
        """The live object an installed add-on left (``"postgres"``: its PostgresServer).

        Raises:
            UsageError: the add-on was not installed in this session.
        """
        if name not in self.state:
            raise UsageError(f"add-on {name!r} is not installed in this session (addons: "
                             f"{', '.join(r.name for r in self.results) or 'none'})")
        return self.state[name]

    def effective_image_source(self) -> ImageSource:
        """``local`` or ``pull`` (:func:`harness.env.cluster.effective_image_source` for this cluster)."""
        return kind_cluster.effective_image_source(  # type: ignore[return-value]
            self.image_source, getattr(self.cluster, "node_image", "") or "",
            getattr(self.cluster, "kubernetes_version", "") or None)

    def host_pull_name(self, image: str) -> str:
        """What the host's Docker pulls for upstream ``image``: the same path on the registry mirror
        when one is configured (``postgres:16`` -> ``127.0.0.1:5000/library/postgres:16``), else ``image``."""
        if not self.registry_mirror:
            return image
        return str(parse_image(image).on(self.registry_mirror))

    def get_helm(self) -> Any:
        """The Helm the add-ons share (private home under the cache), built once even when add-ons
        installing concurrently ask at the same time."""
        with self._helm_lock:
            if self.helm is None:
                home = cache_dir() / "helm-home" / "addons"
                self.helm = Helm(self.cluster.kubeconfig, home=home, kube_context=self.cluster.context or None,
                                 default_timeout=self.timeout, runner=self.runner)
        return self.helm

    @property
    def is_kind(self) -> bool:
        return bool(getattr(self.cluster, "name", ""))


# --------------------------------------------------------------------------- the model


class Addon:
    """One add-on. Subclasses set the class attributes and override what differs.

    Class attributes:
        name: the name used in configuration (``addons: [traefik, postgres]``).
        summary: one line for docs and ``--help``.
        namespace: where it is installed. release: its helm release name.
        chart: its :class:`ChartSource` (None for add-ons that are not helm releases).
        conflicts: add-ons that cannot be installed together with this one.
        ingress: True for ingress controllers (they need the ingress node's ports 80/443).
        after: add-ons that must be installed (ready and smoke-checked) before this one starts, when
            they are requested too; an add-on not requested is neither waited for nor installed.
            Add-ons that do not name each other install concurrently (install_addons). Default none.
    """

    name: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    namespace: ClassVar[str] = ""
    release: ClassVar[str] = ""
    chart: ClassVar[ChartSource | None] = None
    conflicts: ClassVar[tuple[str, ...]] = ()
    ingress: ClassVar[bool] = False
    after: ClassVar[tuple[str, ...]] = ()

    # -- what it needs

    def version(self, ctx: AddonContext) -> str:
        """The version this add-on installs (for results and idempotency)."""
        return self.chart.version if self.chart else ""

    def values(self, ctx: AddonContext) -> dict[str, Any]:
        """Helm values: the add-on's defaults merged with ``ctx.settings[name]["values"]``."""

        return merge_values(self.default_values(ctx), ctx.setting(self.name, "values") or {})

    def default_values(self, ctx: AddonContext) -> dict[str, Any]:
        return {}

    def images(self, ctx: AddonContext) -> list[str]:
        """Images the nodes need (preloaded; only missing ones are loaded)."""
        return []

    def host_images(self, ctx: AddonContext) -> list[str]:
        """Images the local Docker engine runs itself (not loaded into the nodes)."""
        return []

    def offline_hint(self) -> str:
        """Why the images may be missing and what to do, for the "images missing" error."""
        return "build them with `make images`"

    # -- lifecycle

    def preflight(self, ctx: AddonContext) -> None:
        """Fast checks before anything is installed; raise UsageError / EnvironmentNotReady."""

    def decide(self, ctx: AddonContext) -> Action:
        """``install``, ``upgrade`` or ``present`` for the current cluster."""
        return "install"

    def install(self, ctx: AddonContext) -> None:
        raise NotImplementedError

    def ready(self, ctx: AddonContext) -> None:
        """Return when the add-on is ready; raise WaitTimeout/WaitFailed otherwise."""

    def smoke(self, ctx: AddonContext) -> None:
        """Prove the add-on does its job end to end (bounded in time); raise on failure."""

    def teardown(self, ctx: AddonContext, *, keep: bool) -> None:
        """End of session: release what the session holds (``keep``: the cluster is kept)."""


class HelmAddon(Addon):
    """An add-on that is one helm release of :attr:`chart` with :meth:`values`.

    For a chart directory of this project the values also carry ``harnessChartDigest`` (a hash of
    the chart's files): editing a template without bumping the chart version still changes the
    values, so a reused cluster gets the edited chart instead of "already present".
    """

    wait_for_jobs: ClassVar[bool] = False

    def values(self, ctx: AddonContext) -> dict[str, Any]:
        vals = super().values(ctx)
        if self.chart is not None and self.chart.kind == "dir":
            vals["harnessChartDigest"] = chart_digest(Path(self.chart.location))
        return vals

    def chart_ref(self, ctx: AddonContext) -> Any:
        """The harness.core.values.ChartRef for ``helm upgrade --install`` (adds the private repo entry)."""

        src = self.chart
        assert src is not None
        if src.kind == "dir":
            return ChartRef(str(Path(src.location).resolve()), "dir")
        if src.kind == "oci":
            return ChartRef(src.location, "oci", src.version)
        return ChartRef(f"{src.repo_name}/{src.chart}", "repo", src.version)

    def check_chart_source(self, ctx: AddonContext) -> None:
        """Prove the pinned chart version is reachable (repo: ``helm repo add`` + ``helm show chart``).

        Raises:
            EnvironmentNotReady: one line naming the add-on, the source and helm's error.
            UsageError: a local chart directory is missing or has another version than pinned.
        """
        src = self.chart
        assert src is not None
        if src.kind == "dir":
            chart_yaml = Path(src.location) / "Chart.yaml"
            if not chart_yaml.is_file():
                raise UsageError(f"{self.name}: chart directory {src.location} has no Chart.yaml")
            meta = yaml.safe_load(chart_yaml.read_text()) or {}
            if str(meta.get("version")) != src.version:
                raise UsageError(f"{self.name}: {chart_yaml} says version {meta.get('version')}, "
                                 f"the add-on pins {src.version}")
            return
        helm = ctx.get_helm()
        try:
            if src.kind == "repo":
                helm.repo_add(src.repo_name, src.location)
            helm.show_chart(self.chart_ref(ctx))
        except (CommandError, HarnessError) as exc:
            raise EnvironmentNotReady(
                f"{self.name}: {src.describe()} is not reachable ({_first_line(exc)}); "
                f"this machine cannot install {self.name}, remove it from the addons setting"
            ) from None

    def preflight(self, ctx: AddonContext) -> None:
        self.check_chart_source(ctx)

    def installed_release(self, ctx: AddonContext) -> dict[str, Any] | None:
        """The release as ``helm list`` shows it, or None."""
        for rel in ctx.get_helm().list(namespace=self.namespace):
            if rel.get("name") == self.release:
                return rel
        return None

    def decide(self, ctx: AddonContext) -> Action:
        rel = self.installed_release(ctx)
        if rel and str(rel.get("status", "")).startswith("pending"):
            rel = self.recover_pending(ctx, rel)
        current = None
        if rel and rel.get("status") == "deployed":
            current = ctx.get_helm().get_values(self.release, namespace=self.namespace)
        return decide_release(rel, self.chart_label(), self.values(ctx), current, name=self.name)

    def pending_owner(self, ctx: AddonContext, revision: str) -> str | None:
        """The run id on the release's revision ``revision`` (the label :meth:`install` sets), or None.

        Read from the revision's storage Secret labels (harness.k8s.release_store); an older
        revision may be pending too (a rollback leaves the abandoned one in the history as it was)."""
        found = ctx.kubectl.get_json("secrets", "-n", self.namespace, "-l",
                                     f"owner=helm,name={self.release},version={revision}") or {}
        ids = [((s.get("metadata") or {}).get("labels") or {}).get(RUN_LABEL) for s in found.get("items") or []]
        return next((i for i in ids if i), None)

    def recover_pending(self, ctx: AddonContext, release: dict[str, Any]) -> dict[str, Any] | None:
        """Bring a release a killed run left ``pending-*`` back to a state helm will upgrade.

        Helm marks the revision it works on ``pending-install``/``pending-upgrade``/``pending-rollback``
        and refuses any other operation on the release until it is done ("another operation
        (install/upgrade/rollback) is in progress", https://helm.sh/docs/faq/troubleshooting/); a
        process killed mid-operation leaves that mark for good. When the run that started it is over
        (:func:`pending_recovery`), helm's own way out is taken: ``helm rollback`` to the previous
        revision, or ``helm uninstall`` when there is none; then the add-on is installed as usual.

        Returns:
            the release row after recovery (None once uninstalled).

        Raises:
            EnvironmentNotReady: a live run is working on it, or no run of the harness started it.
        """
        status = str(release.get("status", ""))
        run_id = self.pending_owner(ctx, str(release.get("revision", "")))
        action = pending_recovery(self.name, release, run_id, run_over=run_id is not None and run_is_over(run_id))
        progress.say(f"add-on {self.name}: release {self.release} was left {status} by run {run_id}, "
                     f"which is over; {'rolling it back' if action == 'rollback' else 'uninstalling it'}")
        helm = ctx.get_helm()
        if action == "rollback":
            helm.rollback(self.release, namespace=self.namespace, wait=True, timeout=ctx.timeout)
        else:
            helm.uninstall(self.release, namespace=self.namespace, wait=True, timeout=ctx.timeout)
        return self.installed_release(ctx)

    def chart_label(self) -> str:
        """``name-version`` as helm list prints it in the ``chart`` column."""
        assert self.chart is not None
        return f"{self.chart.chart}-{self.chart.version}"

    def install(self, ctx: AddonContext) -> None:
        helm = ctx.get_helm()
        with tempfile.NamedTemporaryFile("w", suffix=".yaml", prefix=f"{self.name}-values-", delete=False) as f:
            yaml.safe_dump(self.values(ctx), f, sort_keys=True)
            values_file = f.name
        # the run id on the release's revisions lets a later run tell a release a killed run left
        # pending from one a live run is installing (recover_pending); that needs the run's record
        runs.ensure_owner(ctx.run_id)
        try:
            helm.upgrade(self.release, self.chart_ref(ctx), namespace=self.namespace, values=[values_file],
                         install=True, wait=True, wait_for_jobs=self.wait_for_jobs, timeout=ctx.timeout,
                         extra=["--create-namespace", "--labels", f"{RUN_LABEL}={ctx.run_id}"])
        finally:
            Path(values_file).unlink(missing_ok=True)

    def render(self, ctx: AddonContext) -> list[dict[str, Any]]:
        """The release's manifests as ``helm template`` renders them with :meth:`values` (offline for dir charts)."""

        with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
            yaml.safe_dump(self.values(ctx), f, sort_keys=True)
            values_file = f.name
        try:
            text = ctx.get_helm().template(self.release, self.chart_ref(ctx), namespace=self.namespace,
                                           values=[values_file], kube_version=pinned().get("KUBERNETES_VERSION"))
        finally:
            Path(values_file).unlink(missing_ok=True)
        return manifest_objects(text)


def decide_release(release: Mapping[str, Any] | None, chart_label: str, want_values: Mapping[str, Any],
                   current_values: Mapping[str, Any] | None, *, name: str = "add-on") -> Action:
    """The idempotency decision for a helm add-on.

    Args:
        release: the ``helm list`` row (``name``, ``status``, ``chart``) or None when absent.
        chart_label: ``<chart>-<version>`` wanted.
        want_values: the values the harness would install with.
        current_values: the deployed release's user values (``helm get values``), if deployed.

    Returns:
        ``install`` (absent), ``present`` (deployed, same chart version, same values) or ``upgrade``.

    Raises:
        EnvironmentNotReady: the release is stuck in a pending-* state (another helm operation
            is running or was killed); helm would refuse to touch it.
    """
    if release is None:
        return "install"
    status = str(release.get("status", ""))
    if status.startswith("pending"):  # HelmAddon.decide frees one a killed run left before this
        ns = release.get("namespace", "")
        raise EnvironmentNotReady(
            f"{name}: release {release.get('name')} in namespace {ns} is {status} (another helm operation "
            f"is running or was killed); wait for it or run `helm rollback {release.get('name')} -n {ns}`")
    if status == "deployed" and release.get("chart") == chart_label and \
            _canonical(current_values or {}) == _canonical(want_values):
        return "present"
    return "upgrade"


def run_is_over(run_id: str) -> bool:
    """True when run ``run_id`` no longer runs on this machine: its owner record under the cache is
    gone (removed at the run's end, or by ``clean`` after it died; every run writes it before it
    installs anything) or names a pid that is not alive here (harness.core.runs)."""
    owner = runs.run_owner(run_id)
    if owner is None:
        return True
    return runs.owner_gone(owner)


def pending_recovery(name: str, release: Mapping[str, Any], run_id: str | None, *,
                     run_over: bool) -> Literal["rollback", "uninstall"]:
    """How to free a release stuck in ``pending-*``, or why not to touch it.

    Args:
        name: the add-on, for the message.
        release: the ``helm list`` row (``name``, ``namespace``, ``status``, ``revision``).
        run_id: the harness run that started the pending operation (label ``helm-e2e-harness/run-id``
            on the revision's storage Secret), None when no harness run labelled it.
        run_over: that run no longer runs (:func:`run_is_over`).

    Returns:
        ``rollback`` (a previous revision exists: pending-upgrade, pending-rollback) or ``uninstall``
        (pending-install, or revision 1).

    Raises:
        EnvironmentNotReady: the run is alive (wait for it), or nothing says who started the
            operation (a person or another tool may be running helm); the message gives the command
            that frees it by hand.
    """
    rel, ns, status = release.get("name"), release.get("namespace", ""), str(release.get("status", ""))
    first = status == "pending-install" or str(release.get("revision", "")) == "1"
    by_hand = f"helm uninstall {rel} -n {ns}" if first else f"helm rollback {rel} -n {ns}"
    if run_id is None or not run_over:
        who = f"harness run {run_id} is still running it" if run_id else "no harness run labelled it"
        raise EnvironmentNotReady(
            f"{name}: release {rel} in namespace {ns} is {status} ({who}); "
            f"wait for that operation to end, or free it with `{by_hand}`")
    return "uninstall" if first else "rollback"


def chart_digest(chart_dir: Path) -> str:
    """A short hash of every file in ``chart_dir`` (paths and contents)."""
    h = hashlib.sha256()
    for f in sorted(p for p in Path(chart_dir).rglob("*") if p.is_file()):
        h.update(str(f.relative_to(chart_dir)).encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def _canonical(values: Mapping[str, Any]) -> str:
    return json.dumps(values, sort_keys=True, default=str)



# --------------------------------------------------------------------------- installing


def check_images(ctx: AddonContext, addons: Sequence[Addon]) -> dict[str, list[str]]:
    """Make sure every image the add-ons need can reach the nodes, before anything is installed.

    ``local``: each image must be in the local Docker store. ``pull``: each is asked of its registry
    (through the registry mirror when one is configured) with the registry API's manifest HEAD
    (harness/env/imagecheck.py), so a missing tag, a refused login or an unreachable registry is one
    line per image in seconds, never a wait on ImagePullBackOff; the nodes pull them later.

    Returns:
        add-on name -> the images its nodes need (``Addon.images``; ``Addon.host_images`` are only checked).

    Raises:
        EnvironmentNotReady: one line per add-on naming the missing images and what to do.
    """

    source = ctx.effective_image_source()
    wanted = {a.name: a.images(ctx) for a in addons}
    if source == "pull":
        needed = list(dict.fromkeys(i for a in addons for i in [*wanted[a.name], *a.host_images(ctx)]))
        require_images(needed, mirror=ctx.registry_mirror, mirrored=UPSTREAM_REGISTRIES if ctx.registry_mirror else ())
        return wanted
    for a in addons:
        needed = list(dict.fromkeys([*wanted[a.name], *a.host_images(ctx)]))
        missing = [i for i in needed if not docker.image_exists(i)]
        if not missing:
            continue
        if source == "local":
            raise EnvironmentNotReady(
                f"{a.name}: image{'s' if len(missing) > 1 else ''} {', '.join(missing)} not in the local Docker "
                f"store and image-source is local (no registry); {a.offline_hint()}")
        for image in missing:
            progress.say(f"pulling {image} for add-on {a.name}")
            try:
                ctx.runner(["docker", "pull", image], timeout=600)
            except CommandError as exc:
                raise EnvironmentNotReady(f"{a.name}: cannot pull {image} ({_first_line(exc)}); "
                                          "check the registry is reachable or build the image locally") from None
    return wanted


def ensure_addon(addon: Addon, ctx: AddonContext, *, images: Sequence[str] | None = None,
                 smoke: bool = True) -> AddonResult:
    """Install ``addon`` unless it is already present, wait until ready, run its smoke check.

    Call after :meth:`Addon.preflight` (``install_addons`` does both). Safe to call for different
    add-ons on several threads with one ``ctx`` (install_addons does): images are loaded into the
    nodes under ``ctx.load_lock``, one add-on at a time.

    Args:
        images: the images to preload (default: ``addon.images(ctx)``); only missing ones load.
        smoke: run the smoke check (always after an install or upgrade; also for a present add-on).

    Returns:
        the :class:`AddonResult`, also appended to ``ctx.results``.
    """

    start = time.monotonic()
    action = addon.decide(ctx)
    images = list(addon.images(ctx) if images is None else images)
    if images and ctx.is_kind and ctx.effective_image_source() != "pull":  # pull: the nodes pull them
        with ctx.load_lock:
            loaded = kind_cluster.load_images(ctx.cluster, images)
        if loaded:
            log.info("%s: loaded %s into the nodes", addon.name, ", ".join(loaded))
    if action == "present":
        progress.say(f"add-on {addon.name} {addon.version(ctx)} already installed; left alone")
    else:
        addon.install(ctx)
    addon.ready(ctx)
    ran_smoke = False
    if smoke:
        addon.smoke(ctx)
        ran_smoke = True
    result = AddonResult(addon.name, action, round(time.monotonic() - start, 3), addon.version(ctx), ran_smoke)
    ctx.results.append(result)
    return result


# --------------------------------------------------------------------------- shared checks


def ingress_node(ctx: AddonContext) -> str:
    """The name of the node labelled ``ingress-ready=true``.

    Raises:
        EnvironmentNotReady: no such node (the kind config must label one and map its ports 80/443).
    """
    nodes = ctx.kubectl.get_json("nodes", "-l", f"{INGRESS_NODE_LABEL}=true") or {}
    items = nodes.get("items") or []
    if not items:
        raise EnvironmentNotReady(
            f"no node is labelled {INGRESS_NODE_LABEL}=true; the ingress controller runs there with host ports "
            "80/443 (the default kind config labels the control-plane; a custom --kind-config must too)")
    return str(items[0]["metadata"]["name"])


def check_host_ports(ctx: AddonContext, *, owner_namespace: str, owner_release: str,
                     ports: Sequence[int] = (80, 443)) -> str:
    """Check the ingress node can give ``ports`` to the release, and the host reaches them.

    1. Another pod on the ingress node holding hostPort 80/443 (another ingress controller):
       UsageError naming it.
    2. kind clusters: the node container must publish 80 and 443 on 127.0.0.1 (kind
       ``extraPortMappings``); otherwise EnvironmentNotReady. The published ports become
       ``ctx.http_port`` / ``ctx.https_port`` (a custom kind config may choose other ones).

    Returns:
        the ingress node's name.
    """
    node = ingress_node(ctx)
    pods = ctx.kubectl.get_json("pods", "--all-namespaces", "--field-selector", f"spec.nodeName={node}") or {}
    for pod in pods.get("items") or []:
        meta = pod.get("metadata", {})
        if meta.get("namespace") == owner_namespace and \
                (meta.get("labels") or {}).get("app.kubernetes.io/instance") == owner_release:
            continue
        if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            continue
        for c in (pod.get("spec") or {}).get("containers") or []:
            for p in c.get("ports") or []:
                if p.get("hostPort") in ports:
                    raise UsageError(
                        f"host port {p['hostPort']} on node {node} is taken by pod {meta.get('namespace')}/"
                        f"{meta.get('name')}; uninstall that ingress controller or choose it as the add-on")
    if ctx.is_kind:
        for port in ports:
            host_port = published_port(ctx, node, port)
            if port == 80:
                ctx.http_port = host_port
            elif port == 443:
                ctx.https_port = host_port
    return node


def published_port(ctx: AddonContext, node: str, port: int) -> int:
    """The 127.0.0.1 port that kind node container ``node`` publishes for its ``port``.

    Raises:
        EnvironmentNotReady: the port is not published on 127.0.0.1 (kind config lacks the mapping).
    """
    want = {80: ctx.http_port, 443: ctx.https_port}.get(port)
    res = ctx.runner(["docker", "port", node, f"{port}/tcp"], timeout=30, check=False)
    published = [ln.strip() for ln in res.stdout.splitlines() if ln.strip()]
    loopback = [int(p.rsplit(":", 1)[1]) for p in published if p.startswith("127.0.0.1:")]
    if not loopback:
        raise EnvironmentNotReady(
            f"node {node} does not publish port {port} on 127.0.0.1 (docker port says "
            f"{', '.join(published) or 'nothing'}); the kind config needs extraPortMappings containerPort "
            f"{port} -> hostPort {want or 'N'}, listenAddress 127.0.0.1")
    if want in loopback:
        return want
    log.info("node %s publishes port %s on 127.0.0.1:%s (not %s): using that", node, port, loopback[0], want)
    return loopback[0]


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def pinned_version(key: str) -> str:
    """A version from harness/data/versions.env, with a clear error when the key is missing."""
    v = pinned().get(key)
    if not v:
        raise EnvironmentNotReady(f"{key} is not set in harness/data/versions.env")
    return v


# Built-in add-ons register themselves on import (after the model above is defined).
