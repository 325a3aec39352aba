"""kubectl bound to one cluster, for the add-ons: every call carries --kubeconfig, --context and
--request-timeout (like chart-testing's pkg/tool/kubectl.go) and goes through harness.tools.exec.run."""
from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from harness.core.errors import CommandError
from harness.tools.exec import Result
from harness.tools.exec import run as _run

FIELD_MANAGER = "helm-e2e-harness-addons"


class Kubectl:
    """``kubectl`` for one kubeconfig/context.

    Args:
        kubeconfig: the cluster's private kubeconfig.
        context: context in it (None: its current context).
        binary: kubectl executable (default: the pinned one, harness.tools.binaries.tool_path).
        runner: process runner with harness.tools.exec.run's signature (tests pass a fake).
        request_timeout: seconds for each API request (``--request-timeout``).
    """

    def __init__(self, kubeconfig: Path | str, context: str | None = None, *, binary: str | None = None,
                 runner: Any = _run, request_timeout: float = 30.0):
        self.kubeconfig = Path(kubeconfig)
        self.context = context
        self._binary = binary
        self.runner = runner
        self.request_timeout = request_timeout

    @property
    def binary(self) -> str:
        if self._binary is None:
            from harness.tools.binaries import tool_path

            self._binary = tool_path("kubectl")
        return self._binary

    def argv(self, *args: str) -> list[str]:
        argv = [self.binary, "--kubeconfig", str(self.kubeconfig)]
        if self.context:
            argv += ["--context", self.context]
        return argv + [f"--request-timeout={int(self.request_timeout)}s", *args]

    def __call__(self, *args: str, input: str | None = None, timeout: float = 90.0, check: bool = True) -> Result:
        """Run ``kubectl ARGS``; raises harness.core.errors.CommandError on failure when ``check``."""
        return self.runner(self.argv(*args), input=input, timeout=timeout, check=check)

    def get_json(self, *args: str, timeout: float = 60.0) -> Any:
        """``kubectl get ARGS -o json`` parsed; None when the object does not exist."""
        res = self("get", *args, "-o", "json", timeout=timeout, check=False)
        if res.returncode != 0:
            if "NotFound" in res.stderr or "not found" in res.stderr:
                return None
            raise CommandError(res.argv, res.returncode, res.stdout, res.stderr)
        return json.loads(res.stdout) if res.stdout.strip() else None

    def apply(self, objects: Sequence[Mapping[str, Any]], *, timeout: float = 90.0) -> Result:
        """Server-side apply of ``objects`` (idempotent; the harness owns the fields it sets)."""
        text = yaml.safe_dump_all([dict(o) for o in objects], sort_keys=False)
        return self("apply", "--server-side", "--force-conflicts", f"--field-manager={FIELD_MANAGER}",
                    "-f", "-", input=text, timeout=timeout)

    def delete(self, *args: str, timeout: float = 90.0, wait: bool = False) -> Result:
        """``kubectl delete ARGS --ignore-not-found`` (no waiting unless ``wait``)."""
        return self("delete", *args, "--ignore-not-found", f"--wait={'true' if wait else 'false'}",
                    timeout=timeout)
