"""The gate's preflight: everything that can fail in seconds, checked before any cluster work
(Docker, the pinned tools, the contract images, the released version, and the chart check:
``helm lint`` and ``helm template`` of every variant, the probe host, images, probe bounds)."""
from __future__ import annotations

import dataclasses
import os
import tempfile
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import yaml

from harness.core.errors import CommandError, EnvironmentNotReady, UsageError
from harness.core.imageref import UPSTREAM_REGISTRIES
from harness.env import cluster as kind_cluster
from harness.env.imagecheck import require_images
from harness.gate.clock import Clock
from harness.gate.plan import Plan
from harness.scenario.preflight import check_charts, problems_message
from harness.tools import docker
from harness.tools.binaries import tool_path
from harness.tools.chartrepo import ChartRepo, repository_source
from harness.tools.helm import Helm, HelmError


def check_docker() -> str:
    """Docker answers (through the docker CLI, so ``DOCKER_HOST`` and contexts apply).

    Raises:
        EnvironmentNotReady: naming ``DOCKER_HOST`` when it is set, with the CLI's own error line.
    """
    try:
        docker.require_engine()
    except EnvironmentNotReady as exc:
        cause = exc.__cause__
        detail = ""
        if isinstance(cause, CommandError):
            lines = [ln.strip() for ln in (cause.stderr or cause.stdout or "").splitlines() if ln.strip()]
            detail = lines[-1] if lines else ""
        where = f" at DOCKER_HOST={os.environ['DOCKER_HOST']}" if os.environ.get("DOCKER_HOST") else ""
        msg = str(exc) if not where else str(exc).replace("Docker is not answering", f"Docker is not answering{where}", 1)
        raise EnvironmentNotReady(msg + (f" [{detail}]" if detail and detail not in msg else "")) from None
    return "Docker answers"


def check_tools(external: bool) -> list[str]:
    """The pinned tools exist (kind only for a kind cluster). Raises EnvironmentNotReady."""
    names = ["helm", "kubectl"] + ([] if external else ["kind"])
    return [tool_path(n) for n in names]


def check_images(charts: Sequence[Any], cfg: Any = None) -> tuple[list[str], str]:
    """Every contract image is where the run will take it from: ``(images, where)``.

    Under an effective image-source ``local`` (:func:`harness.env.cluster.effective_image_source`)
    kind loads them from the local Docker store, so they must be there; under ``pull`` the nodes
    pull them, so each is asked of its registry (through ``cfg.registry_mirror`` for the upstream
    registries it stands in for: :func:`harness.env.imagecheck.require_images`).

    Raises:
        EnvironmentNotReady: one line naming the missing images (local), or one per image its
            registry does not serve, refuses or cannot be reached for (pull).
    """
    images = sorted({img for c in charts for img in (c.contract.images if c.contract else ())})
    source = "local"
    if cfg is not None:
        source = kind_cluster.configured_image_source(cfg)
    if source == "pull":
        mirror = getattr(cfg, "registry_mirror", None)
        require_images(images, mirror=mirror, mirrored=UPSTREAM_REGISTRIES if mirror else ())
        return images, f"in their registr{'ies' if not mirror else 'y mirror ' + mirror}"
    missing = [img for img in images if not docker.image_exists(img)]
    if missing:
        raise EnvironmentNotReady(f"image{'s' if len(missing) > 1 else ''} {', '.join(missing)} "
                                  f"{'are' if len(missing) > 1 else 'is'} not in the local Docker store; build or "
                                  "pull them first (`make images` for the charts under test)")
    return images, "present"


