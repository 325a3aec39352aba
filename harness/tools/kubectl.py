"""kubectl bound to one cluster, shaped like chart-testing's ``pkg/tool/kubectl.go``: every call
carries ``--kubeconfig``, ``--context`` and ``--request-timeout`` and goes through
:func:`harness.tools.exec.run`. The add-ons use it for server-side apply, ``get -o json``,
``delete`` and ``exec``; the ``kubectl`` fixture hands it to tests for what the API client lacks
(``kubectl drain``: https://kubernetes.io/docs/tasks/administer-cluster/safely-drain-node/).

The global flags come right after the binary, before the subcommand and its arguments: kubectl
accepts them there for every subcommand, and after a ``--`` (``kubectl exec POD -- psql ...``)
they would reach the program run in the container instead of kubectl.
"""
from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from harness.core.config import REQUEST_TIMEOUT
from harness.core.errors import CommandError
from harness.tools import binaries  # a module: tests replace tool_path
from harness.tools.exec import Result
from harness.tools.exec import run as _run

FIELD_MANAGER = "helm-e2e-harness-addons"
"""Server-side apply's field manager: the harness owns the fields it sets."""


class KubectlError(CommandError):
    """A kubectl command failed; ``action`` is the subcommand (``drain``, ``apply``...).

    The message is kubectl's last ``error:`` line (else its last output line), after the exit code."""

    def __init__(self, action: str, res: Result):
        super().__init__(res.argv, res.returncode, res.stdout, res.stderr)
        self.action = action
        lines = [ln.strip() for ln in (res.stderr or res.stdout).splitlines() if ln.strip()]
        errors = [ln for ln in lines if ln.startswith("error:") or ln.startswith("Error")]
        self.args = (f"kubectl {action} failed (exit {res.returncode}): "
                     f"{(errors or lines or ['(no output)'])[-1]}",)


class Kubectl:
    """kubectl for one kubeconfig and context.

    Args:
        kubeconfig: the cluster's private kubeconfig (never ~/.kube/config).
        context: ``--context``; None uses the kubeconfig's current context.
        binary: kubectl executable; default the pinned one
            (:func:`harness.tools.binaries.tool_path`), looked up at the first call.
        runner: process runner with :func:`harness.tools.exec.run`'s signature (tests pass a fake).
        request_timeout: seconds for each API request (``--request-timeout``), default
            :data:`harness.core.config.REQUEST_TIMEOUT`.
    """

    def __init__(self, kubeconfig: Path | str, context: str | None = None, *, binary: str | None = None,
                 runner: Any = _run, request_timeout: float = REQUEST_TIMEOUT):
        self.kubeconfig = Path(kubeconfig)
        self.context = context
        self._binary = binary
        self.runner = runner
        self.request_timeout = request_timeout

    @property
    def binary(self) -> str:
        """The kubectl executable.

        Raises:
            EnvironmentNotReady: no pinned kubectl; run `make setup`.
        """
        if self._binary is None:
            # binaries is looked up lazily so that a Kubectl with a fake runner needs no kubectl

            self._binary = binaries.tool_path("kubectl")
        return self._binary

    def argv(self, *args: str, namespace: str | None = None) -> list[str]:
        """``kubectl --kubeconfig K [--context C] --request-timeout=Ns [--namespace NS] ARGS``."""
        return [self.binary, "--kubeconfig", str(self.kubeconfig),
                *(["--context", self.context] if self.context else []),
                f"--request-timeout={max(1, math.ceil(self.request_timeout))}s",
                *(["--namespace", namespace] if namespace else []), *args]

    def __call__(self, *args: str, namespace: str | None = None, input: str | None = None, timeout: float = 90.0,
                 check: bool = True) -> Result:
        """Run ``kubectl ARGS`` (``input`` on stdin, killed after ``timeout`` seconds).

        Returns:
            The finished command's :class:`harness.tools.exec.Result`.

        Raises:
            KubectlError: non-zero exit when ``check`` (a CommandError; message: kubectl's
                ``error:`` line). CommandTimeout: ``timeout`` passed. EnvironmentNotReady: no kubectl.
        """
        res = self.runner(self.argv(*args, namespace=namespace), input=input, timeout=timeout, check=False,
                          env={"KUBECONFIG": str(self.kubeconfig)})
        if check and res.returncode != 0:
            raise KubectlError(args[0] if args else "", res)
        return res

    def get_json(self, *args: str, timeout: float = 60.0) -> Any:
        """``kubectl get ARGS -o json`` parsed; None when the object does not exist.

        Raises:
            KubectlError: any other failure.
        """
        res = self("get", *args, "-o", "json", timeout=timeout, check=False)
        if res.returncode != 0:
            if "NotFound" in res.stderr or "not found" in res.stderr:
                return None
            raise KubectlError("get", res)
        return json.loads(res.stdout) if res.stdout.strip() else None

    def apply(self, objects: Sequence[Mapping[str, Any]] | str, *, namespace: str | None = None,
              timeout: float = 90.0) -> Result:
        """Server-side apply (``apply --server-side --force-conflicts``, idempotent) of ``objects``: API
        objects as mappings, or a YAML manifest as text.
        (https://kubernetes.io/docs/reference/using-api/server-side-apply/)"""
        text = objects if isinstance(objects, str) else yaml.safe_dump_all([dict(o) for o in objects],
                                                                             sort_keys=False)
        return self("apply", "--server-side", "--force-conflicts", f"--field-manager={FIELD_MANAGER}",
                    "-f", "-", namespace=namespace, input=text, timeout=timeout)

    def delete(self, *args: str, timeout: float = 90.0, wait: bool = False) -> Result:
        """``kubectl delete ARGS --ignore-not-found`` (no waiting for finalizers unless ``wait``)."""
        return self("delete", *args, "--ignore-not-found", f"--wait={'true' if wait else 'false'}",
                    timeout=timeout)

    def cordon(self, node: str) -> None:
        """Mark ``node`` unschedulable."""
        self("cordon", node)

    def uncordon(self, node: str) -> None:
        """Mark ``node`` schedulable again."""
        self("uncordon", node)

    def drain(self, node: str, *, timeout: float = 180.0, grace_period: int | None = None,
              extra: Sequence[str] = ()) -> Result:
        """``kubectl drain NODE --ignore-daemonsets --delete-emptydir-data --timeout=Ns``.

        Evicts through the Eviction API, so a PodDisruptionBudget that allows no disruption makes
        kubectl retry until ``timeout`` seconds and then fail (KubectlError): that is how a PDB
        blocking a drain shows up. The process itself gets 60 s more than ``timeout``.
        """
        return self("drain", node, "--ignore-daemonsets", "--delete-emptydir-data",
                    f"--timeout={max(1, math.ceil(timeout))}s",
                    *([f"--grace-period={grace_period}"] if grace_period is not None else []), *extra,
                    timeout=timeout + 60)
