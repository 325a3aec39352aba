"""``python -m harness clean``: remove what runs that are over left behind (a killed or interrupted run).

What is looked at (each found the way it was marked, harness/core/runs.py):

* kind clusters (``kind get clusters``) with their owner records ``<cache>/clusters/<name>/owner.json``;
* Docker containers labelled ``io.helm-e2e-harness.addon`` (their run id, pid and host labels;
  the run's record when it has one, for its ``kept`` flag);
* namespaces labelled ``helm-e2e-harness/run-id`` in the kind clusters that stay (through the
  cluster's private kubeconfig), owned by that run's record;
* run directories ``<cache>/runs/<run-id>`` (the private helm homes).

The harness creates no Docker network or volume of its own: kind's nodes share kind's ``kind``
network (never removed here), and a node's or an add-on container's anonymous volumes go with it
(``kind delete cluster``, ``docker rm -v``); the loopback registry's storage, a host directory it
mounts (harness/env/registry.py), is removed with its container.

The decision is :func:`harness.core.runs.decide` (pure); this module only lists and removes.
"""
from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness.core import runs
from harness.core.errors import CommandError, WaitTimeout
from harness.core.pins import cache_dir
from harness.env import containers, registry
from harness.env.addons.postgres import LABEL_ADDON as ADDON_LABEL
from harness.env.addons.postgres import LABEL_CLUSTER as CLUSTER_LABEL
from harness.env.addons.postgres import LABEL_HOST as HOST_LABEL
from harness.env.addons.postgres import LABEL_PID as PID_LABEL
from harness.env.addons.postgres import LABEL_RUN as RUN_LABEL
from harness.k8s.namespaces import RUN_LABEL as NAMESPACE_RUN_LABEL
from harness.tools import binaries, docker
from harness.tools.exec import run
from harness.tools.kind import Kind


def parse_docker_labels(text: str) -> dict[str, str]:
    """``docker ps --format '{{.Labels}}'`` (``k=v,k=v``) as a dict."""
    out = {}
    for part in text.strip().split(","):
        key, sep, value = part.partition("=")
        if sep and key:
            out[key.strip()] = value.strip()
    return out


def container_owner(labels: dict[str, str], cache: Path) -> runs.Owner | None:
    """A container's owner: its run's record when there is one (it knows ``kept``), else its labels."""
    recorded = runs.run_owner(labels.get(RUN_LABEL, ""), cache)
    if recorded is not None:
        return recorded
    try:
        return runs.Owner(run_id=labels[RUN_LABEL], pid=int(labels[PID_LABEL]), host=labels.get(HOST_LABEL, ""))
    except (KeyError, ValueError):
        return None


def list_clusters(kind: Kind, cache: Path) -> list[runs.Resource]:
    """The kind clusters, each with its owner record (None when the harness did not record one)."""
    return [runs.Resource("cluster", n, runs.read_owner(runs.cluster_owner_path(n, cache)))
            for n in kind.get_clusters()]


def list_containers(cache: Path, runner: Callable[..., Any] = run) -> list[runs.Resource]:
    """The add-ons' containers (any state), each with its owner."""
    out = runner(["docker", "ps", "-a", "--filter", f"label={ADDON_LABEL}", "--format", "{{.Names}}\t{{.Labels}}"],
                 timeout=60).stdout
    found = []
    for line in out.splitlines():
        name, _, labels = line.partition("\t")
        if name.strip():
            parsed = parse_docker_labels(labels)
            # a PostgreSQL server serves one cluster; the registry may outlive its cluster (`registry up`)
            serves = parsed.get(CLUSTER_LABEL, "") if parsed.get(ADDON_LABEL) == "postgres" else ""
            found.append(runs.Resource("container", name.strip(), container_owner(parsed, cache), cluster=serves))
    return found


def list_namespaces(cluster: str, cache: Path, runner: Callable[..., Any] = run) -> list[runs.Resource]:
    """The harness's namespaces in kind cluster ``cluster`` (through ``<cache>/clusters/<name>/kubeconfig``;
    none when there is no such kubeconfig), each owned by its run's record."""
    kubeconfig = cache / "clusters" / cluster / "kubeconfig"
    if not kubeconfig.is_file():
        return []
    out = runner([binaries.tool_path("kubectl"), "--kubeconfig", str(kubeconfig), "--request-timeout=20s", "get",
                  "namespaces", "-l", NAMESPACE_RUN_LABEL, "-o", "json"], timeout=60).stdout
    found = []
    for item in json.loads(out or "{}").get("items", []):
        meta = item.get("metadata", {})
        run_id = (meta.get("labels") or {}).get(NAMESPACE_RUN_LABEL, "")
        found.append(runs.Resource("namespace", meta.get("name", ""), runs.run_owner(run_id, cache), cluster=cluster))
    return found