def check_released_version(chart: Any) -> str | None:
    """For a released chart served from a local directory, the version exists in its index.yaml.

    Returns:
        ``"<chart> <version>"`` when checked, else None (URL and OCI repositories are checked by
        the run itself, with helm).

    Raises:
        UsageError: the version is not in the index.
    """
    rel = chart.contract.released if chart.contract else None
    if rel is None or rel.kind != "repo" or not isinstance(rel.repository, Path):
        return None
    index = yaml.safe_load((rel.repository / "index.yaml").read_text()) or {}
    name = rel.chart.split("/", 1)[1]
    versions = [str(e.get("version")) for e in (index.get("entries") or {}).get(name) or []]
    if rel.version not in versions:
        raise UsageError(f"gate: {chart.name}: released chart {rel.chart} has no version {rel.version} in "
                         f"{rel.repository / 'index.yaml'} (versions: {', '.join(versions) or 'none'}); "
                         "check --from-version or the contract's released.version")
    return f"{rel.chart} {rel.version}"


def lint(plan: Plan) -> list[str]:
    """The chart check of ``python -m harness check`` (:func:`harness.scenario.preflight.check_charts`:
    every variant of a directory or .tgz chart rendered and linted with the contract's and the run's
    values, the probe host served by the edge, images, probe bounds); a ``repo/name`` or ``oci://``
    chart is resolved instead (``helm show chart``, its repository added first:
    :func:`harness.tools.chartrepo.repository_source`), so an unknown version fails here. A failing
    chart is bad input (exit 2).

    Returns:
        what was checked, one line per chart.

    Raises:
        UsageError: ``gate: chart check found N problems:`` and one line per problem, or
            ``gate: <chart>: <helm's error>`` for a chart that does not resolve.
        EnvironmentNotReady: helm is missing.
    """
    remote = [c for c in plan.charts if not c.ref.is_local]
    checked: list[str] = []
    if remote:
        with tempfile.TemporaryDirectory(prefix="harness-gate-helm-") as home, ExitStack() as served:
            helm = Helm(None, home=home, binary=plan.cfg.helm, kube_version=plan.cfg.kubernetes_version)
            added: set[str] = set()
            for c in remote:
                try:
                    if c.ref.kind == "repo" and (name := c.ref.ref.split("/", 1)[0]) not in added:
                        src = repository_source(name, released=c.contract.released if c.contract else None,
                                                rootdir=plan.cfg.rootdir)
                        url = src if isinstance(src, str) else served.enter_context(ChartRepo(src, name=name)).url
                        helm.repo_add(name, url)
                        added.add(name)
                    helm.show_chart(c.ref)
                except (HelmError, UsageError) as exc:
                    raise UsageError(f"gate: {c.name}: {exc}") from None
                checked.append(f"resolved {c.name} ({c.ref.ref}): helm show chart")
    local = [c for c in plan.charts if c.ref.is_local]
    # each edge of an edge matrix serves the chart through its own object (Ingress, HTTPRoute)
    edges = plan.edges or (plan.cfg.edge,)
    for edge in edges if local else ():
        report = check_charts(local, dataclasses.replace(plan.cfg, edge=edge) if len(edges) > 1 else plan.cfg)
        if report.problems:
            raise UsageError("gate: " + (f"through edge {edge}: " if len(edges) > 1 else "")
                             + problems_message(report))
        checked += report.checked
    return checked


def preflight(plan: Plan, clock: Clock) -> None:
    """Everything that can fail in seconds, before any cluster work. Raises UsageError/EnvironmentNotReady."""
    external = plan.cfg.external_cluster
    if not external:
        check_docker()
    check_tools(external)
    if not external:
        images, where = check_images(plan.charts, plan.cfg)
        clock.say(f"preflight: Docker answers; helm, kubectl{'' if external else ', kind'} found; "
                  f"{len(images)} chart images {where}")
    else:
        clock.say(f"preflight: external cluster {plan.cfg.kubeconfig}"
                  + (f" (context {plan.cfg.kube_context})" if getattr(plan.cfg, "kube_context", None) else "")
                  + "; helm, kubectl found")
    checked = [x for x in (check_released_version(c) for c in plan.charts) if x]
    lint(plan)
    clock.say("preflight: chart check passed (helm lint, helm template of every variant, probe host, images, "
              "probes)" + (f"; released {', '.join(checked)} found" if checked else ""))
