"""``cert-manager``: the release's own chart (vendored) plus a CA ClusterIssuer ``harness-ca``.

The chart, CRDs included, is cert-manager's ``deploy/charts/cert-manager`` at the pinned
``CERT_MANAGER_VERSION`` (harness/data/versions.env), vendored from the Go module
``github.com/cert-manager/cert-manager`` into ``harness/env/addons/charts/cert-manager`` by
images/vendor-cert-manager-chart.sh, so no chart repository is needed. Its images keep upstream's
names, ``quay.io/jetstack/cert-manager-{controller,webhook,cainjector}:<version>``: on a machine
without registries images/build-cert-manager.sh builds them from the same module (entry points of
this project in images/cert-manager, because upstream's ``cmd/*`` modules are not served by the Go
module proxy; docs/addons.md, "cert-manager"); a machine that can pull gets upstream's. Either fits.

After the chart is ready, the add-on creates

* ClusterIssuer ``harness-selfsigned`` (selfSigned),
* Certificate ``harness-ca`` in the cert-manager namespace (isCA, ECDSA P-256, issued by it),
* ClusterIssuer ``harness-ca`` (``ca.secretName: harness-ca``),

retrying while cert-manager's webhook does not answer yet (the chart's startupapicheck Job, which
would wait for it, is off: its image is not built here), and waits until ``harness-ca`` is Ready.
An Ingress annotated ``cert-manager.io/cluster-issuer: harness-ca`` (with ``spec.tls``) then gets a
certificate signed by that CA. The CA certificate is written to ``<artifacts>/harness-ca.crt``;
HTTPS probes verify against it (``requests.get(url, verify=ctx.state["cert-manager"])``).
"""
from __future__ import annotations

import base64
from pathlib import Path
from typing import Any, ClassVar

import yaml

from harness.core.errors import CommandError, WaitFailed
from harness.env.addons.engine import (
    ADDON_CHARTS,
    Addon,
    AddonContext,
    ChartSource,
    HelmAddon,
    check_images,
    pinned,
)
from harness.env.addons.smoke import SMOKE_NAMESPACE
from harness.k8s.client import is_transient
from harness.k8s.wait import wait_for

CHART_DIR = ADDON_CHARTS / "cert-manager"
NAMESPACE = "cert-manager"
SELFSIGNED_ISSUER = "harness-selfsigned"
CA_ISSUER = "harness-ca"
CA_SECRET = "harness-ca"
CA_FILE_NAME = "harness-ca.crt"
COMPONENTS = ("controller", "webhook", "cainjector")
"""The chart's deployments with the default values below (startupapicheck is off)."""


def version() -> str:
    """The pinned cert-manager release (``CERT_MANAGER_VERSION``): module, chart and image tag."""
    return pinned().get("CERT_MANAGER_VERSION", "v1.20.3")


def _chart_version() -> str:
    return str(yaml.safe_load((CHART_DIR / "Chart.yaml").read_text())["version"])


def images(v: str | None = None) -> list[str]:
    """The chart's images at version ``v`` (default the pin): ``quay.io/jetstack/cert-manager-<component>:<v>``."""
    return [f"quay.io/jetstack/cert-manager-{c}:{v or version()}" for c in COMPONENTS]


def webhook_not_ready(exc: BaseException) -> bool:
    """Whether an apply failed only because cert-manager's admission webhook does not answer yet.

    The chart registers the webhook (``webhook.cert-manager.io``) for cert-manager's kinds at
    install; until the webhook pod serves and cainjector has put its CA into the webhook
    configurations, the API server rejects those objects with "failed calling webhook" (connection
    refused, no endpoints, or an unknown certificate authority). Other errors are real.
    """
    text = f"{exc} {getattr(exc, 'stderr', '')}"
    return (isinstance(exc, CommandError) and "webhook.cert-manager.io" in text) or is_transient(exc)


def issuer_manifests(namespace: str = NAMESPACE) -> list[dict[str, Any]]:
    """The self-signed root, the CA Certificate and the CA ClusterIssuer ``harness-ca``.

    The CA's Secret lives in the cert-manager namespace: a ClusterIssuer reads its secret from the
    "cluster resource namespace", which defaults to the namespace cert-manager runs in.
    """
    labels = {"app.kubernetes.io/managed-by": "helm-e2e-harness"}
    return [
        {"apiVersion": "cert-manager.io/v1", "kind": "ClusterIssuer",
         "metadata": {"name": SELFSIGNED_ISSUER, "labels": labels},
         "spec": {"selfSigned": {}}},
        {"apiVersion": "cert-manager.io/v1", "kind": "Certificate",
         "metadata": {"name": CA_SECRET, "namespace": namespace, "labels": labels},
         "spec": {"isCA": True, "commonName": "helm-e2e-harness CA", "secretName": CA_SECRET,
                  "duration": "8760h", "privateKey": {"algorithm": "ECDSA", "size": 256},
                  "issuerRef": {"name": SELFSIGNED_ISSUER, "kind": "ClusterIssuer", "group": "cert-manager.io"}}},
        {"apiVersion": "cert-manager.io/v1", "kind": "ClusterIssuer",
         "metadata": {"name": CA_ISSUER, "labels": labels},
         "spec": {"ca": {"secretName": CA_SECRET}}},
    ]


def condition(obj: dict[str, Any] | None, kind: str = "Ready") -> tuple[str, str]:
    """``(status, message)`` of a cert-manager object's ``kind`` condition (``Unknown`` when absent)."""
    for c in ((obj or {}).get("status") or {}).get("conditions") or []:
        if c.get("type") == kind:
            return str(c.get("status")), str(c.get("message") or c.get("reason") or "")
    return "Unknown", "no condition yet"


