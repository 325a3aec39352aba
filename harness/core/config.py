"""The harness configuration: one frozen dataclass, resolved once per run.

Precedence, per key: command-line option > ``HARNESS_<KEY>`` environment variable > config file
(``harness.yaml`` in the rootdir, or ``--harness-config PATH`` / ``HARNESS_CONFIG``) > default.
Each key has one name everywhere: the option is ``--<key>``, the config-file key is ``<key>``
(``-`` and ``_`` are interchangeable there), the environment variable is ``HARNESS_<KEY>`` with
``-`` turned into ``_`` and upper-cased. List keys take the whole list from the highest source
that sets them (lists from different sources are not concatenated); in environment variables
list items are separated by commas.

Relative paths resolve against the directory the value came from: the invocation directory for
options and environment variables, the config file's directory for file values, the rootdir for
defaults. docs/configuration.md documents every key; a unit test checks that it does.
"""
from __future__ import annotations

import difflib
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from harness.core.durations import parse_duration
from harness.core.edges import EDGES, INGRESS_NGINX, TRAEFIK_GATEWAY, TRAEFIK_NGINX
from harness.core.errors import UsageError
from harness.core.parallel import resolve_workers
from harness.core.pins import pinned, supported_kubernetes
from harness.core.values import ChartRef, load_values_file, parse_set

KEEP_POLICIES = ("never", "on-failure", "always")
IMAGE_SOURCES = ("auto", "pull", "local")
KNOWN_ADDONS = ("traefik", "ingress-nginx", "cert-manager", "postgres")
"""Add-on names harness.env.addons.engine registers (a unit test keeps the two in step)."""
ADDONS = ("traefik", "cert-manager", "postgres")
"""The default add-ons: an ingress controller, cert-manager (its CA ClusterIssuer signs the charts' TLS
variants; built here from its Go module, docs/addons.md) and PostgreSQL."""
CONFIG_FILE_NAME = "harness.yaml"
ENV_PREFIX = "HARNESS_"
CONFIG_FILE_ENV = "HARNESS_CONFIG"


REQUEST_TIMEOUT = 30.0
"""Seconds for one Kubernetes API request: the API client's ``_request_timeout``
(harness.k8s.client) and kubectl's ``--request-timeout`` (harness.tools.kubectl), as chart-testing
bounds every kubectl call. Not a configuration key: it bounds one request, not a wait."""


@dataclass(frozen=True)
class Timeouts:
    """Time budgets in seconds: ``install`` / ``upgrade`` (helm --timeout), ``rollout`` (a
    Deployment rollout), ``wait`` (any other readiness wait)."""

    install: float = 300.0
    upgrade: float = 300.0
    rollout: float = 180.0
    wait: float = 120.0


@dataclass(frozen=True)
class Option:
    """One configuration key.

    Attributes:
        key: the option/config-file name (``cluster-name``); env var is :attr:`env`.
        field: the HarnessConfig field it sets (``timeouts.install`` for the timeouts).
        kind: ``str``, ``path``, ``bool``, ``choice``, ``list``, ``choices``, ``seconds``.
        default: the value when no source sets it (already typed).
        help: one line for --help and docs/configuration.md.
        choices: allowed values for ``choice``/``choices``.
        metavar: the placeholder in --help.
    """

    key: str
    field: str
    kind: str
    default: Any
    help: str
    choices: tuple[str, ...] = ()
    metavar: str = ""

    @property
    def env(self) -> str:
        return ENV_PREFIX + self.key.upper().replace("-", "_")

    @property
    def flag(self) -> str:
        return "--" + self.key

    @property
    def dest(self) -> str:
        """argparse/pytest dest: ``harness_`` + key with underscores (avoids clashes with other plugins)."""
        return "harness_" + self.key.replace("-", "_")

    @property
    def is_list(self) -> bool:
        return self.kind in ("list", "choices", "paths")


def _k8s_default() -> str:
    return pinned()["KUBERNETES_VERSION"]


HELM_FROM_MAJORS = ("3",)
"""Values of ``helm-from``: the helm majors a released chart can be installed with before the upgrade
(``3``: the pinned ``helm3``, harness.tools.binaries)."""


