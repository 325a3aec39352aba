"""Helm releases, shaped like chart-testing's ``pkg/tool/helm.go``: one short method per subcommand.

A :class:`Helm` is bound to one kubeconfig (``--kubeconfig`` on every call) and one private helm
home (``--repository-config``, ``--repository-cache``, ``--registry-config`` plus the
``HELM_*_HOME`` variables), so it never reads or writes the user's ``~/.config/helm`` or
``~/.kube/config``. Every process goes through :func:`harness.tools.exec.run` (argv lists, no shell).

Wait semantics are explicit on every mutating call (https://helm.sh/docs/helm/helm_upgrade/):

* ``wait=True`` adds ``--wait``: helm waits until Deployments, StatefulSets and DaemonSets have
  their minimum number of Pods ready, Services have endpoints/IPs and PVCs are bound.
* ``--wait`` alone does **not** wait for Jobs created as ordinary resources (not hooks); a migration
  Job can fail after helm reported success. ``wait_for_jobs=True`` adds ``--wait-for-jobs``, which
  helm only honours together with ``--wait``.
* Hook Jobs (``helm.sh/hook``) are always awaited, with or without ``--wait``, within ``--timeout``
  (https://helm.sh/docs/topics/charts_hooks/).
* ``timeout`` (seconds) becomes ``--timeout <N>s``; the helm process itself is killed 60 s later.
"""
from __future__ import annotations

import json
import math
import re
import shlex
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import yaml

from harness.core.errors import CommandError, EnvironmentNotReady, UsageError
from harness.core.values import ChartRef
from harness.tools.exec import Result
from harness.tools.exec import run as _run

SUPPORTED_MAJOR = 3
PROCESS_MARGIN = 60.0
"""Seconds the helm process may outlive its own ``--timeout`` before harness.tools.exec kills it."""



class Runner(Protocol):
    """The shape of :func:`harness.tools.exec.run`; tests pass a fake that records argv."""

    def __call__(self, argv: Sequence[str], *, timeout: float = ..., check: bool = ...,
                 input: str | None = ..., env: Mapping[str, str] | None = ..., hint: str = ...) -> Result: ...


class HelmError(CommandError):
    """A helm command failed.

    Attributes (besides CommandError's ``argv``, ``returncode``, ``stdout``, ``stderr``):
        action: the subcommand, e.g. ``"upgrade"`` or ``"lint"``.
        release: the release name, when the command had one.
        command: the argv as a copy-pasteable shell string.

    The message is one line: ``helm <action> <release> failed (exit N): <helm's Error: line>``.
    """

    def __init__(self, action: str, argv: Sequence[str], returncode: int, stdout: str = "",
                 stderr: str = "", release: str | None = None):
        super().__init__(argv, returncode, stdout, stderr)
        self.action = action
        self.release = release
        target = f" {release}" if release else ""
        self.args = (f"helm {action}{target} failed (exit {returncode}): {helm_headline(stdout, stderr)}",)

    @property
    def command(self) -> str:
        return shlex.join(self.argv)


def helm_headline(stdout: str, stderr: str) -> str:
    """The line a user needs from helm's output: ``[ERROR]`` lint lines, else the last ``Error:`` line."""
    lint_errors = [ln.strip() for ln in (stdout + "\n" + stderr).splitlines() if ln.strip().startswith("[ERROR]")]
    if lint_errors:
        more = f" (+{len(lint_errors) - 3} more)" if len(lint_errors) > 3 else ""
        return "; ".join(lint_errors[:3]) + more
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("Error:")]
    if errors:
        return errors[-1]
    if lines:
        return lines[-1]
    out = [ln.strip() for ln in stdout.splitlines() if ln.strip()]
    return out[-1] if out else "(no output)"


# --------------------------------------------------------------------------- chart references




# --------------------------------------------------------------------------- values




















# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Release:
    """A release as ``helm install/upgrade/status -o json`` reports it.

    Attributes: ``name``, ``namespace``, ``revision`` (int), ``status`` (e.g. ``"deployed"``),
    ``chart`` (``name-version``), ``app_version``, ``description``, ``raw`` (the full JSON dict).
    """

    name: str
    namespace: str
    revision: int
    status: str
    chart: str
    app_version: str
    description: str = ""
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Release:
        info = data.get("info") or {}
        meta = (data.get("chart") or {}).get("metadata") or {}
        chart = f"{meta.get('name', '')}-{meta.get('version', '')}" if meta else ""
        return cls(
            name=data.get("name", ""),
            namespace=data.get("namespace", ""),
            revision=int(data.get("version", 0) or 0),
            status=info.get("status", ""),
            chart=chart,
            app_version=str(meta.get("appVersion", "") or ""),
            description=info.get("description", ""),
            raw=data,
        )


def parse_json(action: str, text: str) -> Any:
    """Parse helm's ``-o json`` output; helm prints ``null`` for empty values, returned as None.

    Raises:
        ValueError: naming the action, when helm printed something that is not JSON.
    """
    text = text.strip()
    if not text:
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"helm {action} printed no JSON: {text[:200]!r}") from exc


# --------------------------------------------------------------------------- the wrapper


_VERSION_CACHE: dict[str, str] = {}


def helm_version(binary: str, runner: Runner = _run) -> str:
    """Return helm's version (``v3.18.6``) and reject anything but v3.x (cached per binary).

    Raises:
        EnvironmentNotReady: not helm v3, or unparseable ``helm version`` output.
    """
    if binary in _VERSION_CACHE:
        return _VERSION_CACHE[binary]
    out = runner([binary, "version", "--short"], timeout=30, check=True).stdout.strip()
    m = re.match(r"^v(\d+)\.(\d+)\.(\d+)", out)
    if not m:
        raise EnvironmentNotReady(f"cannot read the version of {binary} (`helm version --short` printed {out!r})")
    if int(m.group(1)) != SUPPORTED_MAJOR:
        raise EnvironmentNotReady(
            f"{binary} is helm {out.split('+')[0]}; the harness requires helm v{SUPPORTED_MAJOR}.x "
            "(run `make setup` for the pinned one)")
    version = out.split("+")[0]
    _VERSION_CACHE[binary] = version
    return version


def _seconds(timeout: float) -> str:
    return f"{max(1, math.ceil(timeout))}s"


