"""The kind CLI, one short method per subcommand (shaped like chart-testing's pkg/tool wrappers)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from harness.tools.binaries import tool_path
from harness.tools.exec import run


@dataclass(frozen=True)
class Kind:
    """The pinned kind binary. ``binary`` defaults to `tool_path("kind")`."""

    binary: str = ""

    def _kind(self) -> str:
        return self.binary or tool_path("kind")

    def get_clusters(self) -> list[str]:
        """Names of the kind clusters on this Docker engine (`kind get clusters`)."""
        out = run([self._kind(), "get", "clusters"], timeout=60).stdout
        return [line.strip() for line in out.splitlines() if line.strip()]

    def create(self, name: str, *, config: Path, image: str, kubeconfig: Path, timeout: float = 600) -> None:
        """`kind create cluster` from ``config`` with node ``image``; kubeconfig written to ``kubeconfig``.

        kind skips the pull when ``image`` is already present locally
        (https://kind.sigs.k8s.io/docs/user/quick-start/#creating-a-cluster).

        Args:
            timeout: seconds for the whole create (nodes up, kubeadm init/join, CNI, storage).

        Raises:
            CommandError / CommandTimeout: kind failed; the message holds its last line.
        """
        run(
            [self._kind(), "create", "cluster", "--name", name, "--config", str(config), "--image", image,
             "--kubeconfig", str(kubeconfig), "--retain=false"],
            timeout=timeout,
            hint=f"full output: `{self._kind()} create cluster --name {name} --config {config} --image {image}`",
        )

    def delete(self, name: str, *, timeout: float = 180) -> None:
        """`kind delete cluster --name NAME` (a missing cluster is not an error for kind)."""
        run([self._kind(), "delete", "cluster", "--name", name], timeout=timeout)

    def get_kubeconfig(self, name: str) -> str:
        """The kubeconfig of cluster ``name`` as text (`kind get kubeconfig`), API server on 127.0.0.1."""
        return run([self._kind(), "get", "kubeconfig", "--name", name], timeout=60).stdout

    def get_nodes(self, name: str) -> list[str]:
        """Node container names of cluster ``name``."""
        out = run([self._kind(), "get", "nodes", "--name", name], timeout=60).stdout
        return [n for n in out.split() if n]

    def load_image(self, name: str, image: str, *, nodes: list[str] | None = None, timeout: float = 300) -> None:
        """`kind load docker-image IMAGE` into all nodes of ``name``, or only ``nodes``."""
        argv = [self._kind(), "load", "docker-image", image, "--name", name]
        if nodes:
            argv += ["--nodes", ",".join(nodes)]
        run(argv, timeout=timeout)

    def export_logs(self, name: str, dest: Path, *, timeout: float = 300) -> None:
        """`kind export logs DEST --name NAME`: journal, kubelet, containerd and pod logs of every node."""
        run([self._kind(), "export", "logs", str(dest), "--name", name], timeout=timeout)