class CertManager(HelmAddon):
    name: ClassVar[str] = "cert-manager"
    summary: ClassVar[str] = ("cert-manager (its release's chart, vendored; CRDs) with CA ClusterIssuer harness-ca; "
                              "its CA certificate is exported for TLS-verifying probes")
    namespace: ClassVar[str] = NAMESPACE
    release: ClassVar[str] = "cert-manager"
    chart: ClassVar[ChartSource] = ChartSource("dir", str(CHART_DIR), "cert-manager", _chart_version())

    def values(self, ctx: AddonContext) -> dict[str, Any]:
        """The defaults merged with the session's overrides, without HelmAddon's ``harnessChartDigest``:
        the vendored chart's values.schema.json allows no unknown top-level key, and its content is
        fixed by the pinned version (tests/unit/test_certmanager.py checks the two agree)."""
        return Addon.values(self, ctx)

    def default_values(self, ctx: AddonContext) -> dict[str, Any]:
        return {
            "crds": {"enabled": True, "keep": False},
            # startupapicheck (a post-install Job that waits until the webhook answers) is off: its
            # image is not built here. ready() does that wait itself (webhook_not_ready).
            "startupapicheck": {"enabled": False},
            "prometheus": {"enabled": False},
            "global": {"leaderElection": {"namespace": NAMESPACE}},
        }

    def images(self, ctx: AddonContext) -> list[str]:
        return images(self.chart.version)

    def offline_hint(self) -> str:
        return ("build them from the Go module with `images/build-cert-manager.sh` (part of `make images`), "
                "or pull them on a machine with registry access")

    def preflight(self, ctx: AddonContext) -> None:
        check_images(ctx, [self])     # the clearer message on a registry-less machine comes first
        super().preflight(ctx)

    def ready(self, ctx: AddonContext) -> None:
        """Apply the issuers (retried while the webhook does not answer), wait until ClusterIssuer
        harness-ca is Ready, export the CA."""

        def applied() -> tuple[bool, str]:
            ctx.kubectl.apply(issuer_manifests())
            return True, "applied"

        wait_for(applied, timeout=ctx.wait_timeout, interval=2.0, transient=webhook_not_ready,
                 what="cert-manager's webhook admits the harness issuers",
                 hint=f"kubectl -n {NAMESPACE} logs deploy/cert-manager-webhook; kubectl -n {NAMESPACE} "
                      "logs deploy/cert-manager-cainjector")

        def issuer_ready() -> tuple[bool, str]:
            status, msg = condition(ctx.kubectl.get_json("clusterissuer", CA_ISSUER))
            return status == "True", f"ClusterIssuer {CA_ISSUER} Ready={status}: {msg}"

        wait_for(issuer_ready, timeout=ctx.wait_timeout, interval=2.0,
                 what=f"ClusterIssuer {CA_ISSUER} Ready",
                 hint=f"kubectl -n {NAMESPACE} describe certificate {CA_SECRET}")
        ctx.state[self.name] = export_ca(ctx)

    def smoke(self, ctx: AddonContext) -> None:
        """A Certificate issued by harness-ca becomes Ready and its Secret chains to the exported CA."""

        name = "harness-smoke-cert"
        ctx.kubectl.apply([
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": SMOKE_NAMESPACE}},
            smoke_certificate(name, SMOKE_NAMESPACE),
        ])

        def cert_ready() -> tuple[bool, str]:
            obj = ctx.kubectl.get_json("certificate", "-n", SMOKE_NAMESPACE, name)
            status, msg = condition(obj)
            if status == "False" and "Failed" in msg:
                raise WaitFailed(f"certificate {name}: {msg}")
            return status == "True", f"Certificate {name} Ready={status}: {msg}"

        try:
            wait_for(cert_ready, timeout=ctx.wait_timeout, interval=1.0,
                     what=f"Certificate {SMOKE_NAMESPACE}/{name} issued by {CA_ISSUER}")
            secret = ctx.kubectl.get_json("secret", "-n", SMOKE_NAMESPACE, name) or {}
            ca = base64.b64decode((secret.get("data") or {}).get("ca.crt", "")).decode()
            exported = Path(ctx.state[self.name]).read_text()
            if ca.strip() != exported.strip():
                raise WaitFailed(f"certificate {name} was not signed by the exported CA {ctx.state[self.name]}")
        finally:
            ctx.kubectl.delete("-n", SMOKE_NAMESPACE, "certificate", name)
            ctx.kubectl.delete("-n", SMOKE_NAMESPACE, "secret", name)


def smoke_certificate(name: str, namespace: str, dns_name: str = "smoke.harness.test") -> dict[str, Any]:
    return {"apiVersion": "cert-manager.io/v1", "kind": "Certificate",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"secretName": name, "dnsNames": [dns_name], "duration": "24h",
                     "issuerRef": {"name": CA_ISSUER, "kind": "ClusterIssuer", "group": "cert-manager.io"}}}


def export_ca(ctx: AddonContext) -> Path:
    """Write the CA certificate (PEM) of ``harness-ca`` to ``<artifacts>/harness-ca.crt``; return its path."""
    secret = ctx.kubectl.get_json("secret", "-n", NAMESPACE, CA_SECRET) or {}
    data = (secret.get("data") or {}).get("ca.crt") or (secret.get("data") or {}).get("tls.crt")
    if not data:
        raise WaitFailed(f"secret {NAMESPACE}/{CA_SECRET} has no ca.crt")
    path = Path(ctx.artifacts_dir) / CA_FILE_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(base64.b64decode(data).decode())
    return path
