"""``ingress-nginx``: the upstream controller, for users whose machines can pull its image.

Retired: Kubernetes SIG Network announced on 2025-11-11 that ingress-nginx maintenance ends in
March 2026; its last tag is controller-v1.15.1. ``traefik`` is the maintained successor here and
serves the same Ingresses (class nginx, ingress-nginx annotations). This definition installs the
last upstream chart with kind's settings (controller on the ``ingress-ready=true`` node with host
ports 80/443, tolerating the control-plane taint). Its image cannot be built offline (it needs
nginx with its Lua modules), so on registry-less machines it fails its image check with one line.
"""
from __future__ import annotations

from typing import Any, ClassVar

from harness.env.addons import smoke as _ingress
from harness.env.addons.engine import (
    AddonContext,
    ChartSource,
    HelmAddon,
    check_host_ports,
    check_images,
    pinned,
)

REPOSITORY = "https://kubernetes.github.io/ingress-nginx"


def _version(key: str, default: str) -> str:
    return pinned().get(key, default)


class IngressNginx(HelmAddon):
    name: ClassVar[str] = "ingress-nginx"
    summary: ClassVar[str] = ("upstream ingress-nginx (retired 2026; last controller v1.15.1) for machines "
                              "that can pull; traefik is the maintained successor")
    namespace: ClassVar[str] = "ingress-nginx"
    release: ClassVar[str] = "ingress-nginx"
    chart: ClassVar[ChartSource] = ChartSource("repo", REPOSITORY, "ingress-nginx",
                                               _version("INGRESS_NGINX_CHART_VERSION", "4.15.1"))
    ingress: ClassVar[bool] = True

    def version(self, ctx: AddonContext) -> str:
        return _version("INGRESS_NGINX_CONTROLLER_VERSION", "v1.15.1")

    def default_values(self, ctx: AddonContext) -> dict[str, Any]:
        # kind's recipe (https://kind.sigs.k8s.io/docs/user/ingress/), as chart values.
        return {
            "controller": {
                # tag only (no digest) so the image preloaded with `kind load` is the one used
                "image": {"tag": self.version(ctx), "digest": "", "digestChroot": ""},
                "hostPort": {"enabled": True, "ports": {"http": 80, "https": 443}},
                "nodeSelector": {"ingress-ready": "true", "kubernetes.io/os": "linux"},
                "tolerations": [
                    {"key": "node-role.kubernetes.io/control-plane", "operator": "Exists", "effect": "NoSchedule"},
                    {"key": "node-role.kubernetes.io/master", "operator": "Exists", "effect": "NoSchedule"},
                ],
                "service": {"type": "ClusterIP"},
                "publishService": {"enabled": False},
                "extraArgs": {"publish-status-address": "localhost"},
                "ingressClassResource": {"name": "nginx", "default": False,
                                         "controllerValue": "k8s.io/ingress-nginx"},
                "watchIngressWithoutClass": False,
                # the validating webhook needs a second image (kube-webhook-certgen) and slows
                # every Ingress write; the harness's charts are linted instead
                "admissionWebhooks": {"enabled": False},
                # hostPorts: the old pod must go before the new one can bind 80/443
                "updateStrategy": {"type": "RollingUpdate",
                                   "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}},
            },
        }

    def images(self, ctx: AddonContext) -> list[str]:
        return [f"registry.k8s.io/ingress-nginx/controller:{self.version(ctx)}", _ingress.toolbox_image(ctx.effective_image_source())]

    def offline_hint(self) -> str:
        return ("ingress-nginx's controller image cannot be built offline (nginx with Lua modules) and the "
                "project was retired in March 2026; use the traefik add-on, which serves the same Ingresses")

    def preflight(self, ctx: AddonContext) -> None:
        # images first: on a registry-less machine that is the clearer message

        check_images(ctx, [self])
        super().preflight(ctx)
        check_host_ports(ctx, owner_namespace=self.namespace, owner_release=self.release)

    def smoke(self, ctx: AddonContext) -> None:
        _ingress.smoke(ctx, self.name)