def list_run_dirs(cache: Path) -> list[runs.Resource]:
    """``<cache>/runs/*``, each with its record."""
    root = runs.runs_root(cache)
    if not root.is_dir():
        return []
    return [runs.Resource("run-dir", d.name, runs.read_owner(d / runs.OWNER_FILE))
            for d in sorted(root.iterdir()) if d.is_dir()]


def live_pids(resources: list[runs.Resource], alive: Callable[[int], bool] = runs.pid_alive) -> set[int]:
    """The owners' pids that are alive on this host."""
    return {r.owner.pid for r in resources if r.owner is not None and alive(r.owner.pid)}


def remove(resource: runs.Resource, *, kind: Kind, cache: Path, runner: Callable[..., Any] = run) -> None:
    """Remove one resource.

    Clusters and containers are removed until `docker ps -a` lists them no more: a run killed during
    `docker run` leaves dockerd creating a container that `docker rm` cannot see yet
    (harness/env/containers.py).

    Raises:
        CommandError: the docker, kind or kubectl command failed.
        WaitTimeout: a container is still listed after the removal's time budget.
    """
    if resource.kind == "cluster":
        containers.delete_kind_cluster(kind, resource.name, runner=runner)
        shutil.rmtree(cache / "clusters" / resource.name, ignore_errors=True)
    elif resource.kind == "container":
        storage = None
        if resource.name.startswith(registry.CONTAINER_PREFIX):
            # the loopback registry's storage is a host directory, not a volume: `rm -v` leaves it
            storage, _ = registry.inspect_container(resource.name, runner=runner)
        containers.remove_until_gone(f"name=^{resource.name}$", runner=runner)
        if storage is not None:
            shutil.rmtree(storage, ignore_errors=True)
    elif resource.kind == "namespace":
        kubeconfig = cache / "clusters" / resource.cluster / "kubeconfig"
        runner([binaries.tool_path("kubectl"), "--kubeconfig", str(kubeconfig), "--request-timeout=20s", "delete",
                "namespace", resource.name, "--wait=false", "--ignore-not-found"], timeout=60)
    elif resource.kind == "run-dir":
        shutil.rmtree(runs.runs_root(cache) / resource.name, ignore_errors=True)
    else:
        raise ValueError(f"unknown resource kind {resource.kind!r}")


def clean(*, dry_run: bool = False, include_kept: bool = False, kind: Kind | None = None,
          runner: Callable[..., Any] = run, cache: Path | None = None,
          say: Callable[[str], None] = print) -> int:
    """List, decide (:func:`harness.core.runs.decide`) and remove; one line per thing found.

    Clusters are decided first; then containers (a PostgreSQL server kept for a cluster that does not
    stay serves nothing and goes) and the namespaces of the clusters that stay (a removed cluster
    takes its namespaces with it); run directories last.

    Returns:
        0, or 1 when a removal failed (its line says why).

    Raises:
        EnvironmentNotReady: Docker is not answering (exit 3).
    """
    cache = cache or cache_dir()
    kind = kind or Kind()
    docker.require_engine()
    host = runs.this_host()
    clusters = list_clusters(kind, cache)
    decisions = runs.decide(clusters, live_pids=live_pids(clusters), host=host, include_kept=include_kept)
    staying = [d.resource.name for d in decisions if not d.remove]
    found = list_containers(cache, runner)
    decisions += runs.decide(found, live_pids=live_pids(found), host=host, include_kept=include_kept,
                             clusters=staying)
    later: list[runs.Resource] = []
    for name in staying:
        try:
            later += list_namespaces(name, cache, runner)
        except (CommandError, ValueError) as exc:
            say(f"could not list the namespaces of cluster {name}: {str(exc).splitlines()[0] if str(exc) else exc!r}")
    later += list_run_dirs(cache)
    decisions += runs.decide(later, live_pids=live_pids(later), host=host, include_kept=include_kept)
    decisions = runs.drop_spent_run_dirs(decisions)
    rc = 0
    order = {"namespace": 0, "container": 1, "cluster": 2, "run-dir": 3}
    for d in sorted(decisions, key=lambda d: order.get(d.resource.kind, 9)):
        if d.remove and not dry_run:
            try:
                remove(d.resource, kind=kind, cache=cache, runner=runner)
            except (CommandError, WaitTimeout) as exc:
                say(f"could not remove {d.resource.label()}: {str(exc).splitlines()[0]}")
                rc = 1
                continue
        say(runs.format_decision(d, dry_run=dry_run))
    if not decisions:
        say("nothing found: no harness cluster, container, namespace or run directory")
    return rc
