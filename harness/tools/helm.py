"""Helm releases, shaped like chart-testing's ``pkg/tool/helm.go``: one short method per subcommand.

A :class:`Helm` is bound to one kubeconfig (``--kubeconfig`` on every call) and one private helm
home (``--repository-config``, ``--repository-cache``, ``--registry-config`` plus the
``HELM_*_HOME`` and ``HELM_PLUGINS`` variables), so it never reads or writes the user's
``~/.config/helm``, ``~/.local/share/helm/plugins`` or ``~/.kube/config``. Every process goes
through :func:`harness.tools.exec.run` (argv lists, no shell).

It speaks Helm 4 (the default) and Helm 3, told apart by ``helm version`` once per binary; any other
major is refused (exit 3). Helm 4 flags: https://helm.sh/docs/helm/helm_upgrade/ (and helm_install,
helm_rollback, helm_uninstall); Helm 3 flags: https://helm.sh/docs/v3/helm/helm_upgrade/.

Wait semantics are explicit on every mutating call. ``wait`` is a :data:`WaitStrategy`
(``True`` means ``"watcher"``, ``False`` means ``"hookOnly"``):

* ``"watcher"`` -- the resources must be ready. Helm 4: ``--wait=watcher``, kstatus-based
  (https://helm.sh/community/hips/hip-0022, "Wait With kstatus"; helm.sh/helm/v4 ``pkg/kube/statuswait.go``):
  a Deployment is done only when all its new pods are ready *and* its old pods are deleted; custom
  resources with a Ready condition are awaited too. Helm 3: ``--wait`` (Deployments, StatefulSets,
  DaemonSets have their minimum ready pods, Services their endpoints, PVCs are bound; old pods may
  still be terminating).
* ``"legacy"`` -- Helm 4: ``--wait=legacy``, Helm 3's polling readiness check; Helm 3: ``--wait``.
* ``"hookOnly"`` -- only hooks are awaited. Helm 4: ``--wait=hookOnly`` (its default when ``--wait``
  is absent, written out so the argv says what is meant); Helm 3: no ``--wait``. Hook Jobs
  (``helm.sh/hook``) are awaited within ``--timeout`` by every strategy of both majors
  (https://helm.sh/docs/topics/charts_hooks/).
* ``wait_for_jobs=True`` adds ``--wait-for-jobs``: ordinary (non-hook) Jobs must complete too. Both
  majors honour it only with a resource wait, so it needs ``"watcher"`` or ``"legacy"``.
* ``timeout`` (seconds) becomes ``--timeout <N>s``; the helm process itself is killed 60 s later.

Other Helm 4 renames (the flag tables of https://helm.sh/docs/helm/helm_upgrade/): ``atomic=True``
is ``--rollback-on-failure`` on Helm 4 (``--atomic`` is deprecated there) and ``--atomic`` on
Helm 3; ``force_replace=True`` is ``--force-replace`` on Helm 4 and ``--force`` on Helm 3. Helm 4
installs with server-side apply by default and an upgrade inherits the apply method of the release
it upgrades (``--server-side=auto``); :attr:`Release.apply_method` reports it (``"ssa"``/``"csa"``,
empty on Helm 3). Helm 4's ``--post-renderer`` names a ``postrenderer/v1`` plugin, not an
executable (https://helm.sh/docs/plugins/migrate, "Breaking change for post-renderers"):
:meth:`Helm.post_renderer` installs the harness's plugin into the private plugin
directory and returns the right flags for either major.
"""
from __future__ import annotations

import json
import math
import re
import shlex
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import yaml

from harness.core.chartfiles import read_packaged
from harness.core.errors import CommandError, EnvironmentNotReady, UsageError
from harness.core.pins import pinned
from harness.core.values import ChartRef
from harness.tools import (
    binaries,  # a module: tests replace tool_path
    postrender,
)
from harness.tools.exec import Result
from harness.tools.exec import run as _run
from harness.tools.helm_plugins import (
    POSTRENDER_PLUGIN,
    POSTRENDER_PYTHON_ENV,
    POSTRENDER_SCRIPT,
    install_postrender_plugin,
)

