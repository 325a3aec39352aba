"""The Docker engine as the harness sees it: is it there, which images and containers, removing containers."""
from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

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


def container_names(*docker_filters: str, runner: Callable[..., Any] = run) -> list[str]:
    """Names of the containers (any state) ``docker ps -a --filter F ...`` lists (matching every filter), e.g.
    ``label=K=V`` or ``name=^NAME$``. A container dockerd is still creating is listed already."""
    filters = [a for f in docker_filters for a in ("--filter", f)]
    out = runner(["docker", "ps", "-a", *filters, "--format", "{{.Names}}"], timeout=30).stdout
    return [n for n in out.splitlines() if n]


def remove_containers(names: list[str], *, runner: Callable[..., Any] = run) -> None:
    """``docker rm -f`` each of ``names`` (running or not; their anonymous volumes too, ``-v``).

    A name dockerd does not know (yet: see harness/env/containers.py) is no error with ``-f``."""
    if names:
        runner(["docker", "rm", "-f", "-v", *names], timeout=120)


def container_volumes(container: str) -> list[str]:
    """Names of the volumes mounted into ``container`` (kind gives each node an anonymous /var)."""
    out = run(["docker", "inspect", "--format", "{{json .Mounts}}", container], timeout=30).stdout
    return [m["Name"] for m in json.loads(out) if m.get("Type") == "volume"]


def volume_exists(name: str) -> bool:
    """True when the Docker volume ``name`` still exists."""
    return run(["docker", "volume", "inspect", name], check=False, timeout=30).returncode == 0
