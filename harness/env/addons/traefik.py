"""``traefik``: the harness's ingress controller.

Traefik v3 (built here from its Go module: images/build-addons.sh) deployed by the project's own
chart ``harness/env/addons/charts/traefik`` (shipped in the package) with the Kubernetes Ingress NGINX provider, so Ingresses written for
ingress-nginx (class ``nginx``, ``nginx.ingress.kubernetes.io/*`` annotations) are served
unchanged. What the provider honours and what scenarios can rely on: docs/addons.md.

Its access log (values ``accessLog``: JSON lines on stdout, unbuffered, keeping the prober's
``X-Harness-Probe`` header) tells which pod served each probed request; :func:`access_log_pods`
names the pods to follow (harness/scenario/edge_log.py).
"""
from __future__ import annotations

from typing import Any, ClassVar

import yaml

from harness.env.addons import smoke as _ingress
from harness.env.addons.engine import (
    ADDON_CHARTS,
    AddonContext,
    ChartSource,
    HelmAddon,
    check_host_ports,
    pinned_version,
)
from harness.k8s.wait import wait_for

CHART_DIR = ADDON_CHARTS / "traefik"


def _chart_version() -> str:
    return str(yaml.safe_load((CHART_DIR / "Chart.yaml").read_text())["version"])


def image(version: str | None = None) -> str:
    """``harness/traefik:<TRAEFIK_VERSION>`` (built by images/build-addons.sh)."""
    return f"harness/traefik:{version or pinned_version('TRAEFIK_VERSION')}"


def access_log_pods() -> tuple[str, str]:
    """``(namespace, label selector)`` of the Traefik pods whose stdout carries the access log
    (the chart's selector labels, harness/env/addons/charts/traefik/templates/_helpers.tpl)."""
    return Traefik.namespace, f"app.kubernetes.io/name=traefik,app.kubernetes.io/instance={Traefik.release}"


def upstream_read_timeout(ctx: Any = None) -> float | None:
    """The idle timeout Traefik applies to an Ingress without ``proxy-read-timeout``: the chart's
    ``upstream.readTimeout`` (seconds; harness/env/addons/charts/traefik/values.yaml), overridden by the
    session's ``addon_values: {traefik: {upstream: {readTimeout: ...}}}`` when ``ctx`` (an
    :class:`AddonContext`) carries one. None when neither gives a number."""
    chart = yaml.safe_load((CHART_DIR / "values.yaml").read_text()) or {}
    value = (chart.get("upstream") or {}).get("readTimeout")
    setting = getattr(ctx, "setting", None)
    override = setting("traefik", "values") if callable(setting) else None
    if isinstance(override, dict):
        value = (override.get("upstream") or {}).get("readTimeout", value)
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


class Traefik(HelmAddon):
    name: ClassVar[str] = "traefik"
    summary: ClassVar[str] = ("Traefik v3 ingress controller serving IngressClass nginx (ingress-nginx "
                              "annotations) on the ingress-ready node's ports 80/443")
    namespace: ClassVar[str] = "harness-traefik"
    release: ClassVar[str] = "traefik"
    chart: ClassVar[ChartSource] = ChartSource("dir", str(CHART_DIR), "harness-traefik", _chart_version())
    ingress: ClassVar[bool] = True

    def version(self, ctx: AddonContext) -> str:
        return pinned_version("TRAEFIK_VERSION")

    def default_values(self, ctx: AddonContext) -> dict[str, Any]:
        return {"image": {"repository": "harness/traefik", "tag": self.version(ctx)}}

    def images(self, ctx: AddonContext) -> list[str]:
        vals = self.values(ctx)
        img = vals.get("image", {})
        return [f"{img.get('repository', 'harness/traefik')}:{img.get('tag') or self.version(ctx)}",
                _ingress.TOOLBOX_IMAGE]

    def offline_hint(self) -> str:
        return "build them with `make images` (images/build-addons.sh traefik, images/build-toolbox.sh)"

    def preflight(self, ctx: AddonContext) -> None:
        super().preflight(ctx)
        check_host_ports(ctx, owner_namespace=self.namespace, owner_release=self.release)

    def ready(self, ctx: AddonContext) -> None:
        """The Deployment is available (helm --wait saw that) and the IngressClass points at the
        controller value the provider watches."""
        cls = self.values(ctx).get("ingressClass", {})
        name = cls.get("name", "nginx")
        want = cls.get("controller", "k8s.io/ingress-nginx")

        def check() -> tuple[bool, str]:
            ic = ctx.kubectl.get_json("ingressclass", name)
            if ic is None:
                return False, f"IngressClass {name} missing"
            got = ic.get("spec", {}).get("controller")
            return got == want, f"IngressClass {name} controller {got}"

        wait_for(check, timeout=ctx.wait_timeout, interval=1.0, what=f"IngressClass {name} for traefik")

    def smoke(self, ctx: AddonContext) -> None:
        _ingress.smoke(ctx, self.name)