SUPPORTED_MAJORS = (4, 3)
"""Helm majors the harness speaks; the first is the default (the pinned helm)."""
WAIT_STRATEGIES = ("watcher", "hookOnly", "legacy")
"""Helm 4's ``--wait`` strategies (helm.sh/helm/v4 ``pkg/kube/client.go``, ``WaitStrategy``)."""
WaitStrategy = bool | str
"""``True`` = ``"watcher"``, ``False`` = ``"hookOnly"``, or one of :data:`WAIT_STRATEGIES`."""
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
    ``chart`` (``name-version``), ``app_version``, ``description``, ``apply_method`` (Helm 4:
    ``"ssa"`` server-side or ``"csa"`` client-side apply, helm.sh/helm/v4 ``pkg/release/v1/release.go``;
    empty on Helm 3, which always applies client-side), ``raw`` (the full JSON dict).
    """

    name: str
    namespace: str
    revision: int
    status: str
    chart: str
    app_version: str
    description: str = ""
    apply_method: str = ""
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
            apply_method=str(data.get("apply_method", "") or ""),
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
        # an oci:// chart: helm prints "Pulled: <ref>" and "Digest: <sha>" on stdout before the JSON
        # (pkg/action/pull.go, measured with helm v4.3.2): the document starts at the first line that
        # opens one
        lines = text.splitlines()
        start = next((i for i, ln in enumerate(lines) if ln.lstrip().startswith(("{", "[", "null"))), None)
        if start:
            try:
                return json.loads("\n".join(lines[start:]))
            except json.JSONDecodeError:
                pass
        raise ValueError(f"helm {action} printed no JSON: {text[:200]!r}") from exc


# --------------------------------------------------------------------------- the wrapper


_VERSION_CACHE: dict[str, str] = {}


def helm_version(binary: str, runner: Runner = _run) -> str:
    """Return helm's version (``v4.3.2``, build metadata dropped), cached per binary.

    Reads ``helm version --short`` (both majors print ``vX.Y.Z[+gCOMMIT]``).

    Raises:
        EnvironmentNotReady: unparseable output, or a major other than :data:`SUPPORTED_MAJORS`
            (one line naming the version found and the supported ones).
    """
    if binary in _VERSION_CACHE:
        return _VERSION_CACHE[binary]
    out = runner([binary, "version", "--short"], timeout=30, check=True).stdout.strip()
    m = re.match(r"^v(\d+)\.(\d+)(?:\.(\d+))?", out)
    if not m:
        raise EnvironmentNotReady(f"cannot read the version of {binary} (`helm version --short` printed {out!r})")
    version = out.split("+")[0]
    if int(m.group(1)) not in SUPPORTED_MAJORS:
        supported = " and ".join(f"v{major}.x" for major in SUPPORTED_MAJORS)
        raise EnvironmentNotReady(
            f"{binary} is helm {version}; the harness supports helm {supported} "
            "(pass --helm PATH / HARNESS_HELM, or run `make setup` for the pinned one)")
    _VERSION_CACHE[binary] = version
    return version


def helm_major(version: str) -> int:
    """The major of a ``vX.Y.Z`` version string (``"v4.3.2"`` -> 4)."""
    return int(version.lstrip("v").split(".")[0])


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
        binary: helm executable (``cfg.helm``, from ``--helm`` / ``HARNESS_HELM``); default
            :func:`harness.tools.binaries.tool_path("helm")`, the pinned helm.
        default_timeout: seconds for install/upgrade/rollback/uninstall/test when not given.
        runner: process runner with :func:`harness.tools.exec.run`'s signature (tests pass a fake).
        check_version: run :func:`helm_version` now; otherwise on the first call that depends on
            the major.
        kube_version: the Kubernetes version offline commands (template, lint) render for
            (``cfg.kubernetes_version``); default the pinned ``KUBERNETES_VERSION``.

    Attributes:
        version: ``vX.Y.Z`` ("" until known). major: 4 or 3. plugins_dir: the private ``HELM_PLUGINS``.

    Raises:
        EnvironmentNotReady: helm is missing or of an unsupported major.
    """

    def __init__(self, kubeconfig: Path | str | None, *, home: Path | str, namespace: str | None = None,
                 kube_context: str | None = None, binary: Path | str | None = None, default_timeout: float = 300.0,
                 runner: Runner = _run, check_version: bool = True, kube_version: str | None = None):
        if binary is None:

            binary = binaries.tool_path("helm")
        self.binary = str(binary)
        self.kubeconfig = Path(kubeconfig) if kubeconfig else None
        self.home = Path(home)
        self.namespace = namespace
        self.kube_context = kube_context
        self.default_timeout = default_timeout
        self.kube_version = kube_version or pinned()["KUBERNETES_VERSION"]
        self._runner = runner
        for sub in ("config", "cache/repository", "data", "registry"):
            (self.home / sub).mkdir(parents=True, exist_ok=True)
        self.version = helm_version(self.binary, runner) if check_version else ""

    @property
    def major(self) -> int:
        """Helm's major version (4 or 3), read with :func:`helm_version` when not yet known."""
        if not self.version:
            self.version = helm_version(self.binary, self._runner)
        return helm_major(self.version)

    @property
    def plugins_dir(self) -> Path:
        """The private helm plugin directory (``HELM_PLUGINS``); Helm 4's post-renderer plugin lives here."""
        return self.home / "data" / "plugins"

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
            "HELM_PLUGINS": str(self.plugins_dir),
            # the interpreter of the post-renderer plugin (harness/tools/helm_plugins/postrender)
            POSTRENDER_PYTHON_ENV: sys.executable,
            "HELM_NAMESPACE": "",
            "HELM_KUBECONTEXT": "",
        }
        env["KUBECONFIG"] = str(self.kubeconfig) if self.kubeconfig else str(self.home / "no-kubeconfig")
        if self.version and self.major < 4:
            # The home may be shared with a Helm 4 (the upgrade across the Helm major) whose
            # post-renderer plugin is a Helm 4 plugin.yaml: Helm 3 parses every plugin on each call
            # (strictly, helm.sh/helm/v3 pkg/plugin LoadDir) and prints "failed to load plugins".
            # Helm 3 needs no plugin here (its --post-renderer is an executable), so it loads none.
            env["HELM_NO_PLUGINS"] = "1"
        return env

    def bind(self, namespace: str) -> Helm:
        """A copy of this Helm with another default namespace (same home, cluster and binary)."""
        other = object.__new__(Helm)
        other.__dict__.update(self.__dict__)
        other.namespace = namespace
        return other

    def with_binary(self, binary: Path | str) -> Helm:
        """Another Helm bound to the same cluster, namespace, home and timeouts, running ``binary``
        (its version read now). Both share the private home, so repositories added by one
        (``harness-charts``) resolve for the other: the upgrade across the Helm major installs with
        ``helm3`` and upgrades with the helm under test.

        Raises:
            EnvironmentNotReady: ``binary`` is missing or of an unsupported major.
        """
        return Helm(self.kubeconfig, home=self.home, namespace=self.namespace, kube_context=self.kube_context,
                    binary=binary, default_timeout=self.default_timeout, runner=self._runner,
                    kube_version=self.kube_version)

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

    @staticmethod
    def strategy(wait: WaitStrategy) -> str:
        """Normalise a :data:`WaitStrategy`: True -> ``"watcher"``, False -> ``"hookOnly"``.

        Raises:
            UsageError: not one of :data:`WAIT_STRATEGIES` (nor a bool).
        """
        if wait is True:
            return "watcher"
        if wait is False:
            return "hookOnly"
        if wait not in WAIT_STRATEGIES:
            raise UsageError(f"wait={wait!r} is not a helm wait strategy (one of True, False, "
                             f"{', '.join(WAIT_STRATEGIES)})")
        return str(wait)

    def wait_flags(self, wait: WaitStrategy) -> list[str]:
        """The flags of one wait strategy for this helm's major (see the module docstring).

        Helm 4: always ``--wait=<strategy>``, written with ``=`` because a bare ``--wait`` means
        ``watcher`` and a separate word would be read as an argument (helm.sh/helm/v4
        ``pkg/cmd/flags.go``, ``AddWaitFlag``: ``NoOptDefVal`` is ``watcher``, the default ``hookOnly``).
        Helm 3: ``--wait`` for ``watcher``/``legacy`` (its only resource wait), nothing for ``hookOnly``.
        """
        strategy = self.strategy(wait)
        if self.major >= 4:
            return [f"--wait={strategy}"]
        return [] if strategy == "hookOnly" else ["--wait"]

    def _wait_args(self, wait: WaitStrategy, wait_for_jobs: bool, timeout: float | None) -> tuple[list[str], float]:
        if wait_for_jobs and self.strategy(wait) == "hookOnly":
            raise UsageError("wait_for_jobs=True needs a resource wait (wait=True, 'watcher' or 'legacy'): "
                             "helm ignores --wait-for-jobs without one")
        t = self.default_timeout if timeout is None else timeout
        args = self.wait_flags(wait) + (["--wait-for-jobs"] if wait_for_jobs else [])
        return args + ["--timeout", _seconds(t)], t

    def _atomic_flag(self, atomic: bool) -> list[str]:
        """``--rollback-on-failure`` on Helm 4 (``--atomic`` is its deprecated alias), ``--atomic`` on Helm 3."""
        if not atomic:
            return []
        return ["--rollback-on-failure"] if self.major >= 4 else ["--atomic"]

    def _force_flag(self, force_replace: bool) -> list[str]:
        """``--force-replace`` on Helm 4 (``--force`` is its deprecated alias), ``--force`` on Helm 3."""
        if not force_replace:
            return []
        return ["--force-replace"] if self.major >= 4 else ["--force"]

    def _server_side_flag(self, server_side: bool | str | None, action: str) -> list[str]:
        """Helm 4's ``--server-side``; None leaves helm's default. Refused on Helm 3 (it has no such flag)."""
        if server_side is None:
            return []
        if self.major < 4:
            raise UsageError(f"{action}: server_side={server_side!r} needs Helm 4; {self.binary} is helm {self.version}")
        allowed = ("true", "false") if action == "install" else ("true", "false", "auto")
        value = {True: "true", False: "false"}.get(server_side, server_side)  # type: ignore[call-overload]
        if value not in allowed:
            raise UsageError(f"{action}: server_side={server_side!r} is not one of True, False"
                             + ("" if action == "install" else ", 'auto'"))
        return [f"--server-side={value}"]

    def post_renderer(self, *ops: str) -> list[str]:
        """helm flags that run harness/tools/postrender.py with ``ops`` on the rendered manifests.

        Helm 4: ``--post-renderer harness-postrender --post-renderer-args OP...``, after installing
        the ``postrenderer/v1`` plugin into :attr:`plugins_dir` on first use (idempotent, see
        :func:`harness.tools.helm_plugins.install_postrender_plugin`); Helm 4 runs
        ``$HARNESS_POSTRENDER_PYTHON $HELM_PLUGIN_DIR/postrender.py OP...`` (https://helm.sh/docs/plugins/migrate).
        Helm 3: ``--post-renderer <python> --post-renderer-args <postrender.py> --post-renderer-args OP...``
        (an executable path, https://helm.sh/docs/v3/topics/advanced/#post-rendering).

        Args:
            ops: postrender.py operations, e.g. ``host:<from>=<to>``, ``never-ready``.

        Returns:
            flags for ``extra=`` of :meth:`install` / :meth:`upgrade` (or :meth:`template`).

        The operations are checked here first: Helm 4 drops a post-renderer plugin's stderr and
        reports only ``plugin "harness-postrender" exited with error`` (helm.sh/helm/v4
        ``internal/plugin/runtime_subprocess.go``, ``executeCmd``), so a mistyped operation would
        otherwise surface without its reason.

        Raises:
            UsageError: an unknown operation (one line naming it and the known ones).
            EnvironmentNotReady: Helm 4 and the plugin directory cannot be written.
        """
        try:
            postrender.parse(list(ops))
        except ValueError as exc:
            raise UsageError(f"post-renderer: {exc}") from None
        if self.major >= 4:
            install_postrender_plugin(self.plugins_dir)
            args = ["--post-renderer", POSTRENDER_PLUGIN]
        else:
            args = ["--post-renderer", sys.executable, "--post-renderer-args", str(POSTRENDER_SCRIPT)]
        for op in ops:
            args += ["--post-renderer-args", op]
        return args

    @staticmethod
    def _chart(chart: ChartRef | str | Path) -> ChartRef:
        if isinstance(chart, ChartRef):
            return chart
        return ChartRef.parse(str(chart))

    # -- release lifecycle

    def install(self, release: str, chart: ChartRef | str | Path, *, namespace: str | None = None,
                values: Iterable[Path | str] = (), sets: Iterable[str] = (), set_strings: Iterable[str] = (),
                wait: WaitStrategy = True, wait_for_jobs: bool = False, timeout: float | None = None,
                atomic: bool = False, create_namespace: bool = False, force_replace: bool = False,
                server_side: bool | None = None, extra: Sequence[str] = ()) -> Release:
        """``helm install RELEASE CHART -o json`` (https://helm.sh/docs/helm/helm_install/).

        Wait: ``True`` (``watcher``) by default because the scenarios measure availability from a
        release whose workloads are up: on Helm 4 ``--wait=watcher`` returns only when every
        resource is ready per kstatus (https://helm.sh/community/hips/hip-0022), on Helm 3 ``--wait``.
        Pass ``wait="hookOnly"`` where only hooks matter (e.g. charts of add-ons awaited elsewhere).

        Args:
            release: release name (helm limits it to 53 characters).
            chart: a ChartRef, or a string parsed by :meth:`ChartRef.parse`.
            values: ``--values`` files, applied in order. sets / set_strings: ``--set`` / ``--set-string``.
            wait, wait_for_jobs, timeout: see the module docstring; ``timeout`` in seconds.
            atomic: uninstall on failure: ``--rollback-on-failure`` (Helm 4) / ``--atomic`` (Helm 3);
                both imply a resource wait.
            create_namespace: ``--create-namespace``.
            force_replace: ``--force-replace`` (Helm 4) / ``--force`` (Helm 3).
            server_side: Helm 4 only: ``--server-side=true|false``; None keeps Helm 4's default (true).
            extra: further flags, passed verbatim (e.g. :meth:`post_renderer`'s).

        Returns:
            the Release helm reports (revision 1, status "deployed").

        Raises:
            HelmError: helm failed (message carries helm's ``Error:`` line).
            CommandTimeout: helm outlived ``timeout`` + 60 s.
            UsageError: ``server_side`` with Helm 3, an unknown wait strategy.
        """
        ref = self._chart(chart)
        wait_args, t = self._wait_args(wait, wait_for_jobs, timeout)
        argv = self.argv("install", release, *ref.argv(), *self._values_args(values, sets, set_strings),
                         *wait_args, *self._atomic_flag(atomic), *self._force_flag(force_replace),
                         *self._server_side_flag(server_side, "install"),
                         *(["--create-namespace"] if create_namespace else []), *extra,
                         "--output", "json", namespace=namespace)
        res = self._call("install", argv, timeout=t + PROCESS_MARGIN, release=release)
        return Release.from_json(parse_json("install", res.stdout) or {})

    def upgrade(self, release: str, chart: ChartRef | str | Path, *, namespace: str | None = None,
                values: Iterable[Path | str] = (), sets: Iterable[str] = (), set_strings: Iterable[str] = (),
                install: bool = False, reuse_values: bool = False, reset_values: bool = False,
                wait: WaitStrategy = True, wait_for_jobs: bool = False, timeout: float | None = None,
                atomic: bool = False, force_replace: bool = False, server_side: bool | str | None = None,
                extra: Sequence[str] = ()) -> Release:
        """``helm upgrade RELEASE CHART -o json`` (https://helm.sh/docs/helm/helm_upgrade/).

        Wait: ``True`` (``watcher``) by default: the upgrade and rollback scenarios judge the
        release by whether the upgrade completes, so helm must wait for the new pods to be ready.
        Helm 4's ``--wait=watcher`` additionally waits until the old pods are gone (kstatus,
        https://helm.sh/community/hips/hip-0022), so an upgrade returns later than on Helm 3, whose
        ``--wait`` stops at the minimum of ready pods. A candidate whose pods never become ready
        fails with both.

        Apply method (Helm 4): ``server_side`` None keeps ``--server-side=auto``, i.e. the upgrade
        uses the apply method the release was installed with (a release installed by Helm 3 stays
        client-side); :attr:`Release.apply_method` of the result says which was used.

        Args as :meth:`install`, plus ``install`` (``--install``), ``reuse_values``
        (``--reuse-values``: keep the last release's values and merge the new ones),
        ``reset_values`` (``--reset-values``: only the chart's defaults plus what is passed now)
        and ``server_side`` (Helm 4 only: True/False/"auto").

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
                         *self._atomic_flag(atomic), *self._force_flag(force_replace),
                         *self._server_side_flag(server_side, "upgrade"), *extra, "--output", "json",
                         namespace=namespace)
        res = self._call("upgrade", argv, timeout=t + PROCESS_MARGIN, release=release)
        return Release.from_json(parse_json("upgrade", res.stdout) or {})

    def rollback(self, release: str, revision: int | None = None, *, namespace: str | None = None,
                 wait: WaitStrategy = True, wait_for_jobs: bool = False, timeout: float | None = None,
                 cleanup_on_fail: bool = False, force_replace: bool = False) -> None:
        """``helm rollback RELEASE [REVISION]`` (https://helm.sh/docs/helm/helm_rollback/).

        ``revision`` None (or 0) rolls back to the previous revision. A rollback creates a *new*
        revision; read :meth:`history` for its number.

        Wait: ``True`` (``watcher``) by default: the rollback scenario measures availability
        through the rollback, so it returns only when the restored workloads are ready (Helm 4:
        and the failed revision's pods are gone, https://helm.sh/community/hips/hip-0022).
        ``force_replace``: ``--force-replace`` (Helm 4) / ``--force`` (Helm 3).

        Raises:
            HelmError, CommandTimeout.
        """
        wait_args, t = self._wait_args(wait, wait_for_jobs, timeout)
        argv = self.argv("rollback", release, *([str(revision)] if revision else []), *wait_args,
                         *(["--cleanup-on-fail"] if cleanup_on_fail else []), *self._force_flag(force_replace),
                         namespace=namespace)
        self._call("rollback", argv, timeout=t + PROCESS_MARGIN, release=release)

    def uninstall(self, release: str, *, namespace: str | None = None, wait: bool = True,
                  timeout: float | None = None, keep_history: bool = False, ignore_not_found: bool = True) -> None:
        """``helm uninstall RELEASE`` (https://helm.sh/docs/helm/helm_uninstall/).

        ``wait`` waits until all resources are deleted: ``--wait=watcher`` on Helm 4 (its
        ``hookOnly`` default does not wait for deletion at all: helm.sh/helm/v4
        ``pkg/kube/statuswait.go``, ``hookOnlyWaiter.WaitForDelete``), ``--wait`` on Helm 3.
        ``ignore_not_found`` treats a missing release as success.

        Raises:
            HelmError, CommandTimeout.
        """
        t = self.default_timeout if timeout is None else timeout
        argv = self.argv("uninstall", release, *self.wait_flags(wait), "--timeout", _seconds(t),
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
        """``helm list -o json`` in the namespace, every status when ``all``.

        Helm 3 lists only deployed and failed releases unless given ``--all``; Helm 4 has no
        ``--all`` and lists every status when no status filter is given (helm.sh/helm/v4
        ``pkg/action/list.go``, ``SetStateMask``).

        Returns:
            ``[{"name", "namespace", "revision" (str), "updated", "status", "chart", "app_version"}]``.
        """
        every = ["--all"] if all and self.major < 4 else []
        filtered = ["--deployed", "--failed"] if not all and self.major >= 4 else []
        argv = self.argv("list", "--output", "json", *every, *filtered, namespace=namespace)
        return parse_json("list", self._call("list", argv, timeout=60).stdout) or []

    # -- charts (offline)

    def lint(self, chart: ChartRef | str | Path, *, values: Iterable[Path | str] = (), sets: Iterable[str] = (),
             strict: bool = False, kube_version: str | None = None) -> str:
        """``helm lint CHART --kube-version V`` (https://helm.sh/docs/helm/helm_lint/).

        ``kube_version`` (default :attr:`kube_version`, the cluster's) is the Kubernetes version the
        lint renders and checks deprecations for; without it helm uses the version compiled into
        it (Helm 3 built without its ldflags: v1.20), and a chart's ``kubeVersion`` may not match.

        Returns:
            helm's report (``[INFO]``/``[WARNING]`` lines).

        Raises:
            HelmError: the chart has ``[ERROR]`` findings; the message lists the first three.
        """
        ref = self._chart(chart)
        argv = self.argv("lint", *ref.argv(), *self._values_args(values, sets), *(["--strict"] if strict else []),
                         "--kube-version", kube_version or self.kube_version, cluster=False)
        return self._call("lint", argv, timeout=120).stdout

    def template(self, release: str, chart: ChartRef | str | Path, *, namespace: str | None = None,
                 values: Iterable[Path | str] = (), sets: Iterable[str] = (), kube_version: str | None = None,
                 api_versions: Iterable[str] = (), show_only: Iterable[str] = (), extra: Sequence[str] = ()) -> str:
        """``helm template RELEASE CHART --kube-version V`` (https://helm.sh/docs/helm/helm_template/), offline.

        ``kube_version`` (default :attr:`kube_version`, the cluster's Kubernetes version from the
        config) becomes ``.Capabilities.KubeVersion`` and is what the chart's ``kubeVersion``
        constraint is checked against; helm's compiled-in default is its client-go's version
        (Helm 4) or v1.20 (Helm 3 built without its k8s ldflags), so a chart with
        ``kubeVersion: ">=1.30.0-0"`` would not render. ``extra``: further flags (e.g.
        :meth:`post_renderer`'s).

        Returns:
            the manifests as one YAML stream; :func:`manifest_objects` splits it.

        Raises:
            HelmError: rendering failed (template error, invalid values).
        """
        ref = self._chart(chart)
        argv = [self.binary, "template", release, *ref.argv(), *self._values_args(values, sets),
                "--kube-version", kube_version or self.kube_version,
                *[a for v in api_versions for a in ("--api-versions", v)],
                *[a for s in show_only for a in ("--show-only", s)], *extra,
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

    def push(self, archive: Path | str, remote: str) -> ChartRef:
        """``helm push ARCHIVE oci://REGISTRY/PATH`` (https://helm.sh/docs/helm/helm_push/): the chart
        becomes ``<remote>/<name>:<version>``; ``--plain-http`` for a loopback registry (as
        :attr:`ChartRef.plain_http`).

        Returns:
            the pushed chart as a ChartRef (``oci://...<name>``, version set), ready for install/pull.

        Raises:
            UsageError: ``remote`` is not ``oci://host/path`` or ``archive`` not a packaged chart.
            HelmError: the push failed (helm's ``Error:`` line).
        """
        if not remote.startswith("oci://") or remote.rstrip("/") == "oci:/":
            raise UsageError(f"helm push: {remote!r} is not an OCI registry location (oci://host[:port]/path)")
        base = ChartRef.parse(str(archive), key="helm push")
        if base.kind != "tgz":
            raise UsageError(f"helm push: {archive} is not a packaged chart (.tgz); `helm package` it first")
        target = ChartRef(remote.rstrip("/") + "/x", "oci")
        argv = self.argv("push", str(archive), remote.rstrip("/"), *(["--plain-http"] if target.plain_http else []),
                         cluster=False)
        self._call("push", argv, timeout=120)
        meta = read_packaged(Path(archive), key="helm push")
        return ChartRef(f"{remote.rstrip('/')}/{meta.name}", "oci", meta.version)

    def pull(self, chart: ChartRef | str | Path, destination: Path | str) -> Path:
        """``helm pull CHART [--version V] --destination DIR`` (https://helm.sh/docs/helm/helm_pull/):
        the packaged chart from a repository or OCI registry.

        Returns:
            the path of the downloaded .tgz.

        Raises:
            HelmError: unknown chart or version, registry unreachable.
        """
        ref = self._chart(chart)
        dest = Path(destination)
        dest.mkdir(parents=True, exist_ok=True)
        before = set(dest.glob("*.tgz"))
        self._call("pull", self.argv("pull", *ref.argv(), "--destination", str(dest), cluster=False), timeout=120)
        new = sorted(set(dest.glob("*.tgz")) - before)
        if not new:
            named = sorted(dest.glob(f"{ref.name}-*.tgz"))
            if not named:
                raise ValueError(f"helm pull {ref} wrote no archive into {dest}")
            return named[-1]
        return new[0]

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
