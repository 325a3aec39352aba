"""``traefik``: the harness's ingress controller.

Traefik v3 (built here from its Go module: images/build-addons.sh) deployed by the project's own
chart ``harness/env/addons/charts/traefik`` (shipped in the package) with the Kubernetes Ingress NGINX provider, so Ingresses written for
ingress-nginx (class ``nginx``, ``nginx.ingress.kubernetes.io/*`` annotations) are served
unchanged. What the provider honours and what scenarios can rely on: docs/addons.md.

With the Gateway edge on (values ``gateway.enabled``: the session's ``edge`` is ``traefik-gateway``,
or ``settings={"traefik": {"gateway": True}}``) the same Traefik also runs its Kubernetes Gateway
provider: the add-on first installs the Gateway API CRDs vendored in
``harness/env/addons/charts/gateway-api-crds`` (release ``gateway-api-crds``, pinned
``GATEWAY_API_VERSION``), then the chart with a GatewayClass and the Gateway
:data:`harness.core.edges.ADDON_GATEWAY`, whose HTTP listener is the Ingresses' entrypoint (same
127.0.0.1 port); ready once the Gateway is ``Programmed``, smoke-checked through an HTTPRoute.

Its access log (values ``accessLog``: JSON lines on stdout, unbuffered, keeping the prober's
``X-Harness-Probe`` header) tells which pod served each probed request; :func:`access_log_pods`
names the pods to follow (harness/scenario/edge_log.py).
"""
from __future__ import annotations

from typing import Any, ClassVar

import yaml

from harness.core.edges import ADDON_GATEWAY, TRAEFIK_GATEWAY, GatewayRef
from harness.env.addons import smoke as _ingress
from harness.env.addons.engine import (
    ADDON_CHARTS,
    AddonContext,
    ChartSource,
    HelmAddon,
    check_host_ports,
    pinned,
    pinned_version,
)
from harness.k8s.wait import wait_for

CHART_DIR = ADDON_CHARTS / "traefik"
CRDS_CHART_DIR = ADDON_CHARTS / "gateway-api-crds"
GATEWAY_STATE = TRAEFIK_GATEWAY
"""``ctx.state`` key under which the add-on leaves the :class:`GatewayRef` it serves (absent: no Gateway edge)."""


def _chart_version(chart_dir: Any = CHART_DIR) -> str:
    return str(yaml.safe_load((chart_dir / "Chart.yaml").read_text())["version"])


def gateway_programmed(gateway: dict[str, Any] | None) -> tuple[bool, str]:
    """Whether a Gateway object (as the API returns it) is ``Programmed``, and what it says.

    Gateway API (``GatewayStatus.conditions``): ``Programmed`` True means the implementation has
    configured its data plane for the Gateway; it counts only when its ``observedGeneration`` is
    the object's current ``metadata.generation``. Traefik's provider sets it once every listener is
    accepted (pkg/provider/kubernetes/gateway/kubernetes.go ``makeGatewayStatus``); a listener whose
    port matches no entrypoint gets ``Accepted`` False, reason ``PortUnavailable``.

    Returns:
        ``(done, state)``: the state names the condition's status, reason and message, the
        listeners' failing conditions, or that no status was written (the provider is not running).
    """
    if gateway is None:
        return False, "the Gateway does not exist"
    generation = (gateway.get("metadata") or {}).get("generation")
    status = gateway.get("status") or {}
    conds = {c.get("type"): c for c in status.get("conditions") or []}
    prog = conds.get("Programmed")
    if prog is None or prog.get("reason") == "Pending":
        return False, ("no Programmed condition written yet: is the Kubernetes Gateway provider running? "
                       "(Traefik's log says why it is not, e.g. a missing CRD or RBAC right)")
    if generation is not None and prog.get("observedGeneration") not in (None, generation):
        return False, f"Programmed is for generation {prog.get('observedGeneration')}, the Gateway is at {generation}"
    bad = [f"listener {lst.get('name')}: {c.get('type')}={c.get('status')} ({c.get('reason')}: {c.get('message', '')})"
           for lst in status.get("listeners") or [] for c in lst.get("conditions") or []
           if c.get("status") != "True" and c.get("type") in ("Accepted", "Programmed", "ResolvedRefs")]
    state = f"Programmed={prog.get('status')} ({prog.get('reason')}: {prog.get('message', '')})"
    if bad:
        state += "; " + "; ".join(bad)
    return prog.get("status") == "True", state