OPTIONS: tuple[Option, ...] = (
    Option("cluster-name", "cluster_name", "str", "harness", "kind cluster name", metavar="NAME"),
    Option("kind-config", "kind_config", "path", None,
           "kind cluster config file; default: built-in 1 control-plane + 2 workers", metavar="PATH"),
    Option("node-image", "node_image", "str", None,
           "kind node image; default: derived from image-source and kubernetes-version", metavar="IMAGE"),
    Option("kubernetes-version", "kubernetes_version", "str", None,
           "Kubernetes version of the nodes; default: KUBERNETES_VERSION in harness/data/versions.env", metavar="vX.Y.Z"),
    Option("image-source", "image_source", "choice", "auto",
           "where the node image comes from: auto = local when the locally built node image exists, else pull",
           IMAGE_SOURCES),
    Option("registry-mirror", "registry_mirror", "str", None,
           "a registry that serves docker.io, quay.io, registry.k8s.io and ghcr.io images under their own paths "
           "(a pull-through cache, or the loopback registry of make e2e-pull): images the host's Docker pulls "
           "(the node image, PostgreSQL) are pulled through it; the nodes' routing comes from the kind config",
           metavar="HOST:PORT"),
    Option("keep-cluster", "keep_cluster", "choice", "on-failure",
           "keep the cluster (and failed tests' namespaces) after the run", KEEP_POLICIES),
    Option("reuse-cluster", "reuse_cluster", "bool", False,
           "reuse an existing kind cluster of the same name instead of failing; a reused cluster is never deleted"),
    Option("kubeconfig", "kubeconfig", "path", None,
           "run against the existing cluster of this kubeconfig; no kind cluster is created", metavar="PATH"),
    Option("kube-context", "kube_context", "str", None,
           "the context of --kubeconfig to use (kubectl --context, helm --kube-context); default: its "
           "current context", metavar="NAME"),
    Option("chart", "charts", "list", (),
           "chart under test (repeatable): directory, .tgz, repo/name (with --chart-version) or oci://...; "
           "default: every charts-under-test/* with a harness-contract.yaml", metavar="CHART"),
    Option("chart-version", "chart_version", "str", None,
           "version of repo/name and oci:// charts (required for oci://)", metavar="VERSION"),
    Option("contract", "contract", "path", None,
           "harness-contract.yaml for the one --chart (a .tgz, repo/name or oci:// chart has none beside it; "
           "default: the chart directory's own, or the one packaged in the .tgz)", metavar="PATH"),
    Option("from-version", "from_version", "str", None,
           "released chart version the upgrade and rollback scenarios start from; default: the contract's "
           "released.version", metavar="VERSION"),
    Option("values", "values", "paths", (), "values file applied to every chart under test (repeatable)",
           metavar="FILE"),
    Option("set", "sets", "list", (), "helm --set applied to every chart under test (repeatable)", metavar="KEY=VALUE"),
    Option("artifacts-dir", "artifacts_dir", "path", Path("artifacts"),
           "where JUnit XML, timings and failure diagnostics go (relative to the rootdir by default)", metavar="DIR"),
    Option("install-timeout", "timeouts.install", "seconds", Timeouts.install,
           "helm install --timeout (seconds, or 90s, 5m, 1h30m)", metavar="DURATION"),
    Option("upgrade-timeout", "timeouts.upgrade", "seconds", Timeouts.upgrade,
           "helm upgrade/rollback --timeout (seconds, or 90s, 5m, 1h30m)", metavar="DURATION"),
    Option("rollout-timeout", "timeouts.rollout", "seconds", Timeouts.rollout,
           "budget for one Deployment rollout (seconds, or 90s, 5m, 1h30m)", metavar="DURATION"),
    Option("wait-timeout", "timeouts.wait", "seconds", Timeouts.wait,
           "budget for other readiness waits (seconds, or 90s, 5m, 1h30m)", metavar="DURATION"),
    Option("helm", "helm", "path", None,
           "helm binary the harness runs (Helm 4 or Helm 3); default: the pinned helm (`make setup`)",
           metavar="PATH"),
    Option("helm-from", "helm_from", "choice", None,
           "the upgrade scenario also installs the released chart with this helm major (the pinned helm3) "
           "and upgrades with the helm under test: a row of its own ('' for none)", HELM_FROM_MAJORS,
           metavar="MAJOR"),
    Option("addons", "addons", "choices", ADDONS,
           "cluster add-ons to install, in order (repeatable or comma-separated; 'none' for none)", KNOWN_ADDONS,
           metavar="ADDON"),
    Option("workers", "parallel_workers", "str", "auto",
           "harness tests run at once on one cluster with pytest-xdist (`pytest -n auto` takes this number; "
           "`make e2e`): auto = one per core and one more, at least 2 and at most 4; a number; 1 = one after another",
           metavar="N"),
    Option("edge", "edge", "choice", TRAEFIK_NGINX,
           "what the probes go through: traefik-nginx = the chart's Ingress (class nginx); traefik-gateway = "
           "the chart's HTTPRoute (httpRoute.* values set by the harness) on the traefik add-on's Gateway, "
           "same 127.0.0.1 port; ingress-nginx = the chart's Ingress on the retired upstream controller, in traefik's "
           "place (machines that pull images only; elsewhere its tests skip with the reason); the gate takes several, comma-separated: one run per edge, rows side by side and a "
           "migration diff", EDGES, metavar="EDGE"),
)
OPTIONS_BY_KEY = {o.key: o for o in OPTIONS}


