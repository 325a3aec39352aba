"""kubectl bound to one kubeconfig, shaped like chart-testing's ``pkg/tool/kubectl.go``: every
call gets ``--kubeconfig``, ``--context`` and ``--request-timeout``. Used where kubectl carries
logic the API client lacks, above all ``kubectl drain`` (evictions that respect
PodDisruptionBudgets, retried while a PDB answers 429:
https://kubernetes.io/docs/tasks/administer-cluster/safely-drain-node/).
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from harness.core.errors import CommandError
from harness.tools.exec import Result
from harness.tools.exec import run as _run
from harness.tools.helm import Runner

REQUEST_TIMEOUT = "30s"


class KubectlError(CommandError):
    """A kubectl command failed; ``action`` is the subcommand (``drain``, ``apply``...)."""

    def __init__(self, action: str, res: Result):
        super().__init__(res.argv, res.returncode, res.stdout, res.stderr)
        self.action = action
        lines = [ln.strip() for ln in (res.stderr or res.stdout).splitlines() if ln.strip()]
        errors = [ln for ln in lines if ln.startswith("error:") or ln.startswith("Error")]
        self.args = (f"kubectl {action} failed (exit {res.returncode}): "
                     f"{(errors or lines or ['(no output)'])[-1]}",)


class Kubectl:
    """kubectl for one cluster.

    Args:
        kubeconfig: the cluster's kubeconfig (never ~/.kube/config).
        context: ``--context``; None uses the kubeconfig's current context.
        binary: default :func:`harness.tools.binaries.tool_path("kubectl")`.
        runner: :func:`harness.tools.exec.run`-compatible (tests pass a fake).
    """

    def __init__(self, kubeconfig: Path | str, *, context: str | None = None, binary: str | None = None,
                 runner: Runner = _run):
        if binary is None:
            from harness.tools.binaries import tool_path

            binary = tool_path("kubectl")
        self.binary = binary
        self.kubeconfig = Path(kubeconfig)
        self.context = context
        self._runner = runner

    def argv(self, *args: str, namespace: str | None = None) -> list[str]:
        return [self.binary, *args, "--kubeconfig", str(self.kubeconfig),
                *(["--context", self.context] if self.context else []),
                *(["--namespace", namespace] if namespace else []), f"--request-timeout={REQUEST_TIMEOUT}"]

    def run(self, action: str, *args: str, namespace: str | None = None, timeout: float = 120.0,
            input: str | None = None) -> str:
        """Run ``kubectl <args>``; return stdout.

        Raises:
            KubectlError: non-zero exit (message: kubectl's ``error:`` line). CommandTimeout.
        """
        res = self._runner(self.argv(*args, namespace=namespace), timeout=timeout, check=False, input=input,
                           env={"KUBECONFIG": str(self.kubeconfig)})
        if res.returncode != 0:
            raise KubectlError(action, res)
        return res.stdout

    def apply(self, manifest: str, *, namespace: str | None = None) -> str:
        """``kubectl apply -f -`` with ``manifest`` (YAML) on stdin."""
        return self.run("apply", "apply", "-f", "-", namespace=namespace, input=manifest)

    def cordon(self, node: str) -> None:
        self.run("cordon", "cordon", node)

    def uncordon(self, node: str) -> None:
        self.run("uncordon", "uncordon", node)

    def drain(self, node: str, *, timeout: float = 180.0, grace_period: int | None = None,
              extra: Sequence[str] = ()) -> str:
        """``kubectl drain NODE --ignore-daemonsets --delete-emptydir-data --timeout=Ns``.

        Evicts through the Eviction API, so a PodDisruptionBudget that allows no disruption makes
        kubectl retry until ``timeout`` seconds and then fail (KubectlError): that is how a
        PDB blocking a drain shows up.
        """
        args = ["drain", node, "--ignore-daemonsets", "--delete-emptydir-data",
                f"--timeout={max(1, math.ceil(timeout))}s",
                *([f"--grace-period={grace_period}"] if grace_period is not None else []), *extra]
        return self.run("drain", *args, timeout=timeout + 60)