class GatewayApiCrds(HelmAddon):
    """The Gateway API CRDs (standard channel) at ``GATEWAY_API_VERSION``, vendored from the Go
    module ``sigs.k8s.io/gateway-api`` into a chart of this project (images/vendor-gateway-api-crds.sh).
    Not an add-on of its own (not in the catalog): :class:`Traefik` installs it before its own chart
    when the Gateway edge is on, because the chart's GatewayClass and Gateway need the CRDs."""

    name: ClassVar[str] = "gateway-api-crds"
    summary: ClassVar[str] = "Gateway API CRDs, standard channel"
    namespace: ClassVar[str] = "harness-traefik"
    release: ClassVar[str] = "gateway-api-crds"
    chart: ClassVar[ChartSource] = ChartSource("dir", str(CRDS_CHART_DIR), "harness-gateway-api-crds",
                                               _chart_version(CRDS_CHART_DIR))

    def version(self, ctx: AddonContext) -> str:
        return pinned_version("GATEWAY_API_VERSION")


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
                              "annotations) on the ingress-ready node's ports 80/443; with the Gateway edge "
                              "also Gateway harness-traefik/harness (Kubernetes Gateway provider)")
    namespace: ClassVar[str] = "harness-traefik"
    release: ClassVar[str] = "traefik"
    chart: ClassVar[ChartSource] = ChartSource("dir", str(CHART_DIR), "harness-traefik", _chart_version())
    ingress: ClassVar[bool] = True

    def version(self, ctx: AddonContext) -> str:
        return pinned_version("TRAEFIK_VERSION")

    def default_values(self, ctx: AddonContext) -> dict[str, Any]:
        if ctx.effective_image_source() == "pull":  # the official image, pulled by the nodes
            ref = pinned().get("TRAEFIK_PULL_IMAGE", f"traefik:{self.version(ctx)}")
            repo, _, tag = ref.rpartition(":")
            vals: dict[str, Any] = {"image": {"repository": repo, "tag": tag}}
        else:
            vals = {"image": {"repository": "harness/traefik", "tag": self.version(ctx)}}
        if ctx.setting(self.name, "gateway"):
            vals["gateway"] = {"enabled": True}
        return vals

    def gateway(self, ctx: AddonContext) -> GatewayRef | None:
        """The Gateway this install serves (from the chart's values), None when the Gateway edge is off."""
        vals = self.values(ctx)
        chart = yaml.safe_load((CHART_DIR / "values.yaml").read_text()) or {}
        gw = {**(chart.get("gateway") or {}), **(vals.get("gateway") or {})}
        if not gw.get("enabled"):
            return None
        listener = {**((chart.get("gateway") or {}).get("listener") or {}), **(gw.get("listener") or {})}
        return GatewayRef(str(gw.get("name") or ADDON_GATEWAY.name), self.namespace,
                          str(listener.get("name") or ""))

    def preflight(self, ctx: AddonContext) -> None:
        super().preflight(ctx)
        check_host_ports(ctx, owner_namespace=self.namespace, owner_release=self.release)
        if self.gateway(ctx) is not None:
            GatewayApiCrds().check_chart_source(ctx)

    def decide(self, ctx: AddonContext) -> Any:
        """As a helm add-on; with the Gateway edge on, also ``upgrade`` when the CRD release is not
        deployed at the pinned version (its values carry the vendored chart's digest)."""
        action = super().decide(ctx)
        if action == "present" and self.gateway(ctx) is not None and GatewayApiCrds().decide(ctx) != "present":
            return "upgrade"
        return action

    def install(self, ctx: AddonContext) -> None:
        """The Gateway API CRDs first (Gateway edge on: the chart's GatewayClass and Gateway need
        them; helm waits until they are established), then Traefik's chart."""
        if self.gateway(ctx) is not None:
            GatewayApiCrds().install(ctx)
        super().install(ctx)

    def images(self, ctx: AddonContext) -> list[str]:
        vals = self.values(ctx)
        img = vals.get("image", {})
        return [f"{img.get('repository', 'harness/traefik')}:{img.get('tag') or self.version(ctx)}",
                _ingress.toolbox_image(ctx.effective_image_source())]

    def offline_hint(self) -> str:
        return "build them with `make images` (images/build-addons.sh traefik, images/build-toolbox.sh)"

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
        gateway = self.gateway(ctx)
        if gateway is None:
            ctx.state.pop(GATEWAY_STATE, None)
            return

        def programmed() -> tuple[bool, str]:
            return gateway_programmed(ctx.kubectl.get_json("gateway", gateway.name, "-n", gateway.namespace))

        wait_for(programmed, timeout=ctx.wait_timeout, interval=1.0,
                 what=f"{gateway.describe()} to be Programmed by Traefik's Kubernetes Gateway provider",
                 hint=(f"kubectl -n {self.namespace} logs deploy/{self.release} | grep -i gateway; "
                       f"kubectl -n {gateway.namespace} get gateway {gateway.name} -o yaml"))
        ctx.state[GATEWAY_STATE] = gateway

    def smoke(self, ctx: AddonContext) -> None:
        """The Ingress smoke check; with the Gateway edge on, the same through an HTTPRoute."""
        _ingress.smoke(ctx, self.name)
        gateway = self.gateway(ctx)
        if gateway is not None:
            _ingress.gateway_smoke(ctx, self.name, gateway)
