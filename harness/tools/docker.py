"""The Docker engine as the harness sees it: is it there, which images, what a cluster left behind."""
from __future__ import annotations

import json

from harness.core.errors import CommandError, EnvironmentNotReady
from harness.tools.exec import run


def require_engine() -> None:
    """Raise EnvironmentNotReady unless `docker info` answers within 20 s."""
    try:
        run(["docker", "info", "--format", "{{.ServerVersion}}"], timeout=20)
    except CommandError as exc:
        raise EnvironmentNotReady(
            "Docker is not answering (`docker info` failed); start the Docker engine "
            "(on CI machines: bash ci/provision-docker.sh) and retry"
        ) from exc


def image_exists(ref: str) -> bool:
    """True when ``ref`` is present in the local Docker image store (no pull is attempted)."""
    return run(["docker", "image", "inspect", ref], check=False, timeout=30).returncode == 0


def images_matching(repository: str) -> list[str]:
    """Local images of ``repository`` as ``repo:tag`` strings, newest first."""
    out = run(["docker", "images", repository, "--format", "{{.Repository}}:{{.Tag}}"], timeout=30).stdout
    return [line for line in out.splitlines() if line and not line.endswith(":<none>")]


def leftovers(label: str) -> dict[str, list[str]]:
    """Containers, networks and volumes carrying ``label`` (e.g. ``io.x-k8s.kind.cluster=NAME``).

    Returns:
        ``{"containers": [...], "networks": [...], "volumes": [...]}`` of names.
    """
    found: dict[str, list[str]] = {}
    for kind, argv in {
        "containers": ["docker", "ps", "-a", "--filter", f"label={label}", "--format", "{{.Names}}"],
        "networks": ["docker", "network", "ls", "--filter", f"label={label}", "--format", "{{.Name}}"],
        "volumes": ["docker", "volume", "ls", "--filter", f"label={label}", "--format", "{{.Name}}"],
    }.items():
        found[kind] = [n for n in run(argv, timeout=30).stdout.splitlines() if n]
    return found


def remove_containers(names: list[str]) -> None:
    """``docker rm -f`` each of ``names`` (running or not; their anonymous volumes too, ``-v``)."""
    if names:
        run(["docker", "rm", "-f", "-v", *names], timeout=120)


def container_volumes(container: str) -> list[str]:
    """Names of the volumes mounted into ``container`` (kind gives each node an anonymous /var)."""
    out = run(["docker", "inspect", "--format", "{{json .Mounts}}", container], timeout=30).stdout
    return [m["Name"] for m in json.loads(out) if m.get("Type") == "volume"]


def volume_exists(name: str) -> bool:
    """True when the Docker volume ``name`` still exists."""
    return run(["docker", "volume", "inspect", name], check=False, timeout=30).returncode == 0