class Helm:
    """Helm bound to one cluster (kubeconfig + context), one default namespace and one private home.

    Args:
        kubeconfig: kubeconfig path for cluster commands; None for offline commands
            (lint, template, package, repo), which then see an empty KUBECONFIG.
        home: private helm home (created); repositories.yaml, the repository cache and the
            registry config live here, never in ~/.config/helm.
        namespace: default ``--namespace``; methods accept ``namespace=`` to override.
        kube_context: ``--kube-context``.
        binary: helm executable; default :func:`harness.tools.binaries.tool_path("helm")`.
        default_timeout: seconds for install/upgrade/rollback/uninstall/test when not given.
        runner: process runner with :func:`harness.tools.exec.run`'s signature (tests pass a fake).
        check_version: run :func:`helm_version` now and reject helm other than v3.x.

    Raises:
        EnvironmentNotReady: helm is missing or not v3.x.
    """

    def __init__(self, kubeconfig: Path | str | None, *, home: Path | str, namespace: str | None = None,
                 kube_context: str | None = None, binary: str | None = None, default_timeout: float = 300.0,
                 runner: Runner = _run, check_version: bool = True):
        if binary is None:
            from harness.tools.binaries import tool_path

            binary = tool_path("helm")
        self.binary = binary
        self.kubeconfig = Path(kubeconfig) if kubeconfig else None
        self.home = Path(home)
        self.namespace = namespace
        self.kube_context = kube_context
        self.default_timeout = default_timeout
        self._runner = runner
        for sub in ("config", "cache/repository", "data", "registry"):
            (self.home / sub).mkdir(parents=True, exist_ok=True)
        self.version = helm_version(binary, runner) if check_version else ""

    # -- plumbing

    @property
    def repository_config(self) -> Path:
        return self.home / "config" / "repositories.yaml"

    @property
    def env(self) -> dict[str, str]:
        """Environment for every helm call: all helm homes private, no stray kubeconfig."""
        env = {
            "HELM_CONFIG_HOME": str(self.home / "config"),
            "HELM_CACHE_HOME": str(self.home / "cache"),
            "HELM_DATA_HOME": str(self.home / "data"),
            "HELM_REPOSITORY_CONFIG": str(self.repository_config),
            "HELM_REPOSITORY_CACHE": str(self.home / "cache" / "repository"),
            "HELM_REGISTRY_CONFIG": str(self.home / "registry" / "config.json"),
            "HELM_NAMESPACE": "",
            "HELM_KUBECONTEXT": "",
        }
        env["KUBECONFIG"] = str(self.kubeconfig) if self.kubeconfig else str(self.home / "no-kubeconfig")
        return env

    def bind(self, namespace: str) -> Helm:
        """A copy of this Helm with another default namespace (same home, cluster and binary)."""
        other = object.__new__(Helm)
        other.__dict__.update(self.__dict__)
        other.namespace = namespace
        return other

    def global_args(self, namespace: str | None = None, *, cluster: bool = True) -> list[str]:
        """Flags added to every call: private repository/registry config, kubeconfig, context, namespace."""
        args = [
            "--repository-config", str(self.repository_config),
            "--repository-cache", str(self.home / "cache" / "repository"),
            "--registry-config", str(self.home / "registry" / "config.json"),
        ]
        if cluster:
            if self.kubeconfig:
                args += ["--kubeconfig", str(self.kubeconfig)]
            if self.kube_context:
                args += ["--kube-context", self.kube_context]
            ns = namespace or self.namespace
            if ns:
                args += ["--namespace", ns]
        return args

    def argv(self, *sub: str, namespace: str | None = None, cluster: bool = True) -> list[str]:
        """The full argv for ``helm <sub...>`` with the global flags appended."""
        return [self.binary, *sub, *self.global_args(namespace, cluster=cluster)]

    def _call(self, action: str, argv: list[str], *, timeout: float, release: str | None = None,
              input: str | None = None) -> Result:
        res = self._runner(argv, timeout=timeout, check=False, input=input, env=self.env)
        if res.returncode != 0:
            raise HelmError(action, res.argv, res.returncode, res.stdout, res.stderr, release=release)
        return res

    @staticmethod
    def _values_args(values: Iterable[Path | str] = (), sets: Iterable[str] = (),
                     set_strings: Iterable[str] = ()) -> list[str]:
        args: list[str] = []
        for v in values:
            args += ["--values", str(v)]
        for s in sets:
            args += ["--set", s]
        for s in set_strings:
            args += ["--set-string", s]
        return args

    def _wait_args(self, wait: bool, wait_for_jobs: bool, timeout: float | None) -> tuple[list[str], float]:
        if wait_for_jobs and not wait:
            raise UsageError("wait_for_jobs=True needs wait=True: helm ignores --wait-for-jobs without --wait")
        t = self.default_timeout if timeout is None else timeout
        args = (["--wait"] if wait else []) + (["--wait-for-jobs"] if wait_for_jobs else [])
        return args + ["--timeout", _seconds(t)], t

    @staticmethod
    def _chart(chart: ChartRef | str | Path) -> ChartRef:
        if isinstance(chart, ChartRef):
            return chart
        return ChartRef.parse(str(chart))

    # -- release lifecycle

    def install(self, release: str, chart: ChartRef | str | Path, *, namespace: str | None = None,
                values: Iterable[Path | str] = (), sets: Iterable[str] = (), set_strings: Iterable[str] = (),
                wait: bool = True, wait_for_jobs: bool = False, timeout: float | None = None,
                atomic: bool = False, create_namespace: bool = False, extra: Sequence[str] = ()) -> Release:
        """``helm install RELEASE CHART -o json`` (https://helm.sh/docs/helm/helm_install/).

        Args:
            release: release name (helm limits it to 53 characters).
            chart: a ChartRef, or a string parsed by :meth:`ChartRef.parse`.
            values: ``--values`` files, applied in order. sets / set_strings: ``--set`` / ``--set-string``.
            wait, wait_for_jobs, timeout: see the module docstring; ``timeout`` in seconds.
            atomic: ``--atomic`` (uninstall on failure; implies --wait).
            create_namespace: ``--create-namespace``.
            extra: further flags, passed verbatim.

        Returns:
            the Release helm reports (revision 1, status "deployed").

        Raises:
            HelmError: helm failed (message carries helm's ``Error:`` line).
            CommandTimeout: helm outlived ``timeout`` + 60 s.
        """
        ref = self._chart(chart)
        wait_args, t = self._wait_args(wait, wait_for_jobs, timeout)
        argv = self.argv("install", release, *ref.argv(), *self._values_args(values, sets, set_strings),
                         *wait_args, *(["--atomic"] if atomic else []),
                         *(["--create-namespace"] if create_namespace else []), *extra,
                         "--output", "json", namespace=namespace)
        res = self._call("install", argv, timeout=t + PROCESS_MARGIN, release=release)
        return Release.from_json(parse_json("install", res.stdout) or {})

    def upgrade(self, release: str, chart: ChartRef | str | Path, *, namespace: str | None = None,
                values: Iterable[Path | str] = (), sets: Iterable[str] = (), set_strings: Iterable[str] = (),
                install: bool = False, reuse_values: bool = False, reset_values: bool = False,
                wait: bool = True, wait_for_jobs: bool = False, timeout: float | None = None,
                atomic: bool = False, extra: Sequence[str] = ()) -> Release:
        """``helm upgrade RELEASE CHART -o json`` (https://helm.sh/docs/helm/helm_upgrade/).

        Args as :meth:`install`, plus ``install`` (``--install``), ``reuse_values``
        (``--reuse-values``: keep the last release's values and merge the new ones) and
        ``reset_values`` (``--reset-values``: only the chart's defaults plus what is passed now).

        Returns:
            the new Release (revision incremented).

        Raises:
            HelmError, CommandTimeout; UsageError when both reuse_values and reset_values are set.
        """
        if reuse_values and reset_values:
            raise UsageError("upgrade: reuse_values and reset_values are mutually exclusive")
        ref = self._chart(chart)
        wait_args, t = self._wait_args(wait, wait_for_jobs, timeout)
        argv = self.argv("upgrade", release, *ref.argv(), *self._values_args(values, sets, set_strings),
                         *(["--install"] if install else []), *(["--reuse-values"] if reuse_values else []),
                         *(["--reset-values"] if reset_values else []), *wait_args,
                         *(["--atomic"] if atomic else []), *extra, "--output", "json", namespace=namespace)
        res = self._call("upgrade", argv, timeout=t + PROCESS_MARGIN, release=release)
        return Release.from_json(parse_json("upgrade", res.stdout) or {})

    def rollback(self, release: str, revision: int | None = None, *, namespace: str | None = None,
                 wait: bool = True, wait_for_jobs: bool = False, timeout: float | None = None,
                 cleanup_on_fail: bool = False) -> None:
        """``helm rollback RELEASE [REVISION]`` (https://helm.sh/docs/helm/helm_rollback/).

        ``revision`` None (or 0) rolls back to the previous revision. A rollback creates a *new*
        revision; read :meth:`history` for its number.

        Raises:
            HelmError, CommandTimeout.
        """
        wait_args, t = self._wait_args(wait, wait_for_jobs, timeout)
        argv = self.argv("rollback", release, *([str(revision)] if revision else []), *wait_args,
                         *(["--cleanup-on-fail"] if cleanup_on_fail else []), namespace=namespace)
        self._call("rollback", argv, timeout=t + PROCESS_MARGIN, release=release)

    def uninstall(self, release: str, *, namespace: str | None = None, wait: bool = True,
                  timeout: float | None = None, keep_history: bool = False, ignore_not_found: bool = True) -> None:
        """``helm uninstall RELEASE`` (https://helm.sh/docs/helm/helm_uninstall/).

        ``wait`` waits until all resources are deleted; ``ignore_not_found`` treats a missing
        release as success.

        Raises:
            HelmError, CommandTimeout.
        """
        t = self.default_timeout if timeout is None else timeout
        argv = self.argv("uninstall", release, *(["--wait"] if wait else []), "--timeout", _seconds(t),
                         *(["--keep-history"] if keep_history else []),
                         *(["--ignore-not-found"] if ignore_not_found else []), namespace=namespace)
        self._call("uninstall", argv, timeout=t + PROCESS_MARGIN, release=release)

    def test(self, release: str, *, namespace: str | None = None, timeout: float | None = None,
             logs: bool = True, filter: str | None = None) -> str:
        """``helm test RELEASE --logs`` (https://helm.sh/docs/helm/helm_test/): run the chart's test hooks.

        Returns:
            helm's output (test pod logs included when ``logs``).

        Raises:
            HelmError: a test pod failed. CommandTimeout.
        """
        t = self.default_timeout if timeout is None else timeout
        argv = self.argv("test", release, "--timeout", _seconds(t), *(["--logs"] if logs else []),
                         *(["--filter", filter] if filter else []), namespace=namespace)
        return self._call("test", argv, timeout=t + PROCESS_MARGIN, release=release).stdout

    # -- reading releases

    def history(self, release: str, *, namespace: str | None = None, max: int | None = None) -> list[dict[str, Any]]:
        """``helm history RELEASE -o json`` (https://helm.sh/docs/helm/helm_history/).

        Returns:
            oldest first, each ``{"revision": int, "updated": str, "status": str, "chart": str,
            "app_version": str, "description": str}``.

        Raises:
            HelmError: e.g. ``release: not found``.
        """
        argv = self.argv("history", release, "--output", "json", *(["--max", str(max)] if max else []),
                         namespace=namespace)
        data = parse_json("history", self._call("history", argv, timeout=60, release=release).stdout) or []
        return sorted(data, key=lambda r: int(r.get("revision", 0)))

    def status(self, release: str, *, namespace: str | None = None, revision: int | None = None) -> dict[str, Any]:
        """``helm status RELEASE -o json`` (https://helm.sh/docs/helm/helm_status/).

        Returns:
            the release dict: ``name``, ``namespace``, ``version`` (revision), ``info``
            (``status``, ``description``, ``first_deployed``, ``last_deployed``, ``notes``),
            ``chart`` (``metadata``), ``config`` (user values). Use :meth:`Release.from_json` for a summary.
        """
        argv = self.argv("status", release, "--output", "json",
                         *(["--revision", str(revision)] if revision else []), namespace=namespace)
        return parse_json("status", self._call("status", argv, timeout=60, release=release).stdout) or {}

    def get_values(self, release: str, *, namespace: str | None = None, all: bool = False,
                   revision: int | None = None) -> dict[str, Any]:
        """``helm get values RELEASE -o json [--all]``: user-supplied values, or all computed values.

        Returns:
            a dict; ``{}`` when the release has no user-supplied values (helm prints ``null``).
        """
        argv = self.argv("get", "values", release, "--output", "json", *(["--all"] if all else []),
                         *(["--revision", str(revision)] if revision else []), namespace=namespace)
        return parse_json("get values", self._call("get values", argv, timeout=60, release=release).stdout) or {}

    def get_manifest(self, release: str, *, namespace: str | None = None, revision: int | None = None) -> str:
        """``helm get manifest RELEASE``: the rendered manifests (YAML stream) of a revision."""
        argv = self.argv("get", "manifest", release, *(["--revision", str(revision)] if revision else []),
                         namespace=namespace)
        return self._call("get manifest", argv, timeout=60, release=release).stdout

    def list(self, *, namespace: str | None = None, all: bool = True) -> list[dict[str, Any]]:
        """``helm list -o json [--all]`` in the namespace.

        Returns:
            ``[{"name", "namespace", "revision" (str), "updated", "status", "chart", "app_version"}]``.
        """
        argv = self.argv("list", "--output", "json", *(["--all"] if all else []), namespace=namespace)
        return parse_json("list", self._call("list", argv, timeout=60).stdout) or []

    # -- charts (offline)

    def lint(self, chart: ChartRef | str | Path, *, values: Iterable[Path | str] = (), sets: Iterable[str] = (),
             strict: bool = False) -> str:
        """``helm lint CHART`` (https://helm.sh/docs/helm/helm_lint/).

        Returns:
            helm's report (``[INFO]``/``[WARNING]`` lines).

        Raises:
            HelmError: the chart has ``[ERROR]`` findings; the message lists the first three.
        """
        ref = self._chart(chart)
        argv = self.argv("lint", *ref.argv(), *self._values_args(values, sets), *(["--strict"] if strict else []),
                         cluster=False)
        return self._call("lint", argv, timeout=120).stdout

    def template(self, release: str, chart: ChartRef | str | Path, *, namespace: str | None = None,
                 values: Iterable[Path | str] = (), sets: Iterable[str] = (), kube_version: str | None = None,
                 api_versions: Iterable[str] = (), show_only: Iterable[str] = ()) -> str:
        """``helm template RELEASE CHART`` (https://helm.sh/docs/helm/helm_template/), rendered offline.

        Returns:
            the manifests as one YAML stream; :func:`manifest_objects` splits it.

        Raises:
            HelmError: rendering failed (template error, invalid values).
        """
        ref = self._chart(chart)
        argv = [self.binary, "template", release, *ref.argv(), *self._values_args(values, sets),
                *(["--kube-version", kube_version] if kube_version else []),
                *[a for v in api_versions for a in ("--api-versions", v)],
                *[a for s in show_only for a in ("--show-only", s)],
                *self.global_args(cluster=False), *(["--namespace", namespace] if namespace else [])]
        return self._call("template", argv, timeout=120, release=release).stdout

    def show_chart(self, chart: ChartRef | str | Path) -> dict[str, Any]:
        """``helm show chart CHART [--version V]``: the Chart.yaml; proves a repo/oci version exists.

        Raises:
            HelmError: unknown chart or version.
        """
        ref = self._chart(chart)
        out = self._call("show chart", self.argv("show", "chart", *ref.argv(), cluster=False), timeout=120).stdout
        return yaml.safe_load(out) or {}

    def package(self, chart_dir: Path | str, destination: Path | str, *, version: str | None = None,
                app_version: str | None = None, dependency_update: bool = False) -> Path:
        """``helm package DIR --destination DEST`` (https://helm.sh/docs/helm/helm_package/).

        Returns:
            the path of the written .tgz.
        """
        Path(destination).mkdir(parents=True, exist_ok=True)
        argv = self.argv("package", str(chart_dir), "--destination", str(destination),
                         *(["--version", version] if version else []),
                         *(["--app-version", app_version] if app_version else []),
                         *(["--dependency-update"] if dependency_update else []), cluster=False)
        out = self._call("package", argv, timeout=120).stdout
        m = re.search(r"saved it to:\s*(\S+)", out)
        if not m:
            raise ValueError(f"helm package printed no archive path: {out!r}")
        return Path(m.group(1))

    def repo_index(self, directory: Path | str, *, url: str | None = None) -> Path:
        """``helm repo index DIR [--url URL]``: write DIR/index.yaml for the .tgz files in DIR."""
        argv = self.argv("repo", "index", str(directory), *(["--url", url] if url else []), cluster=False)
        self._call("repo index", argv, timeout=60)
        return Path(directory) / "index.yaml"

    def repo_add(self, name: str, url: str, *, force_update: bool = True) -> None:
        """``helm repo add NAME URL`` into the private repositories.yaml (https://helm.sh/docs/helm/helm_repo_add/).

        helm downloads and checks index.yaml now, so an unreachable repository fails here.
        """
        argv = self.argv("repo", "add", name, url, *(["--force-update"] if force_update else []), cluster=False)
        self._call("repo add", argv, timeout=60)

    def repo_update(self, *names: str) -> None:
        """``helm repo update [NAME...]``: refresh the cached index files."""
        self._call("repo update", self.argv("repo", "update", *names, cluster=False), timeout=120)

    def repo_list(self) -> list[dict[str, str]]:
        """``helm repo list -o json``: ``[{"name", "url"}]``; ``[]`` when none are configured."""
        res = self._runner(self.argv("repo", "list", "--output", "json", cluster=False), timeout=30,
                           check=False, env=self.env)
        if res.returncode != 0:
            if "no repositories" in (res.stderr + res.stdout):
                return []
            raise HelmError("repo list", res.argv, res.returncode, res.stdout, res.stderr)
        return parse_json("repo list", res.stdout) or []


def manifest_objects(manifest: str) -> list[dict[str, Any]]:
    """Split a rendered YAML stream (``helm template`` / ``helm get manifest``) into its objects."""
    return [d for d in yaml.safe_load_all(manifest) if isinstance(d, dict)]


def release_name(prefix: str, suffix: str) -> str:
    """``<prefix>-<suffix>`` trimmed so it fits helm's 53-character release-name limit."""
    return f"{prefix[: 53 - len(suffix) - 1].rstrip('-')}-{suffix}"
