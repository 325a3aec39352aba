"""Removing Docker containers so that they stay removed, even the one a killed `docker run` asked for.

A run killed during `docker run` (kind creating a node, an add-on starting) leaves dockerd finishing
the create on its own. While it does, `docker ps -a` already lists the container but `docker rm -f`
answers "No such container" (and, with ``-f``, exits 0): the container appears for good a moment
later. Creating a kind node takes seconds, because dockerd copies the node image's ``/var`` (its
preloaded images) into the node's new anonymous volume. Measured here (Docker 20.10, kind v0.33): a
`kind create cluster` killed once its node was listed, then `kind delete cluster` at once, left the
node behind 12 times out of 12. So removal is repeated until nothing matching is listed.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from harness.k8s.wait import wait_for
from harness.tools import docker
from harness.tools.exec import run
from harness.tools.kind import Kind

KIND_CLUSTER_LABEL = "io.x-k8s.kind.cluster"
"""The label kind puts on every node container of a cluster (its value: the cluster's name)."""

ADDON_LABEL = "io.helm-e2e-harness.addon"
"""The label on every container an add-on starts (its value: the add-on, ``postgres`` or ``registry``)."""

ADDON_CLUSTER_LABEL = "io.helm-e2e-harness.env.cluster"
"""The label naming the kind cluster an add-on container serves."""


def remove_until_gone(*docker_filters: str, timeout: float = 90.0, interval: float = 1.0,
                      runner: Callable[..., Any] = run) -> list[str]:
    """``docker rm -f -v`` the containers ``docker ps -a --filter F ...`` lists, until it lists none.

    Args:
        docker_filters: ``docker ps`` filters, all of which a container matches, e.g.
            ``label=io.x-k8s.kind.cluster=NAME`` or ``name=^NAME$`` (Docker docs, "docker container ls":
            Filtering).
        timeout: seconds to keep trying (a create in progress ends within seconds).
        interval: seconds between tries.
        runner: runs the docker commands (:func:`harness.tools.exec.run`; injectable for tests).

    Returns:
        the names that were listed at some point, in the order first seen (empty: there was nothing).

    Raises:
        WaitTimeout: still listed after ``timeout`` (names them).
        CommandError: `docker ps` or `docker rm` failed.
    """
    seen: list[str] = []

    def gone() -> tuple[bool, str]:
        listed = docker.container_names(*docker_filters, runner=runner)
        seen.extend(n for n in listed if n not in seen)
        if listed:
            docker.remove_containers(listed, runner=runner)
            listed = docker.container_names(*docker_filters, runner=runner)
        if not listed:
            return True, "none listed"
        return False, f"still listed after docker rm -f: {', '.join(listed)}"

    wait_for(gone, timeout=timeout, interval=interval, what=f"no container matching {' '.join(docker_filters)}",
             hint="dockerd may be stuck; `docker ps -a` shows them, `docker rm -f -v NAME` removes them",
             transient=lambda exc: False)
    return seen


def delete_kind_cluster(kind: Kind, name: str, *, timeout: float = 90.0, runner: Callable[..., Any] = run) -> list[str]:
    """`kind delete cluster --name NAME`, then remove the node containers kind did not see or could not remove.

    Args:
        kind: a :class:`harness.tools.kind.Kind`.
        name: the cluster's name.
        timeout: seconds to wait for node containers still being created (see the module docstring).
        runner: runs the docker commands (injectable for tests).

    Returns:
        the node containers removed after kind's delete (empty when kind's delete was enough).

    Raises:
        CommandError: kind or docker failed.
        WaitTimeout: a node container is still listed after ``timeout``.
    """
    kind.delete(name)
    return remove_until_gone(f"label={KIND_CLUSTER_LABEL}={name}", timeout=timeout, runner=runner)


def remove_postgres_of(cluster: str, *, runner: Callable[..., Any] = run) -> list[str]:
    """Remove the PostgreSQL add-on containers that served kind cluster ``cluster`` (any run's: with the
    cluster gone they serve nothing). The loopback registry is not one of them: it may outlive the
    cluster (``registry up``) and its own stop removes its storage.

    Returns:
        the removed container names.

    Raises:
        CommandError: docker failed.
        WaitTimeout: a container is still listed after the removal's time budget.
    """
    return remove_until_gone(f"label={ADDON_LABEL}=postgres", f"label={ADDON_CLUSTER_LABEL}={cluster}", runner=runner)


def join_registry_serving(address: str, network: str = "kind", *, runner: Callable[..., Any] = run) -> list[str]:
    """Connect the harness's loopback registry published on ``address`` (``127.0.0.1:PORT``, the pull
    path's ``--registry-mirror``) to Docker network ``network``, unless it is on it already.

    The pull path's kind config sends the nodes' pulls to the registry by its name on the kind
    network; a registry started before any kind cluster existed is not on that network (kind makes it
    in ``kind create cluster``), so this runs right after the create, before anything is scheduled:
    the order of kind's own recipe (kind docs, "Local Registry": ``docker network connect "kind"
    <registry>`` after the cluster is created). A mirror that is not a harness registry is left alone.

    Returns:
        the names of the containers it connected ([] when none needed it).

    Raises:
        CommandError: docker failed.
    """
    out = runner(["docker", "ps", "--filter", f"label={ADDON_LABEL}=registry",
                  "--format", "{{.Names}}\t{{.Ports}}\t{{.Networks}}"], timeout=30).stdout
    joined = []
    for line in out.splitlines():
        name, ports, networks = (line.split("\t") + ["", ""])[:3]
        if name and f"{address}->" in ports and network not in networks.split(","):
            runner(["docker", "network", "connect", network, name], timeout=60)
            joined.append(name)
    return joined