@dataclass(frozen=True)
class HarnessConfig:
    """The resolved configuration (see the module docstring for precedence).

    Attributes:
        cluster_name: kind cluster name (DNS-1123 label, at most 40 characters).
        kind_config: kind config file, or None for the built-in 1 control-plane + 2 workers.
        node_image: kind node image, or None: harness.env.cluster derives it from ``image_source``.
        kubernetes_version: ``vX.Y.Z``.
        image_source: ``auto`` | ``pull`` | ``local``.
        registry_mirror: ``HOST:PORT`` of a registry the host's Docker pulls upstream images through, or None.
        keep_cluster: ``never`` | ``on-failure`` | ``always``.
        reuse_cluster: reuse an existing kind cluster of the same name.
        kubeconfig: an existing cluster's kubeconfig (no kind), or None.
        kube_context: the context of ``kubeconfig`` to use (passed as kubectl ``--context``, helm
            ``--kube-context``), or None for its current context.
        charts: charts under test; empty means "discover charts-under-test/*".
        chart_version: the ``--chart-version`` given (already folded into repo/oci ``charts``).
        contract: the ``--contract`` file for the one chart in ``charts``, or None.
        from_version: overrides every contract's ``released.version`` (where upgrades start), or None.
        values: values files (absolute, validated YAML mappings). sets: ``--set`` expressions.
        artifacts_dir: absolute directory for JUnit XML, timings.json and diagnostics.
        timeouts: :class:`Timeouts` in seconds.
        addons: add-ons to install, in the order given.
        helm: the helm binary (absolute, an executable file), or None for the pinned one
            (``harness.tools.binaries.tool_path("helm")``, resolved by harness.tools.helm).
        helm_from: ``"3"``: the upgrade scenario also runs with the released chart installed by the
            pinned Helm 3 (client-side apply) and upgraded by ``helm``; None: it does not.
        parallel_workers: the ``workers`` key: ``auto`` or a positive number, harness tests at once
            under pytest-xdist (:func:`harness.core.parallel.resolve_workers`). Not ``workers``: that
            name is the kind cluster's worker-node count (``harness.env.cluster.ClusterSpec``).
        edge: ``traefik-nginx`` (probes through the chart's Ingress) or ``traefik-gateway`` (through
            its HTTPRoute on the traefik add-on's Gateway; harness/core/edges.py).
        rootdir: the project root the run uses.
        config_file: the config file that was read, or None.
        sources: key -> where its value came from (``option``, ``env HARNESS_<KEY>``, ``file PATH``, ``default``).
    """

    cluster_name: str = "harness"
    kind_config: Path | None = None
    node_image: str | None = None
    kubernetes_version: str = field(default_factory=_k8s_default)
    image_source: str = "auto"
    registry_mirror: str | None = None
    keep_cluster: str = "on-failure"
    reuse_cluster: bool = False
    kubeconfig: Path | None = None
    kube_context: str | None = None
    charts: tuple[ChartRef, ...] = ()
    chart_version: str | None = None
    contract: Path | None = None
    from_version: str | None = None
    values: tuple[Path, ...] = ()
    sets: tuple[str, ...] = ()
    artifacts_dir: Path = Path("artifacts").resolve()
    timeouts: Timeouts = Timeouts()
    addons: tuple[str, ...] = ADDONS
    helm: Path | None = None
    helm_from: str | None = None
    edge: str = TRAEFIK_NGINX
    parallel_workers: str = "auto"
    rootdir: Path = field(default_factory=Path.cwd)
    config_file: Path | None = None
    sources: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)

    @property
    def external_cluster(self) -> bool:
        """True when running against ``kubeconfig`` (no kind cluster created or deleted)."""
        return self.kubeconfig is not None

    def value(self, key: str) -> Any:
        """The resolved value of a configuration key (``install-timeout`` -> ``timeouts.install``)."""
        obj: Any = self
        for part in OPTIONS_BY_KEY[key].field.split("."):
            obj = getattr(obj, part)
        return obj


