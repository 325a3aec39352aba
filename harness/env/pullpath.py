"""The pull path through the loopback registry, prepared for one kind cluster (issue 17).

What a pulling user's machine does (docs/cluster.md, "How users' machines get their images"),
played here with images built on this machine: each local image is pushed to the loopback
registry (harness/env/registry.py) under the upstream name a pulling machine asks for; the node
image is then chosen by the same resolution code as on a pulling machine
(:func:`harness.env.cluster.resolve_node_image`, ``image_source`` ``pull``) from a pins row whose
``pull`` image names the loopback registry; and a kind config routes the nodes' containerd to the
registry for every upstream registry.

A locally built node image cannot have the digest ``NODE_PULL_<major>_<minor>`` pins for
kindest/node: the row's pin is replaced by the pushed image's own digest, and
:attr:`PullPath.digest_note` says so (a test prints it), so the digest-pinned path still runs.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from harness.core.errors import EnvironmentNotReady
from harness.core.imageref import ImageRef, parse_image
from harness.core.pins import KubernetesPins, kubernetes_pins
from harness.env import (
    cluster as kind_cluster,  # a module: tests replace local_node_image
)
from harness.env import registry as reg_mod
from harness.tools.exec import run as _run


@dataclass(frozen=True)
class PullPath:
    """What a pull-mode cluster run through the loopback registry uses.

    Attributes:
        node_image: the node image reference the cluster is created from
            (``127.0.0.1:<port>/kindest/node:<tag>@sha256:<pushed digest>``).
        upstream_node_image: the pin it stands in for (``NODE_PULL_<major>_<minor>``).
        digest_note: one line when the upstream digest could not be kept ("" otherwise).
        kind_config: the kind config file (harness default nodes plus the registry routing).
        pushed: upstream name -> pushed loopback reference (with digest), for every pushed image.
    """

    node_image: str
    upstream_node_image: str
    digest_note: str
    kind_config: Path
    pushed: dict[str, str] = field(default_factory=dict)


def mirrored_pins(pins: KubernetesPins, pushed_node: ImageRef) -> KubernetesPins:
    """``pins`` whose ``pull`` image is ``pushed_node`` (the loopback name and the pushed digest)."""
    return replace(pins, pull=str(pushed_node))


def digest_note(upstream: str, pushed: ImageRef) -> str:
    """The line saying an upstream digest pin was replaced by the local build's ("" when none was pinned
    or they match)."""
    want = parse_image(upstream).digest
    if not want or want == pushed.digest:
        return ""
    return (f"node image: the pin {upstream} cannot match a local build; pinned the pushed digest "
            f"{pushed.digest} instead ({pushed})")


def prepare(reg: reg_mod.Registry, spec: kind_cluster.ClusterSpec, *, node_image: str | None = None,
            images: Mapping[str, str] | None = None, stamp: str = "",
            runner: Callable[..., Any] = _run) -> PullPath:
    """Push the node image and ``images`` to ``reg``, resolve the node image as a pulling machine
    would, and write the kind config that routes the cluster's pulls to ``reg``.

    Args:
        reg: a running registry (:func:`harness.env.registry.start`).
        spec: the cluster to be created (its ``kubernetes_version``, ``workers`` and ports shape the
            kind config; its ``kind_config``, if set, is the base instead of the default one).
        node_image: the local node image to push (default: the newest ``harness/kind-node`` build of
            the version).
        images: local image -> upstream name to push as well (``{"harness/postgres:15": "postgres:16"}``;
            a local name that is already its upstream name, ``harness/traefik:v3.7.12``, maps to itself).
        stamp: pushes the node image as a copy labelled with it (:func:`harness.env.registry.push`), so
            its digest is one the host's Docker has never pulled and kind's pull must reach ``reg``
            (``ci/e2e_pull.py`` asserts it did; one stamp per registry run: ``reg.run_id``).
        runner: harness.tools.exec.run-compatible process runner.

    Returns:
        the :class:`PullPath`; create the cluster with ``node_image``, ``kind_config`` and ``reg.address``
        as the registry mirror: :func:`harness.env.cluster.ensure_cluster` then joins the registry to the
        ``kind`` network if it was not on it (:func:`harness.env.containers.join_registry_serving`).

    Raises:
        EnvironmentNotReady: no local node image of the version, or a push failed.
        UsageError: an unknown Kubernetes version.
    """
    pins = kubernetes_pins(spec.kubernetes_version)
    upstream = kind_cluster.upstream_node_image(pins)
    local = node_image or kind_cluster.local_node_image(pins.version)
    if not local:
        raise EnvironmentNotReady(f"no local node image {kind_cluster.LOCAL_NODE_REPOSITORY}:{pins.version}-* to "
                                  f"push; run `images/build-node-image.sh {pins.version}`")
    pushed_node = reg_mod.push(reg, local, upstream, stamp=stamp, runner=runner)
    pushed = {upstream: str(pushed_node)}
    for local_image, upstream_name in (images or {}).items():
        pushed[upstream_name] = str(reg_mod.push(reg, local_image, upstream_name, runner=runner))
    chosen = kind_cluster.resolve_node_image(replace(spec, image_source="pull", node_image=None),
                                             pins=mirrored_pins(pins, pushed_node))
    version = reg_mod.node_containerd_config_version(local, runner=runner)
    base = spec.kind_config.read_text() if spec.kind_config else kind_cluster.render_kind_config(spec)
    config = reg.storage / "kind-config.yaml"
    config.write_text(reg_mod.mirrored_kind_config(base, reg_mod.write_hosts_dir(reg), version))
    return PullPath(chosen, upstream, digest_note(upstream, pushed_node), config, pushed)
