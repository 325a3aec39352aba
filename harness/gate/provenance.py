"""What produced a gate report, for its first screen and ``gate.json``'s ``info`` (issue 16, item 5):
the harness, helm, kind, kubectl and Kubernetes versions, where each image came from, and the
digest of each chart's contract. Pure functions over the configuration, the pins
(harness/data/versions.env, :func:`harness.core.pins.pinned`) and the run's records; no process runs.

Image sources follow the add-ons' own rule (:meth:`harness.env.addons.engine.AddonContext.effective_image_source`):
``image-source`` ``local`` or ``pull`` as set; ``auto`` is ``local`` when the cluster runs the node
image built here (``harness/kind-node:...``), else ``pull``. With ``local`` every image comes from the
runner's Docker store (this project's images built there by ``make images``) and kind loads it into
the nodes; with ``pull`` the nodes pull the upstream images named in versions.env (PostgreSQL, which
runs beside the cluster, is pulled by the host's Docker), through ``registry-mirror`` when one is set.
"""
from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from harness.core.errors import HarnessError
from harness.core.pins import kubernetes_pins
from harness.env.addons import smoke
from harness.env.addons.certmanager import images as certmanager_images
from harness.env.addons.postgres import default_image as postgres_image
from harness.env.addons.traefik import image as traefik_local_image
from harness.env.cluster import LOCAL_NODE_REPOSITORY
from harness.scenario.result import Cell

BUILT_HERE = "built here (make images)"
LOCAL_STORE = "local Docker store (pulled before the run; not built here)"
PULLED = "pulled by the nodes"
PULLED_BY_HOST = "pulled by the host's Docker"


def effective_source(setting: str, node_image: str) -> str:
    """``local`` or ``pull`` for the ``image-source`` ``setting`` (``auto``: ``local`` when ``node_image``
    is the one built here)."""
    if setting in ("local", "pull"):
        return setting
    return "local" if node_image.startswith(LOCAL_NODE_REPOSITORY + ":") else "pull"


def node_image_source(node_image: str, *, given: bool) -> str:
    """How the kind node image came to be: given by ``--node-image``, built here, or pulled (by digest
    when versions.env pins one)."""
    if given:
        return "given (node-image)"
    if node_image.startswith(LOCAL_NODE_REPOSITORY + ":"):
        return "built here (images/build-node-image.sh)"
    return "pulled" + (" by digest" if "@sha256:" in node_image else "")


def addon_images(addons: Iterable[str], source: str, pins: Mapping[str, str]) -> list[tuple[str, str, str]]:
    """``(image, add-on, source)`` for every image the add-ons run with ``source`` (``local`` | ``pull``),
    as the add-on modules name them (harness/env/addons/)."""
    rows: list[tuple[str, str, str]] = []
    local = source == "local"
    for name in addons:
        if name == "traefik":
            img = traefik_local_image(pins.get("TRAEFIK_VERSION")) if local else pins.get(
                "TRAEFIK_PULL_IMAGE", f"traefik:{pins.get('TRAEFIK_VERSION', '')}")
            rows += [(img, name, BUILT_HERE if local else PULLED),
                     (smoke.toolbox_image(source), f"{name} smoke check", BUILT_HERE if local else PULLED)]
        elif name == "cert-manager":
            rows += [(i, name, BUILT_HERE if local else PULLED) for i in certmanager_images(pins.get("CERT_MANAGER_VERSION"))]
        elif name == "postgres":
            rows.append((postgres_image(source), name, BUILT_HERE if local else PULLED_BY_HOST))
        elif name == "ingress-nginx":
            ctrl = f"registry.k8s.io/ingress-nginx/controller:{pins.get('INGRESS_NGINX_CONTROLLER_VERSION', '')}"
            rows += [(ctrl, name, LOCAL_STORE if local else PULLED),
                     (smoke.toolbox_image(source), f"{name} smoke check", BUILT_HERE if local else PULLED)]
    return rows


def image_sources(cfg: Any, node_image: str, pins: Mapping[str, str]) -> tuple[str, list[dict[str, str]]]:
    """``(setting text, rows)``: ``"auto (local here)"`` and per image ``{"image", "use", "source"}``:
    the node image (kind clusters only), then the add-ons' (:func:`addon_images`)."""
    setting = str(getattr(cfg, "image_source", "") or "auto")
    source = effective_source(setting, node_image)
    mirror = getattr(cfg, "registry_mirror", None)
    rows: list[dict[str, str]] = []
    if not cfg.external_cluster:
        rows.append({"image": node_image, "use": "kind node",
                     "source": node_image_source(node_image, given=bool(getattr(cfg, "node_image", None)))})
    for image, use, how in addon_images(getattr(cfg, "addons", ()) or (), source, pins):
        if mirror and how.startswith("pulled"):
            how += f" through {mirror}"
        rows.append({"image": image, "use": use, "source": how})
    text = setting if setting != "auto" else f"auto ({source} here)"
    return text, rows


def tool_versions(cfg: Any, cells: Sequence[Cell], pins: Mapping[str, str]) -> dict[str, str]:
    """``{"helm", "kind", "kubectl", "kubernetes"}``: helm and Kubernetes as the records' cells say they
    ran (harness/plugin/cell.py: the helm binary's own ``helm version``, the cluster's configured
    version); before any test ran, what is pinned, marked so. kind and kubectl are the pinned tools of
    that Kubernetes version (images/build-tools.sh installs them per version; kind is not used on an
    external cluster)."""
    def distinct(values: Iterable[str]) -> str:
        return ", ".join(dict.fromkeys(v for v in values if v))

    k8s = distinct(c.kubernetes_version for c in cells) or str(getattr(cfg, "kubernetes_version", "") or "")
    helm = distinct(c.helm_version for c in cells)
    if not helm:
        helm = (f"{cfg.helm} (no test ran)" if getattr(cfg, "helm", None)
                else f"{pins.get('HELM_VERSION', '?')} (pinned; no test ran)")
    try:
        row = kubernetes_pins(k8s.split(", ")[0] or None, dict(pins))
        kind, kubectl = row.kind, row.version
        k8s = k8s or row.version
    except HarnessError:
        kind, kubectl = pins.get("KIND_VERSION", "?"), "?"
    if cfg.external_cluster:
        kind = "not used (external cluster)"
        k8s = k8s or "the external cluster's"
    return {"helm": helm, "kind": kind, "kubectl": kubectl, "kubernetes": k8s}


def contract_digests(charts: Sequence[Any]) -> list[dict[str, str]]:
    """Per chart ``{"chart", "path", "sha256"}`` of the harness-contract.yaml the run read (its bytes),
    so a report names the exact contract it judged; ``sha256`` says why when the file cannot be read."""
    out = []
    for c in charts:
        path = getattr(getattr(c, "contract", None), "path", None)
        if path is None:
            continue
        try:
            digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
        except OSError as exc:
            digest = f"unreadable: {exc.strerror or exc}"
        try:
            shown = os.path.relpath(path)
        except ValueError:  # another drive (Windows): the absolute path
            shown = str(path)
        out.append({"chart": c.name, "path": shown, "sha256": digest})
    return out


__all__ = ["addon_images", "contract_digests", "effective_source", "image_sources", "node_image_source",
           "tool_versions"]