# --------------------------------------------------------------------------- loading


def _norm_key(key: str) -> str:
    return str(key).strip().replace("_", "-").lower()


def _unknown(key: str, where: str) -> UsageError:
    close = difflib.get_close_matches(key, list(OPTIONS_BY_KEY), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else f"; known keys: {', '.join(OPTIONS_BY_KEY)}"
    return UsageError(f"{where}: unknown key {key!r}{hint}")


def read_config_file(path: Path) -> dict[str, Any]:
    """Read a harness.yaml: a mapping of known keys.

    Returns:
        normalised key (``cluster-name``) -> raw value.

    Raises:
        UsageError: missing file, invalid YAML (with line), not a mapping, unknown key.
    """
    if not path.is_file():
        raise UsageError(f"harness-config: config file {path} does not exist")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise UsageError(f"harness-config: {path} is not valid YAML{where}: "
                         f"{getattr(exc, 'problem', None) or exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise UsageError(f"harness-config: {path} must be a mapping of keys to values")
    out = {}
    for key, value in data.items():
        nk = _norm_key(key)
        if nk not in OPTIONS_BY_KEY:
            raise _unknown(str(key), f"harness-config {path}")
        out[nk] = value
    return out


def _split_env(raw: str) -> list[str]:
    return [p.strip() for p in raw.split(",") if p.strip()]


_BOOL = {"1": True, "true": True, "yes": True, "on": True, "0": False, "false": False, "no": False, "off": False}


def _convert(opt: Option, raw: Any, base: Path, label: str) -> Any:
    """Turn a raw value from one source into the typed value, or raise UsageError naming the key."""
    name = f"{opt.key} ({label})"
    if opt.is_list:
        items = raw if isinstance(raw, list | tuple) else ([raw] if raw not in (None, "") else [])
        if any(isinstance(i, dict | list) for i in items):
            raise UsageError(f"{name}: want a list of strings, got {raw!r}")
        items = [str(i) for i in items]
        if opt.kind == "choices":
            items = [p.strip() for i in items for p in i.split(",") if p.strip()]
            if items == ["none"]:
                return ()
            for item in items:
                if item not in opt.choices:
                    raise UsageError(f"{name}: {item!r} is not one of {', '.join(opt.choices)}")
            if len(set(items)) != len(items):
                raise UsageError(f"{name}: {', '.join(items)} names an add-on twice")
            return tuple(items)
        if opt.kind == "paths":
            return tuple(_path(i, base) for i in items)
        return tuple(items)
    if raw is None:
        return None
    if opt.kind == "bool":
        if isinstance(raw, bool):
            return raw
        value = _BOOL.get(str(raw).strip().lower())
        if value is None:
            raise UsageError(f"{name}: {raw!r} is not a boolean (use true or false)")
        return value
    if isinstance(raw, dict | list):
        raise UsageError(f"{name}: want a single value, got {raw!r}")
    if opt.kind == "seconds":
        return parse_duration(raw, option=name)
    text = str(raw).strip()
    if opt.kind == "choice":
        if not text and opt.default is None:
            return None  # an optional choice given empty: not set (HARNESS_HELM_FROM="" or --helm-from "")
        if text not in opt.choices:
            raise UsageError(f"{name}: {text!r} is not one of {', '.join(opt.choices)}")
        return text
    if opt.kind == "path":
        return _path(text, base) if text else None
    return text or None


def _path(text: str, base: Path) -> Path:
    p = Path(text).expanduser()
    return (p if p.is_absolute() else base / p).resolve()


def load_config(
    cli: Mapping[str, Any] | None = None,
    *,
    env: Mapping[str, str] | None = None,
    config_file: Path | str | None = None,
    rootdir: Path | str | None = None,
    cwd: Path | str | None = None,
) -> HarnessConfig:
    """Resolve and validate the configuration.

    Args:
        cli: key (``cluster-name``) or dest (``harness_cluster_name``) -> value from the command
            line; None values mean "not given". List keys take lists.
        env: environment (default ``os.environ``); only ``HARNESS_*`` is read.
        config_file: explicit config file (``--harness-config``); else ``HARNESS_CONFIG``; else
            ``<rootdir>/harness.yaml`` when it exists.
        rootdir: project root (default: cwd); defaults such as ``artifacts`` resolve against it.
        cwd: directory relative CLI/env paths resolve against (default: the process cwd).

    Returns:
        a validated HarnessConfig with absolute paths and ``sources`` filled in.

    Raises:
        UsageError: one line naming the key, the source and the allowed values.
    """
    env = os.environ if env is None else env
    rootdir = Path(rootdir or Path.cwd()).resolve()
    cwd = Path(cwd or Path.cwd()).resolve()
    cli_norm: dict[str, Any] = {}
    for k, v in (cli or {}).items():
        nk = _norm_key(k.removeprefix("harness_"))
        if nk not in OPTIONS_BY_KEY:
            raise _unknown(k, "option")
        if v is not None and not (isinstance(v, list | tuple) and not v):
            cli_norm[nk] = v

    file_path: Path | None = None
    if config_file:
        file_path = _path(str(config_file), cwd)
    elif env.get(CONFIG_FILE_ENV):
        file_path = _path(env[CONFIG_FILE_ENV], cwd)
    elif (rootdir / CONFIG_FILE_NAME).is_file():
        file_path = rootdir / CONFIG_FILE_NAME
    file_values = read_config_file(file_path) if file_path else {}

    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for opt in OPTIONS:
        if opt.key in cli_norm:
            value, label, base = cli_norm[opt.key], "option", cwd
        elif opt.env in env and env[opt.env] != "":
            raw = env[opt.env]
            value, label, base = (_split_env(raw) if opt.is_list else raw), f"env {opt.env}", cwd
        elif opt.key in file_values:
            value, label, base = file_values[opt.key], f"file {file_path}", file_path.parent  # type: ignore[union-attr]
        else:
            default = opt.default
            if opt.kind == "path" and default is not None:
                default = (rootdir / default).resolve()
            values[opt.key] = default
            sources[opt.key] = "default"
            continue
        values[opt.key] = _convert(opt, value, base, label)
        sources[opt.key] = label
        if opt.key in ("chart",):
            values["_chart_base"] = base

    return _build(values, sources, rootdir, file_path)


_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def _build(values: dict[str, Any], sources: dict[str, str], rootdir: Path, file_path: Path | None) -> HarnessConfig:
    def src(key: str) -> str:
        return f"{key} ({sources[key]})"

    name = values["cluster-name"]
    if not name or not _DNS_LABEL.match(name) or len(name) > 40:
        raise UsageError(f"{src('cluster-name')}: {name!r} must be lowercase letters, digits and '-', "
                         "start and end with a letter or digit, at most 40 characters")
    mirror = values["registry-mirror"]
    if mirror is not None and not re.match(r"^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]{1,5})?$", mirror):
        raise UsageError(f"{src('registry-mirror')}: {mirror!r} is not HOST or HOST:PORT (no scheme, no path), "
                         "e.g. 127.0.0.1:5000")
    k8s = values["kubernetes-version"] or _k8s_default()
    if not re.match(r"^v\d+\.\d+\.\d+$", k8s):
        raise UsageError(f"{src('kubernetes-version')}: {k8s!r} is not a version like v1.37.2")
    if values["kubeconfig"] is None and k8s not in supported_kubernetes():
        # the harness builds or pulls the node image only for pinned versions; an external cluster
        # (--kubeconfig) runs whatever it runs
        raise UsageError(f"{src('kubernetes-version')}: {k8s} is not supported; choose one of "
                         f"{', '.join(supported_kubernetes())}")
    for key in ("kind-config", "kubeconfig"):
        p = values[key]
        if p is not None and not p.is_file():
            raise UsageError(f"{src(key)}: file {p} does not exist")
    helm = values["helm"]
    if helm is not None and not (helm.is_file() and os.access(helm, os.X_OK)):
        what = "does not exist" if not helm.exists() else "is not an executable file"
        raise UsageError(f"{src('helm')}: {helm} {what}; give the path of a helm v4 or v3 binary")
    if values["kube-context"] is not None and values["kubeconfig"] is None:
        raise UsageError(f"{src('kube-context')}: needs kubeconfig (a context of the kubeconfig given with "
                         "--kubeconfig); a kind cluster the harness creates has its own")
    if values["kubeconfig"] is not None:
        for key in ("kind-config", "node-image", "reuse-cluster"):
            if values[key] and sources[key] != "default":
                raise UsageError(f"{src('kubeconfig')} and {src(key)} conflict: kubeconfig runs against an "
                                 f"existing cluster, {key} shapes a kind cluster")

    version = values["chart-version"]
    charts: list[ChartRef] = []
    base = values.get("_chart_base", rootdir)
    for raw in values["chart"]:
        charts.append(ChartRef.parse(raw, base=base, key=src("chart")) if not version else
                      _versioned(raw, version, base, src("chart")))
    if version and not any(c.kind in ("repo", "oci") for c in charts):
        raise UsageError(f"{src('chart-version')}: {version!r} needs a repo/name or oci:// chart "
                         f"(--chart); got {', '.join(values['chart']) or 'none'}")
    for c in charts:
        if c.kind == "oci" and not c.version:
            # helm pulls an OCI chart by tag; "the latest" would make the run depend on the registry's day
            raise UsageError(f"{src('chart')}: {c.ref} needs --chart-version (an OCI chart is pulled by its version)")
    contract = values["contract"]
    if contract is not None:
        if not contract.is_file():
            raise UsageError(f"{src('contract')}: contract file {contract} does not exist")
        if len(charts) != 1:
            raise UsageError(f"{src('contract')}: applies to exactly one --chart; got "
                             f"{len(charts) or 'none'} (without --chart every charts-under-test/* uses its own)")

    for p in values["values"]:
        load_values_file(p, key=src("values"))
    for s in values["set"]:
        try:
            parse_set(s)
        except UsageError as exc:
            raise UsageError(f"{src('set')}: {exc}".replace("set: ", "", 1)) from None

    if values["edge"] == TRAEFIK_GATEWAY and "traefik" not in values["addons"]:
        # the Gateway is served by the traefik add-on's Kubernetes Gateway provider
        raise UsageError(f"{src('edge')}: {TRAEFIK_GATEWAY} needs the traefik add-on (its Gateway provider serves "
                         f"the Gateway); {src('addons')} is {', '.join(values['addons']) or 'none'}")
    if values["edge"] == INGRESS_NGINX:
        # one edge per run: the upstream controller takes the ingress node's host ports 80/443 in traefik's place
        values["addons"] = list(dict.fromkeys(INGRESS_NGINX if a == "traefik" else a for a in values["addons"]))
        if INGRESS_NGINX not in values["addons"]:
            raise UsageError(f"{src('edge')}: {INGRESS_NGINX} needs the ingress-nginx add-on (or traefik, which it "
                             f"replaces); {src('addons')} is {', '.join(values['addons']) or 'none'}")
    workers = values["workers"] or "auto"
    try:
        resolve_workers(workers)
    except UsageError as exc:
        raise UsageError(f"{src('workers')}: {str(exc).removeprefix('workers: ')}") from None
    timeouts = Timeouts(install=values["install-timeout"], upgrade=values["upgrade-timeout"],
                        rollout=values["rollout-timeout"], wait=values["wait-timeout"])
    return HarnessConfig(
        cluster_name=name,
        kind_config=values["kind-config"],
        node_image=values["node-image"],
        kubernetes_version=k8s,
        image_source=values["image-source"],
        registry_mirror=values["registry-mirror"],
        keep_cluster=values["keep-cluster"],
        reuse_cluster=bool(values["reuse-cluster"]),
        kubeconfig=values["kubeconfig"],
        kube_context=values["kube-context"],
        charts=tuple(charts),
        chart_version=version,
        contract=contract,
        from_version=values["from-version"],
        values=tuple(values["values"]),
        sets=tuple(values["set"]),
        artifacts_dir=values["artifacts-dir"],
        timeouts=timeouts,
        addons=tuple(values["addons"]),
        helm=helm,
        helm_from=values["helm-from"],
        edge=values["edge"],
        parallel_workers=str(workers),
        rootdir=rootdir,
        config_file=file_path,
        sources=dict(sources),
    )


def _versioned(raw: str, version: str, base: Path, key: str) -> ChartRef:
    """A --chart with --chart-version: the version goes to repo/oci charts only."""
    ref = ChartRef.parse(raw, base=base, key=key)
    return ChartRef(ref.ref, ref.kind, version) if ref.kind in ("repo", "oci", "url") else ref


# --------------------------------------------------------------------------- printing


def _show(value: Any) -> str:
    if value is None:
        return "(unset)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return ", ".join(_show(v) for v in value) if value else "(none)"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def format_config(cfg: HarnessConfig) -> str:
    """The resolved configuration as aligned ``key  value  (source)`` lines, for ``python -m harness config``."""
    rows = [(o.key, _show(cfg.value(o.key)), cfg.sources.get(o.key, "default")) for o in OPTIONS]
    width = max(len(r[0]) for r in rows)
    vwidth = min(60, max(len(r[1]) for r in rows))
    lines = [f"# config file: {cfg.config_file or '(none)'}", f"# rootdir: {cfg.rootdir}"]
    lines += [f"{k:<{width}}  {v:<{vwidth}}  ({s})" for k, v, s in rows]
    return "\n".join(lines)


def config_as_dict(cfg: HarnessConfig) -> dict[str, Any]:
    """key -> plain value (strings, numbers, lists), e.g. for YAML or JSON output."""
    out: dict[str, Any] = {}
    for o in OPTIONS:
        v = cfg.value(o.key)
        if isinstance(v, tuple):
            v = [i.ref if isinstance(i, ChartRef) else str(i) for i in v]
        elif isinstance(v, Path):
            v = str(v)
        out[o.key] = v
    return out


def cli_values(namespace: Any, options: Sequence[Option] = OPTIONS) -> dict[str, Any]:
    """Pick this module's options out of an argparse/pytest option namespace (by :attr:`Option.dest`)."""
    return {o.key: getattr(namespace, o.dest, None) for o in options}


def add_arguments(add: Any) -> None:
    """Register every option with ``add(flag, dest=, action=, metavar=, help=)``: argparse's
    ``add_argument`` or pytest's ``group.addoption``. All default to None ("not given")."""
    for o in OPTIONS:
        env = f" [env {o.env}]"
        if o.kind == "bool":
            add(o.flag, dest=o.dest, action="store_const", const=True, default=None, help=o.help + env)
        elif o.is_list:
            extra = f" (one of: {', '.join(o.choices)})" if o.choices else ""
            add(o.flag, dest=o.dest, action="append", default=None, metavar=o.metavar or "VALUE",
                help=o.help + extra + env)
        else:
            extra = f" (one of: {', '.join(o.choices)}; default {o.default})" if o.choices else ""
            add(o.flag, dest=o.dest, action="store", default=None, metavar=o.metavar or "VALUE",
                help=o.help + extra + env)


__all__ = [
    "ADDONS", "HELM_FROM_MAJORS", "IMAGE_SOURCES", "KNOWN_ADDONS", "KEEP_POLICIES", "OPTIONS", "HarnessConfig", "Option", "Timeouts",
    "add_arguments", "cli_values", "config_as_dict", "format_config", "load_config", "read_config_file",
]
